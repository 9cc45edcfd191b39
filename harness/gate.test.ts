// The gate's decision logic on synthetic per-round log ratios (no timing here: speed itself is
// measured by scripts/gate-calibration.ts, never asserted in tests).
import { describe, expect, it } from 'vitest';
import { implementationEngine } from './bench.ts';
import { mulberry32 } from './cases/generate.ts';
import { loadCaseText } from './cases/load.ts';
import { DEFAULT_GATE, type GatePair, type Measure, pairId, pairKey, roundPairs, rowInterval, runGate, verdictOf } from './gate.ts';
import naive from '../implementations/naive/index.ts';

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
const engine = implementationEngine(naive);

/** Rounds of ln(ratio) with multiplicative noise of about +-sd, seeded. */
function rounds(ratio: number, sd = 0.03, seed = 1, n = 12): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => Math.log(ratio) + sd * (2 * (next() / 4294967296) - 1) * Math.sqrt(3));
}

/** Three processes' rounds at the given ratio, each process with its own seed. */
const processes = (ratio: number, seed = 1, sd = 0.03): number[][] => [0, 1, 2].map((p) => rounds(ratio, sd, seed * 10 + p));

const pair = (mode: GatePair['mode'], baseline?: number[][], c = cases[0]): GatePair =>
  ({ mode, c, computation: 'forward', candidate: engine, reference: engine, ...(baseline ? { baseline } : {}) });

/** A measure that replays the given measurements in order, for whatever pairs it is asked about; it records the calls. */
function replay(...runs: (number[][] | string)[]): Measure & { calls: number } {
  let i = 0;
  const measure = async (pairs: readonly GatePair[]) => {
    measure.calls++;
    const run = runs[Math.min(i++, runs.length - 1)];
    return new Map(pairs.map((p) => [pairKey(pairId(p)), run] as const));
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
    expect(rows[0].logRatios).toHaveLength(6); // both measurements' processes
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
    expect(slow.rows[0].baseline).toBeCloseTo(Math.log(3), 1);
  });

  it('one process that ran 25% slower throughout is not a slowdown', async () => {
    // The failure this design answers: a head process whose JIT state made a kernel slower.
    const [p1, p2] = processes(2, 3, 0.02);
    const { rows } = await runGate([pair('baseline', processes(2, 4, 0.02))], replay([p1, p2, rounds(2.5, 0.02, 5)]));
    expect(rows[0].estimate).toBeGreaterThan(Math.log(1.05));
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

  it('a pair that cannot run is skipped with the reason', async () => {
    const { rows, skipped } = await runGate([pair('compare')], replay('reference tfjs-cpu: too slow'));
    expect(rows).toEqual([]);
    expect(skipped[0].reason).toBe('reference tfjs-cpu: too slow');
  });
});
