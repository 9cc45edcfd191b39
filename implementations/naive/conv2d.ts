// Direct nested loops, as in the numpy-naive seed: one output element at a time.
// Zero padding takes part, as the seed's np.pad does: every padding tap reads 0, so y adds 0 * w
// and dw adds dy * 0 (NaN when w or dy is +-inf or NaN); dx gets nothing at padding (it is dropped).
import type { Conv2dGeometry } from '../../harness/geometry.ts';
import type { ConvGradients } from '../../harness/implementation.ts';
import { type Tensor, zeros } from '../../harness/tensor.ts';

export function conv2d(x: Tensor, w: Tensor, bias: Tensor | undefined, g: Conv2dGeometry): Tensor {
  const y = zeros([g.batch, g.outChannels, g.outHeight, g.outWidth]);
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  for (let n = 0; n < g.batch; n++)
    for (let o = 0; o < g.outChannels; o++) {
      const c0 = Math.floor(o / og) * cg;
      for (let oy = 0; oy < g.outHeight; oy++)
        for (let ox = 0; ox < g.outWidth; ox++) {
          let sum = bias ? bias.data[o] : 0;
          for (let c = 0; c < cg; c++)
            for (let ky = 0; ky < g.kernelHeight; ky++) {
              const iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight;
              const rowInside = iy >= 0 && iy < g.inHeight;
              for (let kx = 0; kx < g.kernelWidth; kx++) {
                const ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth;
                const inside = rowInside && ix >= 0 && ix < g.inWidth;
                sum += (inside ? x.data[((n * g.inChannels + c0 + c) * g.inHeight + iy) * g.inWidth + ix] : 0) *
                  w.data[((o * cg + c) * g.kernelHeight + ky) * g.kernelWidth + kx];
              }
            }
          y.data[((n * g.outChannels + o) * g.outHeight + oy) * g.outWidth + ox] = sum;
        }
    }
  return y;
}

/** Each output gradient is spread back over its window: into dx through w, into dw through x. */
export function conv2dBackward(x: Tensor, w: Tensor, dy: Tensor, g: Conv2dGeometry): ConvGradients {
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(w.data.length);
  const db = new Float64Array(g.outChannels);
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  for (let n = 0; n < g.batch; n++)
    for (let o = 0; o < g.outChannels; o++) {
      const c0 = Math.floor(o / og) * cg;
      for (let oy = 0; oy < g.outHeight; oy++)
        for (let ox = 0; ox < g.outWidth; ox++) {
          const d = dy.data[((n * g.outChannels + o) * g.outHeight + oy) * g.outWidth + ox];
          db[o] += d;
          for (let c = 0; c < cg; c++)
            for (let ky = 0; ky < g.kernelHeight; ky++) {
              const iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight;
              const rowInside = iy >= 0 && iy < g.inHeight;
              for (let kx = 0; kx < g.kernelWidth; kx++) {
                const ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth;
                const wi = ((o * cg + c) * g.kernelHeight + ky) * g.kernelWidth + kx;
                if (!rowInside || ix < 0 || ix >= g.inWidth) { dw[wi] += d * 0; continue; } // padding reads 0
                const xi = ((n * g.inChannels + c0 + c) * g.inHeight + iy) * g.inWidth + ix;
                dw[wi] += d * x.data[xi];
                dx[xi] += d * w.data[wi];
              }
            }
        }
    }
  return {
    dx: { shape: [...x.shape], data: Float32Array.from(dx) },
    dw: { shape: [...w.shape], data: Float32Array.from(dw) },
    db: { shape: [g.outChannels], data: Float32Array.from(db) },
  };
}
