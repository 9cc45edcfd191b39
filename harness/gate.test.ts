// The gate's decision logic on synthetic per-round log ratios (no timing here: speed itself is
// measured by scripts/gate-calibration.ts, never asserted in tests).
import { describe, expect, it } from 'vitest';
import { mulberry32 } from './cases/generate.ts';
import { loadCaseText } from './cases/load.ts';
import {
  DEFAULT_GATE, type GatePair, type Measure, type Measurement, measurePair, pairId, pairKey, roundPairs, rowInterval, runGate, verdictOf,
} from './gate.ts';
import type { Engine } from './bench.ts';
import { isMeasured, type GateRow, type MeasuredGateRow } from './report/types.ts';

const { cases } = loadCaseText(`cases:
  - name: g
    op: maxpool2d
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 1, 4, 4] } }
  - name: strict
    op: maxpool2d
    bench: { threshold: 0.5 }
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 1, 4, 4] } }
`, 'inline.yaml');
/** An engine whose call takes a few microseconds: a stand-in, these tests time nothing that matters. */
const engine: Engine = {
  name: 'naive', kind: 'implementation', threads: 1,
  prepare: async () => ({ call: async () => new Float32Array(4), collect: () => ({}) }),
  release: async () => {},
};

/** Rounds of ln(ratio) with multiplicative noise of about +-sd, seeded. */
function rounds(ratio: number, sd = 0.03, seed = 1, n = 12): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => Math.log(ratio) + sd * (2 * (next() / 4294967296) - 1) * Math.sqrt(3));
}

/** Three processes' rounds at the given ratio, each process with its own seed. */
const processes = (ratio: number, seed = 1, sd = 0.03): number[][] => [0, 1, 2].map((p) => rounds(ratio, sd, seed * 10 + p));

/** The row, checked to be a measured one. */
function measured(row: GateRow | undefined): MeasuredGateRow {
  if (!row || !isMeasured(row)) throw new Error(`expected a measured row, got ${JSON.stringify(row)}`);
  return row;
}

const pair = (mode: GatePair['mode'], baseline?: number[][], c = cases[0]): GatePair =>
  ({ mode, c, computation: 'forward', candidate: engine, reference: engine, ...(baseline ? { baseline } : {}) });

/** A measure that replays the given measurements in order (rounds by process, or a Measurement), for whatever pairs it is asked about; it records the calls. */
function replay(...runs: (number[][] | Measurement)[]): Measure & { calls: number } {
  let i = 0;
  const measure = async (pairs: readonly GatePair[]) => {
    measure.calls++;
    const run = runs[Math.min(i++, runs.length - 1)];
    const m: Measurement = Array.isArray(run) ? { logRatios: run } : run;
    return new Map(pairs.map((p) => [pairKey(pairId(p)), m] as const));
  };
  measure.calls = 0;
  return measure;
}

describe('gate verdicts', () => {
  it('slower only when the whole interval is above ln(1 + threshold)', () => {
    const limit = Math.log(1.1);
    expect(verdictOf({ estimate: 0.2, low: limit + 0.001, high: 0.3 }, 0.1)).toBe('slower');
    expect(verdictOf({ estimate: 0.2, low: limit - 0.001, high: 0.3 }, 0.1)).toBe('unchanged');
    expect(verdictOf({ estimate: -0.2, low: -0.3, high: -limit - 0.001 }, 0.1)).toBe('faster');
  });

  it('against a baseline, the interval is of the change in the ratio', () => {
    const iv = rowInterval(processes(2.5, 2), processes(2.0, 1));
    expect(iv.estimate).toBeCloseTo(Math.log(1.25), 1);
    expect(iv.low).toBeGreaterThan(Math.log(1.1));
  });

  it('compare mode: a 30% slower candidate is slower, confirmed by a second measurement', async () => {
    const measure = replay(processes(1.3, 1), processes(1.3, 2));
    const { rows } = await runGate([pair('compare')], measure);
    expect(measure.calls).toBe(2);
    expect(rows[0]).toMatchObject({ verdict: 'slower', candidate: 'naive' });
    expect(measured(rows[0]).logRatios).toHaveLength(6); // both measurements' processes
  });

  it('a slowdown the second measurement does not confirm is "unconfirmed", not a failure', async () => {
    const { rows } = await runGate([pair('compare')], replay(processes(1.3, 1), processes(0.9, 2)));
    expect(rows[0].verdict).toBe('unconfirmed');
  });

  it('same speed as the baseline is unchanged, without a second measurement; 20% slower than it is slower', async () => {
    const base = processes(3, 7);
    const once = replay(processes(3, 8));
    const same = await runGate([pair('baseline', base)], once);
    expect(same.rows[0].verdict).toBe('unchanged');
    expect(once.calls).toBe(1);
    const slow = await runGate([pair('baseline', base)], replay(processes(3.6, 9), processes(3.6, 10)));
    expect(slow.rows[0].verdict).toBe('slower');
    expect(measured(slow.rows[0]).baseline).toBeCloseTo(Math.log(3), 1);
  });

  it('one process that ran 25% slower throughout is not a slowdown', async () => {
    // The failure this design answers: a head process whose JIT state made a kernel slower.
    const [p1, p2] = processes(2, 3, 0.02);
    const { rows } = await runGate([pair('baseline', processes(2, 4, 0.02))], replay([p1, p2, rounds(2.5, 0.02, 5)]));
    expect(measured(rows[0]).estimate).toBeGreaterThan(Math.log(1.05));
    expect(rows[0].verdict).toBe('unchanged');
  });

  it('an order effect (whoever goes second is 15% faster) cancels in round pairs', () => {
    const ordered = (seed: number) => processes(2, seed, 0.01).map((rs) => rs.map((x, i) => x + (i % 2 ? -1 : 1) * Math.log(1.15)));
    const iv = rowInterval(ordered(1), ordered(2));
    expect(Math.abs(iv.estimate)).toBeLessThan(0.01);
    expect(iv.high - iv.low).toBeLessThan(0.03);
    expect(roundPairs([[0.1, 0.3, 0.2, 0.4, 9]])[0].map((x) => x.toFixed(6))).toEqual(['0.200000', '0.300000']);
  });

  it('a pair without a baseline row is recorded as new, whatever its ratio', async () => {
    const { rows } = await runGate([pair('baseline')], replay(processes(5)));
    expect(rows[0].verdict).toBe('new');
  });

  it('a per-case threshold from the YAML overrides the default', async () => {
    const { rows } = await runGate([pair('compare', undefined, cases[1])], replay(processes(1.3), processes(1.3, 2)), DEFAULT_GATE.threshold);
    expect(rows[0]).toMatchObject({ threshold: 0.5, verdict: 'unchanged' });
  });

  it('a pair that cannot run (n/a) is skipped with the reason', async () => {
    const { rows, skipped } = await runGate([pair('compare')], replay({ reason: 'reference tfjs-cpu: too slow' }));
    expect(rows).toEqual([]);
    expect(skipped[0].reason).toBe('reference tfjs-cpu: too slow');
  });

  it('a pair that errored while timed is an errored row, not a skip', async () => {
    const { rows, skipped } = await runGate([pair('baseline', processes(2))], replay({ error: 'threw while timing: RangeError: boom' }));
    expect(skipped).toEqual([]);
    expect(rows).toEqual([{ caseId: cases[0].id, computation: 'forward', candidate: 'naive', reference: 'naive', threshold: 0.1, verdict: 'errored', error: 'threw while timing: RangeError: boom' }]);
  });

  it('a pair the measure did not answer for is errored', async () => {
    const { rows } = await runGate([pair('compare')], async () => new Map());
    expect(rows[0]).toMatchObject({ verdict: 'errored', error: expect.stringMatching(/not measured/) });
  });

  it('a slower pair whose re-measurement errors or cannot run is errored, never unconfirmed', async () => {
    const crashed = await runGate([pair('compare')], replay(processes(1.3, 1), { error: 'gate process 1 of 3 (re-measure) exited with SIGKILL' }));
    expect(crashed.rows[0]).toMatchObject({ verdict: 'errored', error: expect.stringMatching(/re-measurement errored: .*SIGKILL/) });
    const gone = await runGate([pair('compare')], replay(processes(1.3, 1), { reason: 'n/a now' }));
    expect(gone.rows[0].verdict).toBe('errored');
  });

  it('rounds that give no finite estimate are errored, never unchanged', async () => {
    const nan = await runGate([pair('compare')], replay([[Number.NaN, 0.1], [0.1, 0.2]]));
    expect(nan.rows[0].verdict).toBe('errored');
    const empty = await runGate([pair('compare')], replay([]));
    expect(empty.rows[0].verdict).toBe('errored');
  });
});

describe('measurePair', () => {
  const options = { ...DEFAULT_GATE, rounds: 2, minBlockMs: 0.01, warmUpMs: 0, maxPairMs: 1 };
  const throwing = (what: 'prepare' | 'call' | 'release'): Engine => ({
    ...engine, name: `bad-${what}`,
    prepare: async (c, computation) => {
      if (what === 'prepare') throw new Error('prepare exploded');
      const p = await engine.prepare(c, computation);
      if (typeof p === 'string' || what !== 'call') return p;
      let calls = 0;
      return { ...p, call: async () => { if (++calls > 4) throw new RangeError('offset is out of bounds'); return p.call(); } };
    },
    release: async () => { if (what === 'release') throw new Error('release exploded'); },
  });
  const on = (candidate: Engine): GatePair => ({ mode: 'compare', c: cases[0], computation: 'forward', candidate, reference: engine });

  it('gives rounds for a working pair', async () => {
    const m = await measurePair(on(engine), options);
    expect('logRatios' in m && m.logRatios.length).toBeGreaterThanOrEqual(2);
  });

  it('a throw while preparing, timing or releasing is an error, not a reason', async () => {
    expect(await measurePair(on(throwing('prepare')), options)).toEqual({ error: 'threw while timing: prepare exploded' });
    expect(await measurePair(on(throwing('call')), options)).toEqual({ error: 'threw while timing: offset is out of bounds' });
    expect(await measurePair(on(throwing('release')), options)).toEqual({ error: 'bad-release threw on release: release exploded' });
  });

  it('an engine that cannot run the case gives a reason', async () => {
    const na: Engine = { ...engine, name: 'na', prepare: async () => 'na does not implement maxpool2d forward' };
    expect(await measurePair(on(na), options)).toEqual({ reason: 'na does not implement maxpool2d forward' });
  });
});
