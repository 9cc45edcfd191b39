// The HTML page's structure, as text: every failure (the speed gate's included) in the one Failures
// section, timing charts on a log scale with the fastest called out and ratios in words.
import { describe, expect, it } from 'vitest';
import { CONV_ID, fixtureReport } from './fixture.ts';
import { logAxis, renderHtml } from './html.ts';
import { failureCount } from './markdown.ts';
import type { GateRow, Report, Timing } from './types.ts';

/** One <section> of the page, by id. */
const sectionOf = (page: string, id: string): string =>
  [...page.matchAll(/<section id="([^"]+)">[\s\S]*?<\/section>/g)].find((m) => m[1] === id)?.[0] ?? '';

/** The charts of a page, each with its bars' engine, time and drawn width. */
function charts(page: string): { caption: string; bars: { engine: string; ms: number; width: number; fastest: boolean }[]; labels: string[] }[] {
  return [...page.matchAll(/<figure class="chart">([\s\S]*?)<\/figure>/g)].map((m) => ({
    caption: /<figcaption>([\s\S]*?)<\/figcaption>/.exec(m[1])?.[1] ?? '',
    bars: [...m[1].matchAll(/<rect class="bar [^"]*?( fastest)?" data-engine="([^"]*)" data-ms="([^"]*)" x="[^"]*" y="[^"]*" width="([^"]*)"/g)]
      .map((b) => ({ engine: b[2], ms: Number(b[3]), width: Number(b[4]), fastest: b[1] !== undefined })),
    labels: [...m[1].matchAll(/<text class="value[^"]*"[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]),
  }));
}

const slowerRow: GateRow = {
  caseId: CONV_ID, computation: 'forward', candidate: 'im2col', reference: 'tfjs-cpu', threshold: 0.1, verdict: 'slower',
  logRatios: [[0.3, 0.31], [0.29, 0.3], [0.3, 0.32]], estimate: 0.3, low: 0.25, high: 0.35, baseline: 0.1,
};

/** The fixture with nothing failing but one slower pair of its gate. */
function gateOnly(): Report {
  const r = fixtureReport();
  r.results = r.results.filter((x) => x.kind === 'oracle' || x.state === 'passed');
  r.caseErrors = [];
  r.gate = { mode: 'baseline', baselineName: 'main', regressions: [], stillFailing: [], rows: [slowerRow], ok: false };
  return r;
}

function measured(engine: string, medianMs: number, fastestMs: number): Timing {
  return {
    caseId: CONV_ID, computation: 'forward', engine, kind: 'oracle', threads: 1, processes: 1, state: 'measured', samplesMs: [medianMs],
    medianMs, p99Ms: medianMs, meanMs: medianMs, rmePercent: 1, throughput: 1 / medianMs, throughputUnit: 'GFLOP/s', ratioToFastest: medianMs / fastestMs,
  };
}

describe('html failures', () => {
  it('lists check failures and the gate\'s failures in the one Failures section', () => {
    const r = fixtureReport();
    const page = renderHtml(r);
    const failures = sectionOf(page, 'failures');
    expect(failures).toContain(`<h2>Failures (${failureCount(r)})</h2>`);
    expect(failureCount(r)).toBe(6); // 3 checks, 1 case file, 1 slower pair, 1 regression
    expect(failures.match(/<article class="failure gate">/g)).toHaveLength(2);
    expect(failures).toMatch(/<span class="tag">SLOWER<\/span> naive <span class="muted">vs<\/span> tfjs-wasm/);
    expect(failures).toContain('+235.3% against the baseline');
    expect(failures).toContain('<span class="tag">REGRESSION</span>');
    // The gate section keeps its table, and points to the failures instead of listing them again.
    const gate = sectionOf(page, 'gate');
    expect(gate).not.toContain('<article');
    expect(gate).toContain('<a href="#failures">Failures</a>');
  });

  it('never says "Failures (0)" when the gate failed', () => {
    const page = renderHtml(gateOnly());
    const failures = sectionOf(page, 'failures');
    expect(failures).toContain('<h2>Failures (1)</h2>');
    expect(failures).toMatch(/<span class="tag">SLOWER<\/span> im2col/);
    expect(page).not.toContain('Failures (0)');
  });

  it('lists an errored gate pair and a still-failing case there too', () => {
    const r = gateOnly();
    const gate = r.gate;
    if (!gate) throw new Error('no gate');
    r.gate = { ...gate, stillFailing: ['views: x forward'], rows: [{ ...slowerRow, verdict: 'errored', error: 'SIGSEGV & <more>' }] };
    const failures = sectionOf(renderHtml(r), 'failures');
    expect(failures).toContain('<h2>Failures (2)</h2>');
    expect(failures).toContain('Errored while timed (fails the speed gate): <code>SIGSEGV &amp; &lt;more&gt;</code>');
    expect(failures).toContain('<span class="tag">STILL FAILING</span> <span class="mono">views: x forward</span>');
  });
});

describe('html timing charts', () => {
  it('draw median times on a log scale: 100x apart in time is far less than 100x apart in length, both long', () => {
    const conv = charts(renderHtml(fixtureReport()))[0];
    const ort = conv.bars.find((b) => b.engine === 'ort');
    const cpu = conv.bars.find((b) => b.engine === 'tfjs-cpu');
    if (!ort || !cpu) throw new Error('missing bars');
    expect(cpu.ms / ort.ms).toBeGreaterThan(90);
    expect(ort.width).toBeGreaterThanOrEqual(20);
    expect(cpu.width / ort.width).toBeGreaterThan(1.5);
    expect(cpu.width / ort.width).toBeLessThan(10);
  });

  it('keep every bar readable at a 10,000x spread', () => {
    const r = fixtureReport();
    r.timings = [measured('ort', 0.05, 0.05), measured('tfjs-cpu', 5, 0.05), measured('tfjs-wasm', 500, 0.05)];
    const [chart] = charts(renderHtml(r));
    expect(chart.bars.map((b) => b.engine)).toEqual(['ort', 'tfjs-cpu', 'tfjs-wasm']);
    for (const b of chart.bars) expect(b.width).toBeGreaterThanOrEqual(15);
    const [a, b, c] = chart.bars.map((x) => x.width);
    expect(b - a).toBeCloseTo(c - b, 0); // equal steps for equal ratios
  });

  it('call out the fastest engine, and label every other ratio in words', () => {
    for (const chart of charts(renderHtml(fixtureReport()))) {
      expect(chart.bars.filter((b) => b.fastest).map((b) => b.engine)).toEqual([chart.bars[0].engine]);
      expect(chart.bars[0].width).toBe(Math.min(...chart.bars.map((b) => b.width)));
      expect(chart.caption).toContain(`fastest: <b>${chart.bars[0].engine}</b>`);
      expect(chart.labels[0]).toMatch(/ · fastest$/);
      for (const l of chart.labels.slice(1)) expect(l).toMatch(new RegExp(`· \\d+(\\.\\d+)?x slower than ${chart.bars[0].engine}$`));
    }
    expect(sectionOf(renderHtml(fixtureReport()), 'timings')).not.toMatch(/\(\d+(\.\d+)?x\)/); // no bare "(44x)"
  });

  it('logAxis spans whole decades, from below half the fastest time', () => {
    expect(logAxis([0.612, 61.2])).toEqual({ lo: 0.1, hi: 100 });
    expect(logAxis([1.21, 4.1])).toEqual({ lo: 0.1, hi: 10 });
    expect(logAxis([10, 10])).toEqual({ lo: 1, hi: 10 });
  });

  it('a time of 0 ms cannot stretch the log axis to zero (which would never end)', () => {
    expect(logAxis([0, 5])).toEqual({ lo: 1, hi: 10 });
    expect(logAxis([0]).lo).toBe(1e-6);
    expect(logAxis([0]).hi).toBeCloseTo(1e-5, 12);
    const r = fixtureReport();
    const t = r.timings.find((x) => x.state === 'measured');
    if (t?.state !== 'measured') throw new Error('the fixture has a measured timing');
    t.medianMs = 0;
    expect(renderHtml(r)).toContain('<svg');
  });
});
