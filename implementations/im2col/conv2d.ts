// Convolution as im2col + GEMM, per batch item and group.
//   forward:  col[Cg*kH*kW, OH*OW] = im2col(x_n,g);  Y_g[Og, OH*OW] = W_g[Og, Cg*kH*kW] @ col (+ bias)
//   backward: dW_g += dY_g @ col^T;  dcol = W_g^T @ dY_g;  dx_n,g += col2im(dcol);  db = sum of dy
// Transposed operands are strided views into the same buffers (see gemm.ts), never copies.
import { type Conv2dGeometry, convOutputShape } from '../../harness/geometry.ts';
import type { ConvGradients } from '../../harness/implementation.ts';
import { type Tensor, zeros } from '../../harness/tensor.ts';
import { col2im, im2col, tapIndex } from './columns.ts';
import { gemm } from './gemm.ts';

/** Sizes shared by forward and backward. */
function dims(g: Conv2dGeometry) {
  const cg = g.inChannels / g.groups;      // input channels per group
  const og = g.outChannels / g.groups;     // output channels per group
  const taps = g.kernelHeight * g.kernelWidth;
  const positions = g.outHeight * g.outWidth;
  return { cg, og, taps, positions, depth: cg * taps, inPlane: g.inHeight * g.inWidth };
}

export function conv2d(x: Tensor, w: Tensor, bias: Tensor | undefined, g: Conv2dGeometry): Tensor {
  const { cg, og, taps, positions: P, depth, inPlane } = dims(g);
  const y = zeros(convOutputShape(g));
  const idx = tapIndex(g);
  const col = new Float32Array(depth * P);
  for (let n = 0; n < g.batch; n++)
    for (let gi = 0; gi < g.groups; gi++) {
      for (let c = 0; c < cg; c++) im2col(x.data, (n * g.inChannels + gi * cg + c) * inPlane, idx, col, c * taps * P);
      const yOffset = (n * g.outChannels + gi * og) * P;
      if (bias) for (let o = 0; o < og; o++) y.data.fill(bias.data[gi * og + o], yOffset + o * P, yOffset + (o + 1) * P);
      gemm(og, P, depth,
        { data: w.data, offset: gi * og * depth, rowStride: depth, colStride: 1 },
        { data: col, offset: 0, rowStride: P, colStride: 1 },
        { data: y.data, offset: yOffset, rowStride: P },
        bias !== undefined);
    }
  return y;
}

export function conv2dBackward(x: Tensor, w: Tensor, dy: Tensor, g: Conv2dGeometry): ConvGradients {
  const { cg, og, taps, positions: P, depth, inPlane } = dims(g);
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(w.data.length);
  const db = new Float64Array(g.outChannels);
  const idx = tapIndex(g);
  const col = new Float32Array(depth * P);
  const dcol = new Float64Array(depth * P);
  for (let n = 0; n < g.batch; n++)
    for (let gi = 0; gi < g.groups; gi++) {
      const xOffset = (n * g.inChannels + gi * cg) * inPlane;
      for (let c = 0; c < cg; c++) im2col(x.data, xOffset + c * inPlane, idx, col, c * taps * P);
      const dyOffset = (n * g.outChannels + gi * og) * P;
      const dyG = { data: dy.data, offset: dyOffset, rowStride: P, colStride: 1 };
      // dW_g[og, depth] += dY_g[og, P] @ col^T[P, depth]
      gemm(og, depth, P, dyG,
        { data: col, offset: 0, rowStride: 1, colStride: P },
        { data: dw, offset: gi * og * depth, rowStride: depth },
        true);
      // dcol[depth, P] = W_g^T[depth, og] @ dY_g[og, P]
      gemm(depth, P, og,
        { data: w.data, offset: gi * og * depth, rowStride: 1, colStride: depth },
        dyG,
        { data: dcol, offset: 0, rowStride: P },
        false);
      for (let c = 0; c < cg; c++) col2im(dcol, c * taps * P, idx, dx, xOffset + c * inPlane);
      for (let o = 0; o < og; o++) {
        let sum = 0;
        for (let p = dyOffset + o * P, end = p + P; p < end; p++) sum += dy.data[p];
        db[gi * og + o] += sum;
      }
    }
  return {
    dx: { shape: [...x.shape], data: Float32Array.from(dx) },
    dw: { shape: [...w.shape], data: Float32Array.from(dw) },
    db: { shape: [g.outChannels], data: Float32Array.from(db) },
  };
}
