// The gate in the reports: a baseline whose gate numbers are not finite is refused naming the row;
// an errored row and a baseline from another machine are shown by every renderer.
import { describe, expect, it } from 'vitest';
import { isRecord } from '../guards.ts';
import { CONV_ID, fixtureReport } from './fixture.ts';
import { renderHtml } from './html.ts';
import { parseReport, ReportFormatError, serializeReport } from './json.ts';
import { renderJunit } from './junit.ts';
import { renderMarkdown, summarize } from './markdown.ts';
import { gatePassed, type Report } from './types.ts';

/** The fixture as JSON text with its first gate row changed (as plain JSON, so any value can go in). */
function withRow(change: (row: Record<string, unknown>) => void): string {
  const o: unknown = JSON.parse(serializeReport(fixtureReport()));
  const rows: unknown = isRecord(o) && isRecord(o.gate) ? o.gate.rows : undefined;
  const row: unknown = Array.isArray(rows) ? rows[0] : undefined;
  if (!isRecord(row)) throw new Error('fixture has no gate rows');
  change(row);
  return JSON.stringify(o);
}

function rejection(text: string): string {
  try {
    parseReport(text, 'baseline.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ReportFormatError);
    return e instanceof Error ? e.message : '';
  }
  throw new Error('parseReport accepted it');
}

const ROW = `in the row of case ${JSON.stringify(CONV_ID)} forward, candidate "im2col" vs "tfjs-cpu"`;

describe('parseReport on gate numbers', () => {
  it('refuses rounds that are not finite numbers, naming the row', () => {
    // JSON.stringify writes NaN as null; serializeReport as "NaN", which the reader turns back into NaN.
    expect(JSON.stringify([Number.NaN])).toBe('[null]');
    for (const bad of [null, 'NaN', 'Infinity', '-Infinity', 'fast', true, {}]) {
      const message = rejection(withRow((row) => { row.logRatios = [[-1.07, bad], [-1.08, -1.05]]; }));
      expect(message, JSON.stringify(bad)).toMatch(/^baseline\.json: gate\.rows\[0\]\.logRatios\[0\]\[1\]: expected a finite number, got /);
      expect(message).toContain(ROW);
      expect(message).not.toMatch(/\n/);
    }
  });

  it('refuses a row without processes, or with a process without rounds', () => {
    expect(rejection(withRow((row) => { row.logRatios = []; }))).toMatch(/gate\.rows\[0\]\.logRatios: no processes/);
    expect(rejection(withRow((row) => { row.logRatios = [[-1.07], []]; }))).toMatch(/gate\.rows\[0\]\.logRatios\[1\]: a process with no rounds/);
    expect(rejection(withRow((row) => { delete row.logRatios; }))).toMatch(/gate\.rows\[0\]\.logRatios: expected an array, got missing/);
  });

  it('refuses a non-finite or missing estimate, interval, baseline or threshold', () => {
    for (const key of ['estimate', 'low', 'high', 'baseline', 'threshold']) {
      for (const bad of [null, 'NaN', 'Infinity', 'x']) {
        const message = rejection(withRow((row) => { row[key] = bad; }));
        expect(message).toMatch(new RegExp(`gate\\.rows\\[0\\]\\.${key}: expected a finite number`));
        expect(message).toContain(ROW);
      }
    }
    expect(rejection(withRow((row) => { delete row.estimate; }))).toMatch(/estimate: expected a finite number, got missing/);
    expect(rejection(withRow((row) => { row.threshold = 0; }))).toMatch(/threshold: expected a positive fraction/);
  });

  it('reads an errored row back, and wants its error', () => {
    const r = erroredReport();
    expect(parseReport(serializeReport(r), 'x.json')).toEqual(r);
    expect(rejection(withRow((row) => { row.verdict = 'errored'; }))).toMatch(/gate\.rows\[0\]\.error: expected a string, got missing/);
  });
});

/** The fixture with a gate that otherwise passes, except one pair that crashed while timed, against a baseline from elsewhere. */
function erroredReport(): Report {
  const r = fixtureReport();
  const gate = r.gate;
  if (!gate) throw new Error('fixture has no gate');
  r.gate = {
    ...gate, regressions: [], ok: true,
    foreignBaseline: ['CPU: baseline "Intel Xeon", now "AMD EPYC 7763 64-Core Processor"', 'onnxruntime-node: baseline 1.22.0, now 1.23.0'],
    rows: [
      gate.rows[0],
      { caseId: 'crash <case>', computation: 'forward', candidate: 'im2col', reference: 'tfjs-cpu', threshold: 0.1, verdict: 'errored', error: 'gate process 2 of 3 exited with SIGSEGV & <more>' },
    ],
  };
  return r;
}

describe('renderers on an errored gate row and a foreign baseline', () => {
  const r = erroredReport();

  it('an errored row fails the gate even when marked ok', () => {
    expect(r.gate && gatePassed(r.gate)).toBe(false);
    expect(summarize(r).ok).toBe(false);
  });

  it('markdown', () => {
    const text = renderMarkdown(r);
    expect(text).toContain('### ❌ Speed gate');
    expect(text).toContain('1 errored pair');
    expect(text).toContain('**Errored while timed** (fails the gate):\n\n- 💥 **im2col** vs tfjs-cpu on crash &lt;case&gt; (forward): gate process 2 of 3 exited with SIGSEGV &amp; &lt;more&gt;\n');
    expect(text).toMatch(/\| crash &lt;case&gt; \| forward \| im2col \| tfjs-cpu \| — \| — \| — \| 💥 errored \|/);
    expect(text).toContain('⚠️ **Warning:** the baseline was recorded on another machine');
    expect(text).toContain('onnxruntime-node: baseline 1.22.0, now 1.23.0');
  });

  it('html', () => {
    const page = renderHtml(r);
    expect(page).toContain('Errored while timed');
    expect(page).toContain('gate process 2 of 3 exited with SIGSEGV &amp; &lt;more&gt;');
    expect(page).toMatch(/<td class="fail">errored<\/td>/);
    expect(page).toContain('<b>Warning:</b> the baseline was recorded on another machine');
    expect(page).not.toContain('<case>');
  });

  it('junit', () => {
    const xml = renderJunit(r);
    const gate = /<testsuite name="speed gate" [^>]*>[\s\S]*?<\/testsuite>/.exec(xml)?.[0] ?? '';
    expect(gate).toContain('errors="1"');
    expect(gate).toContain('<error message="im2col vs tfjs-cpu: errored while timed: gate process 2 of 3 exited with SIGSEGV &amp; &lt;more&gt;" type="errored">');
    expect(gate).toContain('<property name="warning: foreign baseline" value="onnxruntime-node: baseline 1.22.0, now 1.23.0"/>');
    expect(gate).toMatch(/<system-err>warning: the baseline was recorded on another machine[^<]*<\/system-err>/);
  });
});
