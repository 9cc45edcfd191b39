import { describe, expect, it } from 'vitest';
import { bootstrap, clusteredLocation, hodgesLehmann, median, quantile } from './stats.ts';

describe('statistics', () => {
  it('median and quantiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([0, 10], 0.25)).toBe(2.5);
  });

  it('Hodges-Lehmann is the median of Walsh averages and resists an outlier', () => {
    // Walsh averages of [1, 2, 9]: 1, 1.5, 5, 2, 5.5, 9 -> median 3.5
    expect(hodgesLehmann([1, 2, 9])).toBe(3.5);
    const clean = [0.1, 0.11, 0.09, 0.1, 0.12, 0.08];
    expect(hodgesLehmann([...clean, 5])).toBeLessThan(0.2);
  });

  it('the bootstrap interval contains the estimate, narrows with more data, and is reproducible', () => {
    const noisy = (n: number) => Array.from({ length: n }, (_, i) => 0.2 + 0.05 * Math.sin(i * 12.9898));
    const small = bootstrap([[noisy(10)]], clusteredLocation);
    const large = bootstrap([[noisy(60)]], clusteredLocation);
    expect(small.low).toBeLessThanOrEqual(small.estimate);
    expect(small.high).toBeGreaterThanOrEqual(small.estimate);
    expect(large.high - large.low).toBeLessThan(small.high - small.low);
    expect(bootstrap([[noisy(10)]], clusteredLocation)).toEqual(small);
  });

  it('a two-sample bootstrap of a difference centres on the shift', () => {
    const a = Array.from({ length: 30 }, (_, i) => 0.3 + 0.01 * Math.cos(i));
    const b = a.map((v) => v - 0.2);
    const d = bootstrap([[a], [b]], (x, y) => clusteredLocation(x) - clusteredLocation(y));
    expect(d.estimate).toBeCloseTo(0.2, 10);
    expect(d.low).toBeGreaterThan(0.18);
    expect(d.high).toBeLessThan(0.22);
  });

  it('clusters: every process weighs the same, and processes that disagree widen the interval', () => {
    const quiet = (level: number, n = 11) => Array.from({ length: n }, (_, i) => level + 0.005 * Math.sin(i * 12.9898));
    expect(clusteredLocation([quiet(0.1), quiet(0.3, 40)])).toBeCloseTo(0.2, 2);
    // Four processes per side, each steady within itself but at its own level (JIT state, say).
    const head = [0.06, 0.1, -0.02, 0.08].map((level) => quiet(level));
    const base = [0, -0.04, 0.05, 0.03].map((level) => quiet(level));
    const change = (h: number[][], b: number[][]) => clusteredLocation(h) - clusteredLocation(b);
    const clustered = bootstrap([head, base], change);
    expect(clustered.estimate).toBeCloseTo(0.045, 10);
    expect(clustered.low).toBeLessThan(0);
    // The same rounds pooled as if from one process each claim a change the processes do not support.
    const pooled = bootstrap([[head.flat()], [base.flat()]], change);
    expect(pooled.low).toBeGreaterThan(0);
  });
});
