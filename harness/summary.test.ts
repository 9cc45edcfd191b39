// The console summary and the progress line cannot be hijacked by what a case, a module or a
// report says: no raw control character reaches the terminal, no printed line starts a CI command.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { progress } from './progress.ts';
import { fixtureReport } from './report/fixture.ts';
import type { Report } from './report/types.ts';
import { printGate, printSummary } from './summary.ts';

const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const CI_COMMAND = /^\s*(::|##)|##vso\[|##\[/;

const TITLE = 'pool \x1b]0;pwned\x07';
const CLEAR = 'conv \x1b[2J\x1b[H';
const GITHUB = '::error file=x::pwned';
const AZURE = '##vso[task.setvariable variable=x]1';
const MULTILINE = 'RangeError: offset is out of bounds\n::error::pwned\n    at kernel (evil.ts:1:1)\r##[set-env name=x]1';
const BIDI = 'naive\u202e\u2066';

/** A report in which every string a case, a module or a report supplies is hostile. */
function hostileReport(): Report {
  const r = fixtureReport();
  r.cases = r.cases.map((c, i) => ({ ...c, id: i ? TITLE : CLEAR, name: GITHUB }));
  const ids = new Map(fixtureReport().cases.map((c, i) => [c.id, i ? TITLE : CLEAR]));
  const id = (x: string) => ids.get(x) ?? x;
  r.implementations = r.implementations.map((x, i) => ({ ...x, name: [GITHUB, AZURE, BIDI][i] ?? x.name }));
  const names = new Map(fixtureReport().implementations.map((x, i) => [x.name, [GITHUB, AZURE, BIDI][i] ?? x.name]));
  const name = (x: string) => names.get(x) ?? x;
  r.results = r.results.map((x) => {
    const base = { ...x, caseId: id(x.caseId), subject: name(x.subject) };
    if (base.state === 'errored') return { ...base, error: MULTILINE };
    if (base.state === 'skipped' || base.state === 'n/a') return { ...base, reason: `${AZURE}\n${GITHUB}` };
    if (base.state === 'failed') return { ...base, checks: base.checks.map((k) => ({ ...k, against: GITHUB, comparison: { ...k.comparison, problem: MULTILINE } })) };
    return base;
  });
  r.disagreements = r.disagreements.map((d) => ({ ...d, caseId: TITLE, engine: AZURE, agreeing: [GITHUB], detail: MULTILINE }));
  r.timings = r.timings.map((t) => {
    const base = { ...t, caseId: id(t.caseId), engine: name(t.engine) };
    if (base.state === 'errored') return { ...base, error: MULTILINE };
    if (base.state === 'n/a') return { ...base, reason: MULTILINE };
    return base;
  });
  r.absentOracles = [{ name: GITHUB, reason: MULTILINE }];
  r.caseErrors = [{ file: 'cases/x.yaml', line: 1, field: 'name', message: `${GITHUB}\n${AZURE}` }];
  const gate = r.gate;
  if (gate) {
    r.gate = {
      ...gate, baselineName: `${AZURE}\n${GITHUB}`, regressions: [MULTILINE], stillFailing: [GITHUB],
      foreignBaseline: [`CPU: baseline ${JSON.stringify(TITLE)}, now "x"`, MULTILINE],
      rows: [
        ...gate.rows.map((x) => ({ ...x, caseId: GITHUB, candidate: AZURE, reference: BIDI })),
        { caseId: MULTILINE, computation: 'forward', candidate: GITHUB, reference: AZURE, threshold: 0.1, verdict: 'errored', error: MULTILINE },
      ],
    };
  }
  return r;
}

function printed(print: (out: (line: string) => void) => void): string[] {
  const lines: string[] = [];
  print((line) => lines.push(...line.split('\n')));
  return lines;
}

function expectSafe(lines: string[]): void {
  expect(lines.length).toBeGreaterThan(5);
  for (const line of lines) {
    expect(line, JSON.stringify(line)).not.toMatch(RAW_CONTROL);
    expect(line, JSON.stringify(line)).not.toMatch(CI_COMMAND);
  }
}

describe('printSummary and printGate', () => {
  it('print no raw control character and no CI command, whatever the report says', () => {
    const r = hostileReport();
    const lines = printed((out) => printSummary(r, out));
    expectSafe(lines);
    const text = lines.join('\n');
    // Every hostile value is still there, visibly.
    expect(text).toContain('pool \\x1b]0;pwned\\x07');
    expect(text).toContain('conv \\x1b[2J\\x1b[H');
    expect(text).toContain('#\\#vso[task.setvariable variable=x]1');
    expect(text).toContain('naive\\u202e\\u2066');
    expect(text).toContain('RangeError: offset is out of bounds\\n::error::pwned\\n    at kernel (evil.ts:1:1)\\r#\\#[set-env name=x]1');
    expect(text).toContain('errored while timed (fails the gate)');
    expect(text).toContain('warning: baseline from another machine');
  });

  it('keep a multi-line value on one line', () => {
    const lines = printed((out) => printSummary(hostileReport(), out));
    const errors = lines.filter((l) => l.includes('RangeError: offset is out of bounds'));
    expect(errors.length).toBeGreaterThan(0);
    for (const l of errors) expect(l).toContain('at kernel (evil.ts:1:1)');
  });

  it('printGate alone is guarded too', () => {
    const gate = hostileReport().gate;
    if (!gate) throw new Error('no gate');
    const lines = printed((out) => printGate(gate, out));
    expectSafe(lines);
    expect(lines.some((l) => /ERRORED/.test(l))).toBe(true);
  });
});

describe('progress', () => {
  afterEach(() => { vi.unstubAllEnvs(); });

  for (const tty of [true, false]) {
    it(`escapes its label and phase (${tty ? 'terminal' : 'CI'})`, () => {
      vi.stubEnv('CI', tty ? '' : 'true');
      let written = '';
      const bar = progress(GITHUB, { isTTY: tty, columns: 400, write: (s: string) => { written += s; } });
      bar.update(1, 2, `${CLEAR} ${MULTILINE}`);
      bar.update(2, 2, TITLE);
      bar.done();
      expect(written.length).toBeGreaterThan(0);
      for (const line of written.split(/\r|\n/)) {
        expect(line, JSON.stringify(line)).not.toMatch(RAW_CONTROL);
        expect(line, JSON.stringify(line)).not.toMatch(CI_COMMAND);
      }
    });
  }
});
