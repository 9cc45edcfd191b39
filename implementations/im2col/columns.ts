// im2col / col2im through a tap index table shared by conv and pooling.
//
// For one input plane (H x W), the column matrix has one row per window tap t = ky * kW + kx
// (row-major window order) and one column per output position p = oy * OW + ox. The index table
// holds, for each (t, p), the tap's offset iy * W + ix inside the plane, or -1 when the tap lands
// in padding (or ceil-mode overhang). The table depends only on the geometry, so it is built once
// per call and reused for every plane (every batch item and channel).
import type { Conv2dGeometry, Pool2dGeometry } from '../../harness/geometry.ts';
import type { FloatArray } from './gemm.ts';

/** The window fields common to conv and pool geometry records. */
export type WindowGeometry = Pick<Conv2dGeometry & Pool2dGeometry,
  'inHeight' | 'inWidth' | 'outHeight' | 'outWidth' | 'kernelHeight' | 'kernelWidth' |
  'strideHeight' | 'strideWidth' | 'dilationHeight' | 'dilationWidth' | 'padTop' | 'padLeft'>;

/** Int32Array [kH*kW, OH*OW] of in-plane offsets, -1 for padding taps. */
export function tapIndex(g: WindowGeometry): Int32Array {
  const P = g.outHeight * g.outWidth;
  const idx = new Int32Array(g.kernelHeight * g.kernelWidth * P);
  let j = 0;
  for (let ky = 0; ky < g.kernelHeight; ky++)
    for (let kx = 0; kx < g.kernelWidth; kx++)
      for (let oy = 0; oy < g.outHeight; oy++) {
        const iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight;
        const rowInside = iy >= 0 && iy < g.inHeight;
        for (let ox = 0; ox < g.outWidth; ox++) {
          const ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth;
          idx[j++] = rowInside && ix >= 0 && ix < g.inWidth ? iy * g.inWidth + ix : -1;
        }
      }
  return idx;
}

/** col[colOffset + j] = plane value of tap j, or 0 for padding; j over the whole index table. */
export function im2col(src: FloatArray, planeOffset: number, idx: Int32Array, col: FloatArray, colOffset: number): void {
  for (let j = 0; j < idx.length; j++) {
    const i = idx[j];
    col[colOffset + j] = i >= 0 ? src[planeOffset + i] : 0;
  }
}

/** Scatter-add: dst[planeOffset + idx[j]] += col[colOffset + j] for every in-bounds tap j. */
export function col2im(col: FloatArray, colOffset: number, idx: Int32Array, dst: FloatArray, planeOffset: number): void {
  for (let j = 0; j < idx.length; j++) {
    const i = idx[j];
    if (i >= 0) dst[planeOffset + i] += col[colOffset + j];
  }
}
