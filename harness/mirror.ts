// The second call: every kernel is called again on each geometry with different data whose correct
// result follows exactly from the first one, so a kernel that keeps results between calls (a cache
// keyed by shape) is caught without a second reference computation. Negation is exact in float32
// and commutes with every rounding (round-to-nearest is symmetric), so negating the right inputs
// negates the outputs bit for bit; max pooling does not commute with negation, so its forward
// scales x by a power of two instead (exact, and order-preserving).
import type { Case } from './cases/load.ts';
import type { References } from './check.ts';
import type { Computation } from './invoke.ts';
import type { Reference } from './oracles/reference64.ts';
import type { Tensor } from './tensor.ts';

export interface Mirror {
  /** The case with the changed inputs (same geometry, same id). */
  c: Case;
  /** What was changed, for messages: "x and bias negated". */
  what: string;
  /** reference64's outputs of the changed case, from the first call's. */
  references(refs: References): References;
}

const scaled = (t: Tensor, s: number): Tensor => ({ shape: t.shape, data: t.data.map((v) => v * s) });
const scaledRef = (r: Reference, s: number): Reference => ({ ...r, value: r.value.map((v) => v * s), absSum: r.absSum.map((v) => v * Math.abs(s)) });

function mapRefs(refs: References, s: number): References {
  const out: References = {};
  for (const name of ['y', 'dx', 'dw', 'db'] as const) {
    const r = refs[name];
    if (r) out[name] = scaledRef(r, s);
  }
  return out;
}

/** A power of two by which all of `data` scales exactly (no overflow, no subnormal), or undefined. */
function exactScale(data: Float32Array): number | undefined {
  let big = 0;
  let small = Number.POSITIVE_INFINITY;
  for (const v of data) {
    const a = Math.abs(v);
    if (!Number.isFinite(a) || a === 0) continue;
    if (a > big) big = a;
    if (a < small) small = a;
  }
  if (big < 2 ** 126) return 2;
  if (small >= 2 ** -124) return 0.5;
  return undefined;
}

/** The second call of a computation, or undefined when no exact transformation exists for its data. */
export function mirrorOf(c: Case, computation: Computation): Mirror | undefined {
  if (c.op === 'conv2d') {
    if (computation === 'forward') {
      return { c: { ...c, x: scaled(c.x, -1), ...(c.bias ? { bias: scaled(c.bias, -1) } : {}) }, what: c.bias ? 'x and bias negated' : 'x negated', references: (r) => mapRefs(r, -1) };
    }
    return { c: { ...c, dy: scaled(c.dy, -1) }, what: 'dy negated', references: (r) => mapRefs(r, -1) };
  }
  if (computation === 'backward') return { c: { ...c, dy: scaled(c.dy, -1) }, what: 'dy negated', references: (r) => mapRefs(r, -1) };
  if (c.op === 'avgpool2d') return { c: { ...c, x: scaled(c.x, -1) }, what: 'x negated', references: (r) => mapRefs(r, -1) };
  const s = exactScale(c.x.data);
  if (s === undefined) return undefined;
  return { c: { ...c, x: scaled(c.x, s) }, what: `x times ${s}`, references: (r) => mapRefs(r, s) };
}
