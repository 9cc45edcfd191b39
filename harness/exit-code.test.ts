import { describe, expect, it } from 'vitest';
import type { CheckResult } from './check.ts';
import { exitCodeOf } from './exit-code.ts';
import { fixtureReport } from './report/fixture.ts';
import type { GateRow, Report } from './report/types.ts';

const comparison = (elements: number, ok = true) => ({ ok, elements, failures: ok ? 0 : 1, maxRatio: 0, maxUlps: 0, mismatches: [] });

const result = (state: CheckResult['state'], kind: CheckResult['kind'] = 'implementation', elements = 1): CheckResult => {
  const base = { caseId: 'c', subject: 's', kind, computation: 'forward' as const };
  if (state === 'passed' || state === 'failed') return { ...base, state, checks: [{ tensor: 'y', against: 'reference64', comparison: comparison(elements, state === 'passed') }] };
  if (state === 'errored') return { ...base, state, error: 'boom' };
  return { ...base, state, reason: 'why' };
};

const row = (verdict: Exclude<GateRow['verdict'], 'errored'>): GateRow => ({
  caseId: 'c', computation: 'forward', candidate: 'a', reference: 'b', threshold: 0.1, verdict,
  logRatios: [[0, 0]], estimate: 0, low: 0, high: 0,
});
const erroredRow: GateRow = { caseId: 'c', computation: 'forward', candidate: 'a', reference: 'b', threshold: 0.1, verdict: 'errored', error: 'SIGSEGV' };

function report(results: CheckResult[], gate?: Report['gate']): Report {
  const r: Report = { ...fixtureReport(), caseErrors: [], results };
  delete r.gate;
  return gate ? { ...r, gate } : r;
}
const gate = (rows: GateRow[], extra: Partial<NonNullable<Report['gate']>> = {}): NonNullable<Report['gate']> =>
  ({ mode: 'baseline', regressions: [], stillFailing: [], rows, ok: true, ...extra });

describe('exitCodeOf', () => {
  it('0 when something ran and everything passed', () => {
    expect(exitCodeOf(report([result('passed'), result('skipped'), result('n/a')]))).toBe(0);
    expect(exitCodeOf(report([result('passed')], gate([row('unchanged'), row('new'), row('unconfirmed'), row('faster')])))).toBe(0);
  });

  it('1 when a kernel hung, crashed or threw while it was timed; an oracle that did does not count', () => {
    const base = report([result('passed')]);
    const timing = (kind: 'implementation' | 'oracle') => ({ caseId: 'c', computation: 'forward' as const, engine: 'e', kind, threads: 1, processes: 1, state: 'errored' as const, error: 'timed out after 60 s' });
    expect(exitCodeOf({ ...base, timings: [timing('implementation')] })).toBe(1);
    expect(exitCodeOf({ ...base, timings: [timing('oracle')] })).toBe(0);
  });

  it('2 for a bad case file, before anything else', () => {
    expect(exitCodeOf({ ...report([result('failed')]), caseErrors: [{ file: 'f', line: 1, field: '', message: 'm' }] })).toBe(2);
  });

  it('1 for a failed or errored implementation result; oracles do not count', () => {
    expect(exitCodeOf(report([result('passed'), result('failed')]))).toBe(1);
    expect(exitCodeOf(report([result('passed'), result('errored')]))).toBe(1);
    expect(exitCodeOf(report([result('passed'), result('failed', 'oracle'), result('errored', 'oracle')]))).toBe(0);
  });

  it('1 when the gate did not pass, whatever its ok says', () => {
    expect(exitCodeOf(report([result('passed')], gate([row('unchanged')], { ok: false })))).toBe(1);
    expect(exitCodeOf(report([result('passed')], gate([row('slower')])))).toBe(1);
    expect(exitCodeOf(report([result('passed')], gate([row('unchanged'), erroredRow])))).toBe(1);
    expect(exitCodeOf(report([result('passed')], gate([], { regressions: ['s: c forward'] })))).toBe(1);
  });

  it('2 when no implementation result ran: all skipped, n/a, or none', () => {
    expect(exitCodeOf(report([result('skipped'), result('n/a'), result('passed', 'oracle')]))).toBe(2);
    expect(exitCodeOf(report([]))).toBe(2);
    expect(exitCodeOf(report([result('skipped')], gate([row('unchanged')])))).toBe(2);
  });

  it('2 when every result that passed compared no element (all outputs empty: zero-size batch or channels)', () => {
    expect(exitCodeOf(report([result('passed', 'implementation', 0), result('passed', 'oracle')]))).toBe(2);
    expect(exitCodeOf(report([result('passed', 'implementation', 0), result('n/a')]))).toBe(2);
    // One computation with a real output (dw of a batch of 0 is zeros) is enough.
    expect(exitCodeOf(report([result('passed', 'implementation', 0), result('passed', 'implementation', 12)]))).toBe(0);
    const mixed: CheckResult = {
      caseId: 'c', subject: 's', kind: 'implementation', computation: 'backward', state: 'passed',
      checks: [{ tensor: 'dx', against: 'reference64', comparison: comparison(0) }, { tensor: 'dw', against: 'reference64', comparison: comparison(4) }],
    };
    expect(exitCodeOf(report([mixed]))).toBe(0);
    // A failure with nothing compared still fails.
    expect(exitCodeOf(report([result('failed', 'implementation', 0)]))).toBe(1);
  });

  it('a compare report (no results) is judged by its gate; one that timed nothing is 2', () => {
    expect(exitCodeOf(report([], gate([row('unchanged')], { mode: 'compare' })))).toBe(0);
    expect(exitCodeOf(report([], gate([row('slower')], { mode: 'compare' })))).toBe(1);
    expect(exitCodeOf(report([], gate([erroredRow], { mode: 'compare' })))).toBe(1);
    expect(exitCodeOf(report([], gate([], { mode: 'compare' })))).toBe(2);
  });
});
