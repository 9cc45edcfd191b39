// The Markdown report as a PR comment: the summary and every failure first (the speed gate's
// included), long tables folded into <details>, ratios in words, and footnotes that state the
// processes and threads the report's own rows record.
import { describe, expect, it } from 'vitest';
import { CONV_ID, EVIL_ID, fixtureReport } from './fixture.ts';
import { renderMarkdown } from './markdown.ts';
import type { GateRow, MeasuredGateRow, Report } from './types.ts';

/** The text of the section that starts with `heading`, up to the next heading of the same level. */
function section(text: string, heading: string): string {
  const at = text.indexOf(heading);
  if (at < 0) throw new Error(`no ${heading}`);
  const level = /^#+ /.exec(heading)?.[0] ?? '### ';
  const next = text.indexOf(`\n${level}`, at + heading.length);
  return text.slice(at, next < 0 ? undefined : next);
}

/** The <details> blocks of a text, each from its <summary> to </details>. */
const detailsBlocks = (text: string): string[] => [...text.matchAll(/<details><summary>[^<]+<\/summary>[\s\S]*?<\/details>/g)].map((m) => m[0]);

/** A measured gate row with the given rounds per process. */
function row(candidate: string, processes: number, verdict: MeasuredGateRow['verdict'] = 'unchanged'): MeasuredGateRow {
  return {
    caseId: CONV_ID, computation: 'forward', candidate, reference: 'tfjs-cpu', threshold: 0.1, verdict,
    logRatios: Array.from({ length: processes }, () => [0.01, 0.02]), estimate: 0.01, low: -0.02, high: 0.03, baseline: 0,
  };
}

/** The fixture with nothing failing but its gate, which has the given rows. */
function gateOnly(rows: GateRow[], extra: Partial<NonNullable<Report['gate']>> = {}): Report {
  const r = fixtureReport();
  r.results = r.results.filter((x) => x.kind === 'oracle' || x.state === 'passed');
  r.caseErrors = [];
  r.gate = { mode: 'baseline', baselineName: 'main', regressions: [], stillFailing: [], rows, ok: !rows.some((x) => x.verdict === 'slower'), ...extra };
  return r;
}

describe('markdown layout', () => {
  const text = renderMarkdown(fixtureReport());

  it('opens with the summary, then Failures before every other section', () => {
    const headings = [...text.matchAll(/^###? .*$/gm)].map((m) => m[0]);
    expect(headings[0]).toMatch(/^## ❌ convbench report/);
    expect(headings[1]).toBe('### ❌ Failures (6)');
    expect(text.indexOf('**Implementations:**')).toBeLessThan(text.indexOf('### ❌ Failures'));
  });

  it('folds the long tables into <details> with a summary line', () => {
    const blocks = detailsBlocks(text);
    expect(blocks.map((b) => /<summary>([^<]+)<\/summary>/.exec(b)?.[1])).toEqual([
      'Gate table (2 pairs)', 'Timing table (2 case computations, 7 timings, fastest first)', 'All results (3 case computations x 6 engines)',
    ]);
    expect(blocks[0]).toContain('| Case | Computation | Candidate | Reference | Estimate |');
    expect(blocks[1]).toContain('| Case | Computation | Engine | Median ms |');
    expect(blocks[2]).toContain('| Case | Computation | naive | im2col |');
    // No table outside a <details> block.
    const outside = detailsBlocks(text).reduce((t, b) => t.replace(b, ''), text);
    expect(outside).not.toMatch(/^\|/m);
  });

  it('keeps a short, visible line per bench case: the fastest and how far behind the others are', () => {
    const timings = section(text, '### Timings');
    expect(timings).toContain('(forward): fastest **ort** (0.612 ms), then im2col 34.5x slower, tfjs-cpu 100x slower');
    expect(timings).toContain('(forward): fastest **tfjs-wasm** (1.21 ms), then naive 3.39x slower');
  });

  it('labels every ratio in words and marks the fastest', () => {
    expect(text).toMatch(/\| ort \| 0\.612 \| 0\.700 \| ±1\.7% \| [\d.]+ GFLOP\/s \| \*\*fastest\*\* \|/);
    expect(text).toMatch(/\| im2col \| 21\.1 \| 22\.8 \| ±1\.7% \| [\d.]+ GFLOP\/s \| 34\.5x slower than ort \|/);
    expect(text).not.toMatch(/\| \d+(\.\d+)?x \| \d+(\.\d+)?x \|/); // the old bare "x fastest" column
  });

  it('puts an engine without a time in a numbered note under the timing table', () => {
    const table = detailsBlocks(text)[1];
    expect(table).toMatch(/\| ort \| n\/a \\\[(\d)\\\] \|/);
    const n = /\| ort \| n\/a \\\[(\d)\\\] \|/.exec(table)?.[1];
    expect(table).toContain(`\\[${n}\\] n/a for ort: MaxPool cannot skip NaN`);
    expect(table).toMatch(/\| tfjs-wasm \| errored \\\[\d\\\] \|/);
  });
});

describe('markdown failures', () => {
  it('lists the gate\'s slower pairs and regressions under Failures, after the failing checks', () => {
    const failures = section(renderMarkdown(fixtureReport()), '### ❌ Failures');
    const gate = section(failures, '#### Speed gate');
    expect(gate).toContain('#### Speed gate (2)');
    expect(gate).toContain(`❌ **naive** vs tfjs-wasm on &lt;img src=x onerror=alert(1)&gt; &amp; \\| maxpool2d`);
    expect(gate).toContain('+235.3% against the baseline (95% interval +228.7% … +249.0%; threshold +10%)');
    expect(gate).toMatch(/\*\*Regressions\*\* \(passed in the baseline, fail now\):\n\n- &lt;img src=x/);
    expect(failures.indexOf('#### Checks (3)')).toBeLessThan(failures.indexOf('#### Speed gate'));
    expect(failures).toContain('#### Case files (1)');
  });

  it('has a Failures section when the gate is the only thing that failed', () => {
    const text = renderMarkdown(gateOnly([row('im2col', 3, 'slower'), { ...row('naive', 3), verdict: 'errored', error: 'SIGSEGV in process 2' }]));
    const failures = section(text, '### ❌ Failures');
    expect(failures).toContain('### ❌ Failures (2)');
    expect(failures).toContain('❌ **im2col** vs tfjs-cpu');
    expect(failures).toContain('💥 **naive** vs tfjs-cpu');
    expect(failures).not.toContain('#### Checks');
  });

  it('has none when nothing failed', () => {
    expect(renderMarkdown(gateOnly([row('im2col', 3)]))).not.toContain('Failures');
  });

  it('lists an implementation that errored while timed under Failures', () => {
    const r = gateOnly([row('im2col', 3)]);
    r.timings = [...r.timings, { caseId: CONV_ID, computation: 'forward', engine: 'naive', kind: 'implementation', threads: 1, processes: 1, state: 'errored', error: 'timed out after 60 s' }];
    expect(section(renderMarkdown(r), '### ❌ Failures')).toContain('- 💥 **naive** on resnet50 conv2d x=\\[1,64,56,56\\] w=\\[64,64,3,3\\] s=1 p=SAME\\_UPPER (forward): errored while timed: timed out after 60 s');
  });
});

describe('markdown footnotes state what the rows record', () => {
  const gateNote = (r: Report) => /<sub>(Estimate: [^<]*)<\/sub>/.exec(renderMarkdown(r))?.[1] ?? '';
  const timingNote = (r: Report) => /<sub>(Median time per call[^<]*)<\/sub>/.exec(renderMarkdown(r))?.[1] ?? '';

  it('counts the gate\'s processes from its rows, this run\'s and not a fixed guess', () => {
    expect(gateNote(fixtureReport())).toContain('Measured in this run: 2 processes per pair.');
    const mixed = gateNote(gateOnly([row('im2col', 3), row('naive', 3), row('views', 6, 'slower')]));
    expect(mixed).toContain('Measured in this run: 3 processes for 2 pairs, 6 processes for 1 pair (a pair first judged slower is measured again');
    expect(mixed).not.toMatch(/3 or 6/);
    expect(mixed).toContain('The baseline\'s rows were measured in their own processes, which this report does not count (see the baseline report "main").');
    const recorded = gateNote(gateOnly([row('im2col', 10), row('naive', 10)], { baselineName: undefined }));
    expect(recorded).toContain('Recorded as a baseline: 10 processes per pair.');
    expect(recorded).not.toContain('this report does not count');
    const withBaseline = gateNote(gateOnly([{ ...row('im2col', 3), baselineProcesses: 10 }, { ...row('naive', 3), baselineProcesses: 10 }]));
    expect(withBaseline).toContain('Measured in this run: 3 processes per pair. The baseline "main" measured its rows in 10 processes.');
  });

  it('states each gated engine\'s threads as recorded', () => {
    const r = gateOnly([row('im2col', 3)]);
    r.oracles = r.oracles.map((o) => (o.name === 'tfjs-cpu' ? { ...o, threads: 2 } : o));
    expect(gateNote(r)).toContain('Threads: im2col 1, tfjs-cpu 2.');
    r.timings = r.timings.filter((t) => t.engine !== 'im2col');
    expect(gateNote(r)).toContain('Threads: im2col not recorded, tfjs-cpu 2.');
  });

  it('states the timings\' processes and threads as each timing records them', () => {
    expect(timingNote(fixtureReport())).toContain('timed in 1 process per engine; 1 thread per engine except tfjs-wasm 4');
    const r = fixtureReport();
    r.timings = r.timings.map((t) => ({ ...t, processes: t.engine === 'naive' ? 5 : 3 }));
    expect(timingNote(r)).toContain('timed in 3 processes per engine except naive 5 (samples pooled); 1 thread per engine except tfjs-wasm 4');
    r.timings = r.timings.map((t) => ({ ...t, processes: 1, threads: 2 }));
    expect(timingNote(r)).toContain('timed in 1 process per engine; 2 threads per engine');
  });
});

it('markdown keeps EVIL_ID escaped in the new sections', () => {
  const text = renderMarkdown(fixtureReport());
  expect(text).not.toContain(EVIL_ID);
  expect(text).not.toContain('<img');
});
