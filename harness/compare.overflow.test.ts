// The overflow rule (cases/README.md "Numerics rules"): where sum |term| (or an average's window
// sum) can pass the float32 range, a non-finite result is accepted and counted; below it, a
// non-finite result fails. The cases of cases/numerics/overflow.yaml on both sides.
import { describe, expect, it } from 'vitest';
import { loadCases } from './cases/load.ts';
import { checkOutputs, overflowedElements, referenceOutputs } from './check.ts';
import { compareToReference, FLOAT32_MAX, overflowProne } from './compare.ts';
import type { Outputs } from './invoke.ts';
import type { Reference } from './oracles/reference64.ts';

const t = (data: number[]) => ({ shape: [data.length], data: Float32Array.from(data) });
const ref = (value: number[], absSum: number[], rounds: number[]): Reference =>
  ({ shape: [value.length], value: Float64Array.from(value), absSum: Float64Array.from(absSum), rounds: Uint32Array.from(rounds) });

describe('overflow-prone elements', () => {
  it('are those whose S * (1 + gamma_n) passes the float32 range, with finite S', () => {
    const r = ref([3e38, 1e38, 1, NaN], [9e38, 3e38, 1, Infinity], [3, 3, 1, 2]);
    expect(Array.from(overflowProne(r) ?? [])).toEqual([1, 0, 0, 0]);
    expect(overflowProne(ref([1e38], [FLOAT32_MAX * 0.99], [2]))).toBeUndefined();
  });

  it('accept +-inf and NaN there and count them; a finite result is still judged by its budget', () => {
    const r = ref([3e38], [9e38], [3]);
    for (const v of [Infinity, -Infinity, NaN]) {
      const cmp = compareToReference(t([v]), { shape: r.shape, data: r.value }, r, 1);
      expect(cmp).toMatchObject({ ok: true, overflowProne: 1, overflowed: 1 });
    }
    const finite = compareToReference(t([3e38]), { shape: r.shape, data: r.value }, r, 1);
    expect(finite).toMatchObject({ ok: true, overflowProne: 1 });
    expect(finite.overflowed).toBeUndefined();
    const negated = compareToReference(t([-3e38]), { shape: r.shape, data: r.value }, r, 1);
    expect(negated.ok).toBe(false);
  });

  it('a finite result is judged against the float64 value even when that lies beyond the float32 range', () => {
    const r = ref([6e38], [6e38], [1]);
    for (const v of [0, -5, 1e30]) expect(compareToReference(t([v]), { shape: r.shape, data: r.value }, r, 1).ok).toBe(false);
    expect(compareToReference(t([Infinity]), { shape: r.shape, data: r.value }, r, 1)).toMatchObject({ ok: true, overflowed: 1 });
    expect(compareToReference(t([3.4e38]), { shape: r.shape, data: r.value }, r, 1).ok).toBe(false);
  });

  it('below the range a non-finite result fails', () => {
    const r = ref([1e38], [3e38], [3]);
    const cmp = compareToReference(t([Infinity]), { shape: r.shape, data: r.value }, r, 1);
    expect(cmp.ok).toBe(false);
    expect(cmp.overflowProne).toBeUndefined();
  });
});

describe('cases/numerics/overflow.yaml', () => {
  const { cases, errors } = loadCases(['cases/numerics/overflow.yaml']);
  const named = (name: string, computation: 'forward' | 'backward') => {
    const c = cases.find((k) => k.name === name);
    if (!c) throw new Error(`no case ${name}`);
    return { c, refs: referenceOutputs(c, computation) };
  };
  const filled = (shape: number[], v: number) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v) });

  it('loads', () => expect(errors.map((e) => e.message)).toEqual([]));

  it.each([
    ['overflow-prone partial sum', 'forward', 'y'],
    ['overflow-prone product', 'forward', 'y'],
    ['overflow-prone dw', 'backward', 'dw'],
    ['overflow-prone average window', 'forward', 'y'],
    ['overflow-prone after a K block', 'forward', 'y'],
  ] as const)('%s: a +inf %s %s passes as overflow-prone', (name, computation, tensor) => {
    const { c, refs } = named(name, computation);
    const got: Outputs = {};
    for (const [k, r] of Object.entries(refs)) got[k as keyof Outputs] = { shape: r.shape, data: Float32Array.from(r.value) };
    const ref = refs[tensor];
    if (!ref) throw new Error('no reference');
    got[tensor] = filled(ref.shape, Infinity);
    const checks = checkOutputs(c, computation, got, refs);
    const result = { caseId: c.id, subject: 'x', kind: 'implementation' as const, computation, state: 'passed' as const, checks };
    expect(checks.every((k) => k.comparison.ok)).toBe(true);
    expect(overflowedElements(result)).toBeGreaterThan(0);
  });

  it.each(['forward', 'backward'] as const)('near the top, no overflow: a +inf in the %s fails', (computation) => {
    const { c, refs } = named('near the top, no overflow', computation);
    const tensor = computation === 'forward' ? 'y' : 'dw';
    const got: Outputs = {};
    for (const [k, r] of Object.entries(refs)) got[k as keyof Outputs] = { shape: r.shape, data: Float32Array.from(r.value) };
    const ref = refs[tensor];
    if (!ref) throw new Error('no reference');
    expect(checkOutputs(c, computation, got, refs).every((k) => k.comparison.ok)).toBe(true);
    got[tensor] = filled(ref.shape, Infinity);
    expect(checkOutputs(c, computation, got, refs).some((k) => !k.comparison.ok)).toBe(true);
  });
});
