// The padding rule (cases/README.md "Numerics rules"): zero padding takes part in conv2d's
// products, in reference64 and in the naive kernels alike; padding products never add roundings.
import { describe, expect, it } from 'vitest';
import { conv2d as naiveConv2d, conv2dBackward as naiveBackward } from '../../implementations/naive/conv2d.ts';
import { type ConvCase, loadCaseText } from '../cases/load.ts';
import { conv2dBackward64, conv2dForward64 } from './reference64.ts';

function convCase(x: string, w: string, dy: string, padding: string): ConvCase {
  const { cases, errors } = loadCaseText(`cases:
  - name: padding rule
    op: conv2d
    attributes: { padding: ${padding} }
    inputs: { x: ${x}, w: ${w}, dy: ${dy} }
`, 'padding.test.yaml');
  expect(errors.map((e) => e.message)).toEqual([]);
  const c = cases[0];
  if (c.op !== 'conv2d') throw new Error('not conv');
  return c;
}
const X = '[[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]';
const ONES = '[[[[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]]]]';
const NAN_ROW0_COL0 = Array.from({ length: 16 }, (_, i) => (i < 4 || i % 4 === 0 ? NaN : Infinity));

describe('zero padding takes part in the products', () => {
  it('forward: a +inf weight meeting padding gives NaN (reference64 and naive); n and S count in-bounds products only', () => {
    const c = convCase(X, '[[[[.inf, 1], [-1, 2]]]]', ONES, '1');
    const r = conv2dForward64(c.x, c.w, undefined, c.geometry);
    expect(Array.from(r.value)).toEqual(NAN_ROW0_COL0);
    expect(Array.from(naiveConv2d(c.x, c.w, undefined, c.geometry).data)).toEqual(NAN_ROW0_COL0);
    expect(r.rounds[0]).toBe(1); // only x(0,0) * w(1,1) is in bounds
    const finite = convCase(X, '[[[[3, 1], [-1, 2]]]]', ONES, '1');
    const f = conv2dForward64(finite.x, finite.w, undefined, finite.geometry);
    expect([f.value[0], f.absSum[0], f.rounds[0]]).toEqual([2, 2, 1]);
    expect(Array.from(naiveConv2d(finite.x, finite.w, undefined, finite.geometry).data)).toEqual(Array.from(f.value));
  });

  it('backward: a non-finite dy meeting padding gives NaN in dw only; dx and db as without padding', () => {
    const dy = '[[[[.nan, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]]]]';
    const c = convCase(X, '[[[[1, 2], [3, 4]]]]', dy, '1');
    const r = conv2dBackward64(c.x, c.w, c.dy, c.geometry);
    const n = naiveBackward(c.x, c.w, c.dy, c.geometry);
    // dy(0,0) = NaN reads x(0,0) at tap (1,1) and padding at the others: NaN everywhere in dw.
    expect(Array.from(r.dw.value)).toEqual([NaN, NaN, NaN, NaN]);
    expect(Array.from(n.dw.data)).toEqual([NaN, NaN, NaN, NaN]);
    expect(Array.from(r.dw.rounds)).toEqual([9, 9, 9, 9]); // each tap reads every x once
    // dx: only dx(0,0) takes dy(0,0) (through w(1,1)); the rest is 1 + 2 + 3 + 4.
    const dx = [NaN, 10, 10, 10, 10, 10, 10, 10, 10];
    expect(Array.from(r.dx.value)).toEqual(dx);
    expect(Array.from(n.dx.data)).toEqual(dx);
    expect(r.db.value[0]).toBeNaN();
    // Without padding an inf dy meets only x > 0: dw is +inf, never NaN.
    const valid = convCase(X, '[[[[1, 2], [3, 4]]]]', '[[[[.inf, 1], [1, 1]]]]', '0');
    const v = conv2dBackward64(valid.x, valid.w, valid.dy, valid.geometry);
    expect(Array.from(v.dw.value)).toEqual([Infinity, Infinity, Infinity, Infinity]);
  });
});
