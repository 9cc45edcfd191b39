// The tolerance model (docs/architecture.md "Tolerance model"). A float32 result of n roundings over terms t_i is within
// gamma_n * sum|t_i| of the exact value (Higham), gamma_n = n*u / (1 - n*u), u = 2^-24. Two float32
// results may differ by the sum of their bounds. Non-finite values compare exactly, except where a
// float32 partial sum may overflow (overflowProne): there any non-finite result is accepted.
import type { ExpectedTolerance } from './cases/raw.ts';
import type { Reference } from './oracles/reference64.ts';
import type { Layout } from './layout.ts';
import { unravel } from './tensor.ts';

export const UNIT_ROUNDOFF_F32 = 2 ** -24;
const UNIT_ROUNDOFF_F64 = 2 ** -53;
/** Gradual underflow: each rounding may also lose up to half the smallest subnormal. */
const UNDERFLOW_F32 = 2 ** -150;
/** The largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

export function gamma(n: number, u = UNIT_ROUNDOFF_F32): number {
  const nu = n * u;
  return nu >= 1 ? Number.POSITIVE_INFINITY : nu / (1 - nu);
}

/**
 * Per-element error budget of comparing `float32Results` float32 computations (1 against the
 * reference, 2 between two engines) of the reference's values, scaled by `factor`.
 */
export function budgets(ref: Reference, float32Results: 1 | 2, factor = 1): Float64Array {
  const out = new Float64Array(ref.value.length);
  for (let i = 0; i < out.length; i++) {
    const n = ref.rounds[i];
    const one = gamma(n) * ref.absSum[i] + n * UNDERFLOW_F32;
    out[i] = factor * (float32Results * one + gamma(n, UNIT_ROUNDOFF_F64) * ref.absSum[i]);
  }
  return out;
}

/**
 * The elements whose float32 computation may overflow although the exact result is finite
 * (cases/README.md "Numerics rules"): every partial sum of terms whose magnitudes sum to S is at
 * most S * (1 + gamma_n) in float32, so past FLOAT32_MAX a float32 engine may hold +-inf (and then
 * NaN from inf - inf) in some order of summation and not in another. `peak` is S unless the
 * reference says a partial sum reaches more (an average's window sum, before the divide). Undefined
 * when no element is prone (the common case). Elements whose S is not finite came from non-finite
 * inputs: their value is non-finite too and compares exactly.
 */
export function overflowProne(ref: Reference): Uint8Array | undefined {
  let mask: Uint8Array | undefined;
  const peak = ref.peak ?? ref.absSum;
  for (let i = 0; i < peak.length; i++) {
    const s = peak[i];
    if (s > FLOAT32_MAX / 2 && Number.isFinite(s) && s * (1 + gamma(ref.rounds[i])) > FLOAT32_MAX) (mask ??= new Uint8Array(peak.length))[i] = 1;
  }
  return mask;
}

// One scratch word for reading a float32's bits: ulpDistance runs for every element of every
// comparison, so it allocates nothing (measured: allocating two typed arrays per call made the
// comparisons most of the harness's own time).
const SCRATCH_F32 = new Float32Array(1);
const SCRATCH_I32 = new Int32Array(SCRATCH_F32.buffer);

/** A float32's bits as an integer that orders like the value (-0 and +0 both 0). */
function orderedBits(v: number): number {
  SCRATCH_F32[0] = v;
  const bits = SCRATCH_I32[0];
  return bits < 0 ? -2147483648 - bits : bits;
}

/** Distance in float32 units in the last place (0 for equal, Infinity when either is NaN). */
export function ulpDistance(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.POSITIVE_INFINITY;
  if (a === b) return 0;
  return Math.abs(orderedBits(a) - orderedBits(b));
}

export interface Mismatch {
  index: number;
  /** Element coordinates, e.g. (n, c, y, x) for activations. */
  coord: number[];
  got: number;
  want: number;
  error: number;
  budget: number;
  /** error / budget: above 1 fails. */
  ratio: number;
  ulps: number;
}

export interface TensorComparison {
  ok: boolean;
  elements: number;
  failures: number;
  /** Largest error / budget over the finite elements (0 when all are exact). */
  maxRatio: number;
  maxUlps: number;
  /** The worst few failing elements, worst first. */
  mismatches: Mismatch[];
  /** A shape mismatch or missing output, when the comparison could not be made element-wise. */
  problem?: string;
  /** Elements whose float32 partial sums may overflow (see overflowProne); absent when none. */
  overflowProne?: number;
  /** Of those, the elements where a side was non-finite and so accepted; absent when none. */
  overflowed?: number;
}

const KEEP_MISMATCHES = 5;

/** Adds a failing element to `worst`, trimming it to the worst few now and then (no full sort per element). */
function keep(worst: Mismatch[], m: Mismatch): void {
  worst.push(m);
  if (worst.length > 4 * KEEP_MISMATCHES) { worst.sort((a, c) => c.ratio - a.ratio); worst.length = KEEP_MISMATCHES; }
}

/** The worst few of `worst`, worst first. */
const worstFirst = (worst: Mismatch[]): Mismatch[] => worst.sort((a, c) => c.ratio - a.ratio).slice(0, KEEP_MISMATCHES);

/** The float32 bits of v (after rounding to float32), as an unsigned integer. */
function float32Bits(v: number): number {
  SCRATCH_F32[0] = v;
  return SCRATCH_I32[0] >>> 0;
}

/**
 * Exact equality as float32, bit for bit: -0 and +0 differ; every NaN matches every NaN (any
 * payload, any sign).
 */
export function sameFloat32(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return float32Bits(a) === float32Bits(b);
}

type Values = { shape: readonly number[]; data: ArrayLike<number> };

/** The failed comparison of tensors whose shapes differ, or undefined when they match. */
function shapeMismatch(got: Values, want: Values): TensorComparison | undefined {
  const sameShape = got.shape.length === want.shape.length && got.shape.every((v, i) => v === want.shape[i]);
  if (sameShape && got.data.length === want.data.length) return undefined;
  return {
    ok: false, elements: want.data.length, failures: want.data.length, maxRatio: Number.POSITIVE_INFINITY,
    maxUlps: Number.POSITIVE_INFINITY, mismatches: [],
    problem: `shape [${got.shape.join(',')}] (${got.data.length} values), want [${want.shape.join(',')}]`,
  };
}

/**
 * Compares `got` with `want` element-wise under per-element budgets (a number = the same for all).
 * A budget of the number 0 is the exact comparison (a case's `expected` outputs): every element is
 * compared bit for bit as float32, so -0 and +0 differ and NaN matches NaN of any payload. (A zero
 * entry of a per-element budget array, as a maximum has, still lets -0 match +0.) A budget that is
 * NaN never passes a nonzero error. Where `prone` is set (overflowProne), a non-finite value on
 * either side is accepted and counted in `overflowed`.
 */
export function compareTensor(
  got: { shape: readonly number[]; data: ArrayLike<number> },
  want: { shape: readonly number[]; data: ArrayLike<number> },
  budget: Float64Array | number,
  prone?: Uint8Array,
): TensorComparison {
  const mismatched = shapeMismatch(got, want);
  if (mismatched) return mismatched;
  let failures = 0, maxRatio = 0, maxUlps = 0, proneCount = 0, overflowed = 0;
  const worst: Mismatch[] = [];
  for (let i = 0; i < want.data.length; i++) {
    const g = got.data[i];
    const w = want.data[i];
    const w32 = Math.fround(w);
    const b = typeof budget === 'number' ? budget : budget[i];
    if (prone?.[i] === 1) proneCount++;
    let error: number, ratio: number;
    if (budget === 0) {
      const same = sameFloat32(g, w32);
      // -0 against +0: error 0, yet it fails.
      error = same ? 0 : Number.isFinite(g) && Number.isFinite(w32) ? Math.abs(g - w) : Number.POSITIVE_INFINITY;
      ratio = same ? 0 : Number.POSITIVE_INFINITY;
    } else if (prone?.[i] === 1 && (!Number.isFinite(g) || !Number.isFinite(w))) {
      // May have overflowed in float32 although the exact result is finite: accepted, and counted.
      // (w is non-finite only as another engine's float32 output; reference64's value is float64.)
      overflowed++;
      error = 0; ratio = 0;
    } else if (prone?.[i] === 1) {
      // A finite result where float32 may overflow: judged by its budget against the float64
      // value, which may lie beyond the float32 range.
      error = Math.abs(g - w);
      ratio = error === 0 ? 0 : error / b;
      if (Number.isNaN(ratio)) ratio = Number.POSITIVE_INFINITY;
    } else if (!Number.isFinite(g) || !Number.isFinite(w32)) {
      // NaN only matches NaN; an infinity only matches the same infinity.
      const same = Number.isNaN(g) ? Number.isNaN(w32) : g === w32;
      error = same ? 0 : Number.POSITIVE_INFINITY;
      ratio = same ? 0 : Number.POSITIVE_INFINITY;
    } else {
      error = Math.abs(g - w);
      ratio = error === 0 ? 0 : error / b;
      if (Number.isNaN(ratio)) ratio = Number.POSITIVE_INFINITY; // a NaN budget (S held a NaN) passes nothing inexact
    }
    const ulps = Number.isNaN(g) && Number.isNaN(w32) ? 0 : ulpDistance(g, w32);
    if (ratio > maxRatio) maxRatio = ratio;
    if (ulps > maxUlps) maxUlps = ulps;
    if (ratio > 1) {
      failures++;
      keep(worst, { index: i, coord: unravel(i, want.shape), got: g, want: w, error, budget: b, ratio, ulps });
    }
  }
  return {
    ok: failures === 0, elements: want.data.length, failures, maxRatio, maxUlps, mismatches: worstFirst(worst),
    ...(proneCount ? { overflowProne: proneCount } : {}), ...(overflowed ? { overflowed } : {}),
  };
}


/** The tolerance in words, for the `against` of a check: "4 ulp", "rtol 1e-5, atol 1e-7". */
export function describeTolerance(t: ExpectedTolerance): string {
  if ('ulps' in t) return `${t.ulps} ulp`;
  return [t.rtol !== undefined ? `rtol ${t.rtol}` : '', t.atol !== undefined ? `atol ${t.atol}` : ''].filter(Boolean).join(', ');
}

/** The float32 spacing at v: the distance from |v| to the next float32 away from zero. */
function ulpAt(v: number): number {
  const a = Math.abs(Math.fround(v));
  SCRATCH_F32[0] = a;
  SCRATCH_I32[0] += 1;
  return SCRATCH_F32[0] - a;
}

/**
 * Compares `got` with expected values computed elsewhere, within their declared tolerance: with
 * `ulps`, an element passes at most that many float32 ULPs away (ratio = ulps / allowed); with
 * rtol/atol, when |got - want| <= atol + rtol * |want| (numpy's allclose). Non-finite values
 * compare exactly (NaN only with NaN); the sign of zero is not seen.
 */
export function compareWithin(got: Values, want: Values, tolerance: ExpectedTolerance): TensorComparison {
  if (!('ulps' in tolerance)) {
    const { rtol = 0, atol = 0 } = tolerance;
    const budget = new Float64Array(want.data.length);
    for (let i = 0; i < budget.length; i++) budget[i] = atol + rtol * Math.abs(want.data[i]);
    return compareTensor(got, want, budget);
  }
  const mismatched = shapeMismatch(got, want);
  if (mismatched) return mismatched;
  const allowed = tolerance.ulps;
  let failures = 0, maxRatio = 0, maxUlps = 0;
  const mismatches: Mismatch[] = [];
  for (let i = 0; i < want.data.length; i++) {
    const g = got.data[i], w = Math.fround(want.data[i]);
    const finite = Number.isFinite(g) && Number.isFinite(w);
    const same = Number.isNaN(g) ? Number.isNaN(w) : g === w;
    const ulps = same ? 0 : finite ? ulpDistance(g, w) : Number.POSITIVE_INFINITY;
    const ratio = ulps === 0 ? 0 : allowed === 0 ? Number.POSITIVE_INFINITY : ulps / allowed;
    if (ratio > maxRatio) maxRatio = ratio;
    if (ulps > maxUlps) maxUlps = ulps;
    if (ratio > 1) {
      failures++;
      // The budget shown in value units: the allowed ULPs at the expected value.
      const budget = finite ? allowed * ulpAt(w) : 0;
      keep(mismatches, { index: i, coord: unravel(i, want.shape), got: g, want: w, error: finite ? Math.abs(g - w) : Number.POSITIVE_INFINITY, budget, ratio, ulps });
    }
  }
  return { ok: failures === 0, elements: want.data.length, failures, maxRatio, maxUlps, mismatches: worstFirst(mismatches) };
}

/**
 * Compares `got` with `want` under the budgets of reference `ref` (float32Results: 1 when `want` is
 * the reference's own values, 2 when it is another float32 engine's), overflow-prone elements
 * included.
 */
export function compareToReference(
  got: { shape: readonly number[]; data: ArrayLike<number> },
  want: { shape: readonly number[]; data: ArrayLike<number> },
  ref: Reference, float32Results: 1 | 2, factor = 1,
): TensorComparison {
  return compareTensor(got, want, budgets(ref, float32Results, factor), overflowProne(ref));
}

/** Axis names of a tensor role, for naming an element: (n, c, y, x), (o, i, ky, kx), (o); in NHWC (n, y, x, c), (ky, kx, i, o). */
export function axisNames(tensor: string, rank: number, layout: Layout = 'NCHW'): string[] {
  if (tensor === 'dw' || tensor === 'w') return layout === 'NCHW' ? ['o', 'i', 'ky', 'kx'] : ['ky', 'kx', 'i', 'o'];
  if (tensor === 'db' || tensor === 'bias') return ['o'];
  if (rank !== 4) return Array.from({ length: rank }, (_, i) => `d${i}`);
  return layout === 'NCHW' ? ['n', 'c', 'y', 'x'] : ['n', 'y', 'x', 'c'];
}

/** A number as text, keeping the sign of zero (`${-0}` is "0"). */
const signed = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

export function formatMismatch(tensor: string, m: Mismatch): string {
  const names = axisNames(tensor, m.coord.length);
  const at = `(${names.join(', ')}) = (${m.coord.join(', ')})`;
  return `${tensor}${at}: got ${signed(m.got)}, want ${signed(m.want)}, error ${m.error.toExponential(3)}, ` +
    `budget ${m.budget.toExponential(3)} (${Number.isFinite(m.ratio) ? m.ratio.toFixed(2) : 'inf'}x), ${m.ulps} ulp`;
}
