// Average pooling via im2col: per channel plane, the value column col[kH*kW, OH*OW] (zeros for
// padding taps) is summed over taps in row-major window order and divided by the geometry's
// divisor (avgPoolDivisor: countIncludePad and ceil-mode overhang). Backward spreads dy / divisor
// over each window's in-bounds taps with col2im.
import { avgPoolDivisor, type Pool2dGeometry, poolOutputShape } from '../../harness/geometry.ts';
import { type Tensor, zeros } from '../../harness/tensor.ts';
import { col2im, im2col, tapIndex } from './columns.ts';

/** Divisor of every output position p = oy * OW + ox. */
function divisors(g: Pool2dGeometry): Float64Array {
  const div = new Float64Array(g.outHeight * g.outWidth);
  for (let oy = 0, p = 0; oy < g.outHeight; oy++)
    for (let ox = 0; ox < g.outWidth; ox++) {
      div[p++] = avgPoolDivisor(g, oy * g.strideHeight - g.padTop, ox * g.strideWidth - g.padLeft);
    }
  return div;
}

export function avgPool2d(x: Tensor, g: Pool2dGeometry): Tensor {
  const y = zeros(poolOutputShape(g));
  const P = g.outHeight * g.outWidth;
  const inPlane = g.inHeight * g.inWidth;
  const idx = tapIndex(g);
  const div = divisors(g);
  const col = new Float32Array(idx.length);
  const sum = new Float64Array(P);
  for (let plane = 0; plane < g.batch * g.channels; plane++) {
    im2col(x.data, plane * inPlane, idx, col, 0);
    sum.fill(0);
    for (let row = 0; row < col.length; row += P)
      for (let p = 0; p < P; p++) sum[p] += col[row + p];
    for (let p = 0; p < P; p++) y.data[plane * P + p] = sum[p] / div[p];
  }
  return y;
}

export function avgPool2dBackward(x: Tensor, dy: Tensor, g: Pool2dGeometry): Tensor {
  const dx = new Float64Array(x.data.length);
  const P = g.outHeight * g.outWidth;
  const inPlane = g.inHeight * g.inWidth;
  const idx = tapIndex(g);
  const div = divisors(g);
  const dcol = new Float64Array(idx.length);
  for (let plane = 0; plane < g.batch * g.channels; plane++) {
    // dcol[t, p] = dy[p] / divisor[p] for every tap t; col2im drops the padding taps.
    for (let p = 0; p < P; p++) dcol[p] = dy.data[plane * P + p] / div[p];
    for (let row = P; row < dcol.length; row += P) dcol.copyWithin(row, 0, P);
    col2im(dcol, 0, idx, dx, plane * inPlane);
  }
  return { shape: [...x.shape], data: Float32Array.from(dx) };
}
