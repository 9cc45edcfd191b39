// The second call: every kernel is called again on each geometry with every input changed, so a
// kernel that keeps anything between calls (a result, a packed weight, an argmax, keyed by shape) is
// caught. Where the op is linear in its inputs, the right answer follows exactly from the first
// call's reference: negation and scaling by powers of two are exact in float32 and commute with
// every rounding (round-to-nearest is symmetric and scale-free away from overflow and underflow),
// so no second reference computation is needed. Max pooling is not linear: its inputs are negated
// (every window's maximum moves, and with it the indices) and reference64 computes the second
// answer (cheap for pooling).
import type { Case } from './cases/load.ts';
import type { Computation } from './invoke.ts';
import type { Reference, References } from './oracles/reference64.ts';
import type { Tensor } from './tensor.ts';

export interface Mirror {
  /** The case with the changed inputs (same geometry and id, no exact expected values). */
  c: Case;
  /** What was changed, for messages: "x negated, w times 2, bias times -2". */
  what: string;
  /** reference64's outputs of the changed case from the first call's; undefined: compute them. */
  references?(refs: References): References;
}

const scaled = (t: Tensor, s: number): Tensor => ({ shape: t.shape, data: t.data.map((v) => v * s) });
const scaledRef = (r: Reference, s: number): Reference => ({
  ...r, value: r.value.map((v) => v * s), absSum: r.absSum.map((v) => v * Math.abs(s)),
  ...(r.peak ? { peak: r.peak.map((v) => v * Math.abs(s)) } : {}),
});

/** Each output's reference scaled by its own factor. */
function scaledRefs(factors: Partial<Record<'y' | 'dx' | 'dw' | 'db', number>>) {
  return (refs: References): References => {
    const out: References = {};
    for (const name of ['y', 'dx', 'dw', 'db'] as const) {
      const r = refs[name];
      const s = factors[name];
      if (r && s !== undefined) out[name] = scaledRef(r, s);
    }
    return out;
  };
}

/** Scaling by 2 or 4 stays exact while no input, output or partial sum comes near the float32 range's top. */
function small(values: readonly (ArrayLike<number> | undefined)[]): boolean {
  for (const data of values) {
    for (let i = 0; i < (data?.length ?? 0); i++) {
      const v = Math.abs(data?.[i] ?? 0);
      if (v > 2 ** 100 && Number.isFinite(v)) return false;
    }
  }
  return true;
}

const times = (s: number): string => (s === -1 ? 'negated' : `times ${s}`);

/** The second call of a computation; `refs` are the first call's (they bound what scaling may reach). */
export function mirrorOf(c: Case, computation: Computation, refs: References): Mirror {
  if (c.op === 'conv2d') {
    // With values near the top of the range, negation alone (always exact).
    const outputs = Object.values(refs).flatMap((r) => (r ? [r.value, r.absSum] : []));
    const exact = small([c.x.data, c.w.data, c.bias?.data, c.dy.data, ...outputs]);
    const [sx, sw] = computation === 'forward' ? (exact ? [-1, 2] : [-1, 1]) : (exact ? [2, 4] : [1, 1]);
    if (computation === 'forward') {
      const sb = sx * sw;
      return {
        c: { ...c, expected: {}, x: scaled(c.x, sx), w: scaled(c.w, sw), ...(c.bias ? { bias: scaled(c.bias, sb) } : {}) },
        what: `x ${times(sx)}, w ${times(sw)}${c.bias ? `, bias ${times(sb)}` : ''}`,
        references: scaledRefs({ y: sb }),
      };
    }
    return {
      c: { ...c, expected: {}, x: scaled(c.x, sx), w: scaled(c.w, sw), dy: scaled(c.dy, -1) },
      what: `x ${times(sx)}, w ${times(sw)}, dy negated`,
      references: scaledRefs({ dx: -sw, dw: -sx, db: -1 }),
    };
  }
  const changed: Case = { ...c, expected: {}, x: scaled(c.x, -1), dy: scaled(c.dy, -1) };
  const what = computation === 'backward' ? 'x and dy negated' : 'x negated';
  if (c.op === 'maxpool2d') return { c: changed, what };
  return { c: changed, what, references: scaledRefs(computation === 'forward' ? { y: -1 } : { dx: -1 }) };
}
