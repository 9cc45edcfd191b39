// The exact comparison (a case's `expected`, budget 0) is bitwise as float32: it sees the sign of
// zero, and matches NaN with NaN of any payload. Tolerance comparisons (per-element budgets) do not.
import { describe, expect, it } from 'vitest';
import { loadCaseText } from './cases/load.ts';
import { checkOutputs, referenceOutputs } from './check.ts';
import { budgets, compareTensor, formatMismatch, sameFloat32 } from './compare.ts';
import type { Reference } from './oracles/reference64.ts';

const t = (data: number[]) => ({ shape: [data.length], data: Float32Array.from(data) });

describe('exact comparison is bitwise', () => {
  it('-0 against +0 fails, both ways; each zero matches itself', () => {
    const minusVsPlus = compareTensor(t([-0]), t([0]), 0);
    expect(minusVsPlus.ok).toBe(false);
    expect(minusVsPlus.mismatches[0].ratio).toBe(Number.POSITIVE_INFINITY);
    expect(formatMismatch('y', minusVsPlus.mismatches[0])).toMatch(/got -0, want 0,/);
    expect(compareTensor(t([0]), t([-0]), 0).ok).toBe(false);
    expect(compareTensor(t([-0, 0]), t([-0, 0]), 0).ok).toBe(true);
    expect(sameFloat32(-0, 0)).toBe(false);
  });

  it('NaN matches NaN of any payload and sign; a finite value never matches NaN', () => {
    // NaNs with other payloads, quiet and signalling, either sign (a Float32Array keeps the bits).
    const bits = [0x7fc00000, 0x7fc00001, 0x7f800001, 0xffc00000, 0xffffffff];
    const nans = { shape: [bits.length], data: new Float32Array(Uint32Array.from(bits).buffer) };
    expect(Array.from(nans.data).every(Number.isNaN)).toBe(true);
    const plain = t(bits.map(() => NaN));
    expect(compareTensor(nans, plain, 0).ok).toBe(true);
    expect(compareTensor(plain, nans, 0).ok).toBe(true);
    expect(compareTensor(t([0]), t([NaN]), 0).ok).toBe(false);
    expect(compareTensor(t([NaN]), t([0]), 0).ok).toBe(false);
    expect(compareTensor(t([Infinity]), t([-Infinity]), 0).ok).toBe(false);
    expect(compareTensor(t([-Infinity]), t([-Infinity]), 0).ok).toBe(true);
  });

  it('compares the float32 rounding of both sides (1e39 is +inf, 0.1 its float32)', () => {
    expect(compareTensor(t([Infinity]), { shape: [1], data: [1e39] }, 0).ok).toBe(true);
    expect(compareTensor(t([0.1]), { shape: [1], data: [0.1] }, 0).ok).toBe(true);
    expect(compareTensor(t([Math.fround(0.1)]), { shape: [1], data: [Math.fround(0.1) + 2 ** -26] }, 0).ok).toBe(false);
  });

  it('a tolerance comparison still lets -0 match +0, even where an element budget is 0', () => {
    const r: Reference = { shape: [2], value: Float64Array.of(0, 0), absSum: Float64Array.of(0, 1), rounds: Uint32Array.of(0, 3) };
    expect(compareTensor(t([-0, -0]), { shape: r.shape, data: r.value }, budgets(r, 1)).ok).toBe(true);
  });

  it('a NaN budget passes no inexact value: a finite got against a finite want fails', () => {
    expect(compareTensor(t([1]), t([2]), Float64Array.of(NaN)).ok).toBe(false);
    expect(compareTensor(t([2]), t([2]), Float64Array.of(NaN)).ok).toBe(true);
  });

  it("a case's expected -0 fails a +0 result (and the reverse), through checkOutputs", () => {
    const { cases, errors } = loadCaseText(`cases:
  - name: signed zero
    op: conv2d
    direction: forward
    inputs:
      x: [[[[-0]]]]
      w: [[[[1]]]]
    expected:
      y: [[[[-0]]]]
`, 'signed-zero.yaml');
    expect(errors.map((e) => e.message)).toEqual([]);
    const c = cases[0];
    expect(Object.is(c.expected.y?.data[0], -0)).toBe(true); // the loader keeps -0
    const refs = referenceOutputs(c, 'forward');
    const verdict = (v: number) => checkOutputs(c, 'forward', { y: { shape: [1, 1, 1, 1], data: Float32Array.of(v) } }, refs)
      .map((k) => `${k.against}:${k.comparison.ok}`);
    expect(verdict(-0)).toEqual(['expected:true', 'reference64:true']);
    expect(verdict(0)).toEqual(['expected:false', 'reference64:true']);
  });
});
