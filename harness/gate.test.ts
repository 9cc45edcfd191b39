// The gate's decision logic on synthetic per-round log ratios (no timing here: speed itself is
// measured by scripts/gate-calibration.ts, never asserted in tests).
import { describe, expect, it } from 'vitest';
import { implementationEngine } from './bench.ts';
import { mulberry32 } from './cases/generate.ts';
import { loadCaseText } from './cases/load.ts';
import { DEFAULT_GATE, type GatePair, type Measure, rowInterval, runGate, verdictOf } from './gate.ts';
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
function rounds(ratio: number, sd = 0.03, seed = 1, n = 21): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => Math.log(ratio) + sd * (2 * (next() / 4294967296) - 1) * Math.sqrt(3));
}

const pair = (mode: GatePair['mode'], baseline?: number[], c = cases[0]): GatePair =>
  ({ mode, c, computation: 'forward', candidate: engine, reference: engine, baseline });

/** A measure that replays the given runs in order. */
function replay(...runs: (number[] | string)[]): Measure {
  let i = 0;
  return async () => runs[Math.min(i++, runs.length - 1)];
}

describe('gate verdicts', () => {
  it('slower only when the whole interval is above ln(1 + threshold)', () => {
    const limit = Math.log(1.1);
    expect(verdictOf({ estimate: 0.2, low: limit + 0.001, high: 0.3 }, 0.1)).toBe('slower');
    expect(verdictOf({ estimate: 0.2, low: limit - 0.001, high: 0.3 }, 0.1)).toBe('unchanged');
    expect(verdictOf({ estimate: -0.2, low: -0.3, high: -limit - 0.001 }, 0.1)).toBe('faster');
  });

  it('against a baseline, the interval is of the change in the ratio', () => {
    const base = rounds(2.0, 0.03, 1);
    const now = rounds(2.5, 0.03, 2);
    const iv = rowInterval(now, base);
    expect(iv.estimate).toBeCloseTo(Math.log(1.25), 1);
    expect(iv.low).toBeGreaterThan(Math.log(1.1));
  });

  it('compare mode: a 30% slower candidate is slower, confirmed by the re-run', async () => {
    const { rows } = await runGate([pair('compare')], DEFAULT_GATE, undefined, replay(rounds(1.3, 0.03, 1), rounds(1.3, 0.03, 2)));
    expect(rows[0]).toMatchObject({ verdict: 'slower', candidate: 'naive' });
    expect(rows[0].logRatios).toHaveLength(42); // both runs' rounds
  });

  it('a slowdown the re-run does not confirm is "unconfirmed", not a failure', async () => {
    const { rows } = await runGate([pair('compare')], DEFAULT_GATE, undefined, replay(rounds(1.3, 0.03, 1), rounds(0.9, 0.03, 2)));
    expect(rows[0].verdict).toBe('unconfirmed');
  });

  it('same speed as the baseline is unchanged; 20% slower than it is slower', async () => {
    const base = rounds(3, 0.03, 7);
    const same = await runGate([pair('baseline', base)], DEFAULT_GATE, undefined, replay(rounds(3, 0.03, 8)));
    expect(same.rows[0].verdict).toBe('unchanged');
    const slow = await runGate([pair('baseline', base)], DEFAULT_GATE, undefined, replay(rounds(3.6, 0.03, 9), rounds(3.6, 0.03, 10)));
    expect(slow.rows[0].verdict).toBe('slower');
  });

  it('a pair without a baseline row is recorded as new, whatever its ratio', async () => {
    const { rows } = await runGate([pair('baseline')], DEFAULT_GATE, undefined, replay(rounds(5)));
    expect(rows[0].verdict).toBe('new');
  });

  it('a per-case threshold from the YAML overrides the default', async () => {
    const { rows } = await runGate([pair('compare', undefined, cases[1])], DEFAULT_GATE, undefined, replay(rounds(1.3), rounds(1.3, 0.03, 2)));
    expect(rows[0]).toMatchObject({ threshold: 0.5, verdict: 'unchanged' });
  });

  it('a pair that cannot run is skipped with the reason', async () => {
    const { rows, skipped } = await runGate([pair('compare')], DEFAULT_GATE, undefined, replay('reference tfjs-cpu: too slow'));
    expect(rows).toEqual([]);
    expect(skipped[0].reason).toBe('reference tfjs-cpu: too slow');
  });
});
