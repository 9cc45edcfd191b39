// Average pooling via im2col: per channel plane, the value column col[kH*kW, OH*OW] (zeros for
// padding taps) is summed over taps in row-major window order and divided by the geometry's
// divisor (avgPoolDivisor: countIncludePad and ceil-mode overhang). Backward spreads dy / divisor
// over each window's in-bounds taps with col2im. The tap index table and the divisors are kept
// while the geometry stays the same; the columns are module scratch, grown on demand.
import { avgPoolDivisor, type Pool2dGeometry, poolOutputShape } from '../../harness/geometry.ts';
import type { Tensor } from '../../harness/tensor.ts';
import { col2im, im2col, tapIndex } from './columns.ts';

let key = '';
let idx: Int32Array = new Int32Array(0);
let reciprocals: Float64Array = new Float64Array(0); // 1 / divisor of every output position p = oy * OW + ox
let col: Float32Array = new Float32Array(0);
let dcol: Float64Array = new Float64Array(0);
let sum: Float64Array = new Float64Array(0);

/** Makes the scratch fit geometry g. */
function prepare(g: Pool2dGeometry): void {
  const k = [g.inHeight, g.inWidth, g.outHeight, g.outWidth, g.kernelHeight, g.kernelWidth, g.strideHeight,
    g.strideWidth, g.dilationHeight, g.dilationWidth, g.padTop, g.padLeft, g.padBottom, g.padRight, g.countIncludePad].join();
  if (k === key) return;
  key = k;
  idx = tapIndex(g);
  const P = g.outHeight * g.outWidth;
  reciprocals = new Float64Array(P);
  for (let oy = 0, p = 0; oy < g.outHeight; oy++)
    for (let ox = 0; ox < g.outWidth; ox++) {
      reciprocals[p++] = 1 / avgPoolDivisor(g, oy * g.strideHeight - g.padTop, ox * g.strideWidth - g.padLeft);
    }
  if (col.length < idx.length) { col = new Float32Array(idx.length); dcol = new Float64Array(idx.length); }
  if (sum.length < P) sum = new Float64Array(P);
}

export function avgPool2d(x: Tensor, g: Pool2dGeometry): Tensor {
  prepare(g);
  const P = g.outHeight * g.outWidth;
  const n = idx.length;
  const inPlane = g.inHeight * g.inWidth;
  const y = new Float32Array(g.batch * g.channels * P);
  const s = sum;
  const c = col;
  const r = reciprocals;
  for (let plane = 0; plane < g.batch * g.channels; plane++) {
    im2col(x.data, plane * inPlane, idx, c, 0);
    for (let p = 0; p < P; p++) s[p] = c[p];
    for (let row = P; row < n; row += P)
      for (let p = 0; p < P; p++) s[p] += c[row + p];
    const o = plane * P;
    for (let p = 0; p < P; p++) y[o + p] = s[p] * r[p];
  }
  return { shape: poolOutputShape(g), data: y };
}

export function avgPool2dBackward(x: Tensor, dy: Tensor, g: Pool2dGeometry): Tensor {
  prepare(g);
  const P = g.outHeight * g.outWidth;
  const n = idx.length;
  const inPlane = g.inHeight * g.inWidth;
  const dx = new Float32Array(x.data.length);
  const d = dcol;
  const r = reciprocals;
  for (let plane = 0; plane < g.batch * g.channels; plane++) {
    // dcol[t, p] = dy[p] / divisor[p] for every tap t; col2im drops the padding taps.
    const o = plane * P;
    for (let p = 0; p < P; p++) d[p] = dy.data[o + p] * r[p];
    for (let row = P; row < n; row += P) d.copyWithin(row, 0, P);
    col2im(d, 0, idx, dx, plane * inPlane);
  }
  return { shape: [...x.shape], data: dx };
}
