import { describe, expect, it } from 'vitest';
import { budgets, compareTensor, gamma, ulpDistance } from './compare.ts';
import type { Reference } from './oracles/reference64.ts';

const t = (data: number[]) => ({ shape: [data.length], data: Float32Array.from(data) });
const ref = (value: number[], absSum: number[], rounds: number[]): Reference =>
  ({ shape: [value.length], value: Float64Array.from(value), absSum: Float64Array.from(absSum), rounds: Uint32Array.from(rounds) });

describe('tolerance model', () => {
  it('gamma_n = n u / (1 - n u), infinite once n u >= 1', () => {
    expect(gamma(1)).toBeCloseTo(2 ** -24 / (1 - 2 ** -24), 30);
    expect(gamma(100)).toBeCloseTo(100 * 2 ** -24 / (1 - 100 * 2 ** -24), 30);
    expect(gamma(2 ** 24)).toBe(Number.POSITIVE_INFINITY);
  });

  it('the budget is gamma_n * sum|terms|, doubled between two float32 engines, scaled by the factor', () => {
    const r = ref([1], [1000], [27]);
    const one = budgets(r, 1)[0];
    expect(one).toBeGreaterThan(gamma(27) * 1000);
    expect(one).toBeLessThan(gamma(27) * 1000 * 1.0001);
    expect(budgets(r, 2)[0] / one).toBeCloseTo(2, 6);
    expect(budgets(r, 1, 3)[0] / one).toBeCloseTo(3, 12);
    expect(budgets(ref([5], [5], [0]), 1)[0]).toBe(0); // a maximum is exact
  });

  it('passes within the budget and fails just outside it, reporting the ratio and ulps', () => {
    const want = t([1]);
    const inside = compareTensor(t([1 + 2 ** -23]), want, 2 ** -22);
    expect(inside).toMatchObject({ ok: true, failures: 0, maxUlps: 1 });
    expect(inside.maxRatio).toBeCloseTo(0.5, 12);
    const outside = compareTensor(t([1 + 2 ** -21]), want, 2 ** -22);
    expect(outside.ok).toBe(false);
    expect(outside.mismatches[0]).toMatchObject({ index: 0, coord: [0], ulps: 4, ratio: 2 });
  });

  it('NaN only matches NaN', () => {
    expect(compareTensor(t([Number.NaN]), t([Number.NaN]), 0).ok).toBe(true);
    expect(compareTensor(t([Number.NaN]), t([1]), 1e30).ok).toBe(false);
    expect(compareTensor(t([1]), t([Number.NaN]), 1e30).ok).toBe(false);
  });

  it('infinities must match in sign, whatever the budget', () => {
    const inf = Number.POSITIVE_INFINITY;
    expect(compareTensor(t([inf]), t([inf]), 0).ok).toBe(true);
    expect(compareTensor(t([-inf]), t([inf]), inf).ok).toBe(false);
    expect(compareTensor(t([inf]), t([Number.NaN]), inf).ok).toBe(false);
    expect(compareTensor(t([3.4e38]), t([inf]), inf).ok).toBe(false);
  });

  it('a float64 value that overflows float32 matches the float32 infinity', () => {
    expect(compareTensor(t([Number.POSITIVE_INFINITY]), { shape: [1], data: [1e39] }, 0).ok).toBe(true);
  });

  it('a zero budget demands bit equality (exact expected outputs)', () => {
    expect(compareTensor(t([6, -3]), t([6, -3]), 0).ok).toBe(true);
    expect(compareTensor(t([6, -3.0000002]), t([6, -3]), 0).ok).toBe(false);
  });

  it('keeps the worst mismatches, worst first, with coordinates', () => {
    const want = { shape: [2, 1, 2, 3], data: new Float32Array(12) };
    const got = { shape: [2, 1, 2, 3], data: new Float32Array(12) };
    got.data[4] = 1; got.data[11] = 3; got.data[7] = 2;
    const cmp = compareTensor(got, want, 0.5);
    expect(cmp.failures).toBe(3);
    expect(cmp.mismatches.map((m) => m.coord)).toEqual([[1, 0, 1, 2], [1, 0, 0, 1], [0, 0, 1, 1]]);
  });

  it('a shape mismatch is a failure that names both shapes', () => {
    const cmp = compareTensor({ shape: [2, 2], data: new Float32Array(4) }, { shape: [4], data: new Float32Array(4) }, 1);
    expect(cmp.ok).toBe(false);
    expect(cmp.problem).toBe('shape [2,2] (4 values), want [4]');
  });

  it('ulpDistance counts float32 steps across zero', () => {
    expect(ulpDistance(0, -0)).toBe(0);
    expect(ulpDistance(2 ** -149, -(2 ** -149))).toBe(2);
    expect(ulpDistance(1, Math.fround(1 + 2 ** -23))).toBe(1);
  });
});
