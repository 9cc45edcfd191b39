// Max pooling by direct loops. Padding never wins; ties go to the first maximum in row-major
// window order; a NaN wins (propagateNan) or is skipped. maxPool2dWithIndices also gives, per
// output, the index of that maximum (the tap the gradient goes to) in the geometry's storage order.
import { maxPoolIndex, type Pool2dGeometry } from '../../harness/geometry.ts';
import type { MaxPoolWithIndices } from '../../harness/implementation.ts';
import { type Tensor, zeros } from '../../harness/tensor.ts';

/** Flat input offset of the maximum of the window of output (plane, oy, ox); valid geometry always has a tap. */
function argmax(x: Tensor, g: Pool2dGeometry, plane: number, oy: number, ox: number): number {
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  let firstNan = -1;
  for (let ky = 0; ky < g.kernelHeight; ky++) {
    const iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight;
    if (iy < 0 || iy >= g.inHeight) continue;
    for (let kx = 0; kx < g.kernelWidth; kx++) {
      const ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth;
      if (ix < 0 || ix >= g.inWidth) continue;
      const i = plane + iy * g.inWidth + ix;
      const v = x.data[i];
      if (Number.isNaN(v)) {
        if (g.propagateNan) return i;
        if (firstNan < 0) firstNan = i;
      } else if (best < 0 || v > bestValue) {
        best = i;
        bestValue = v;
      }
    }
  }
  return best >= 0 ? best : firstNan; // an all-NaN window yields NaN from its first tap
}

export function maxPool2d(x: Tensor, g: Pool2dGeometry): Tensor {
  const y = zeros([g.batch, g.channels, g.outHeight, g.outWidth]);
  let o = 0;
  for (let nc = 0; nc < g.batch * g.channels; nc++) {
    const plane = nc * g.inHeight * g.inWidth;
    for (let oy = 0; oy < g.outHeight; oy++)
      for (let ox = 0; ox < g.outWidth; ox++) y.data[o++] = x.data[argmax(x, g, plane, oy, ox)];
  }
  return y;
}

export function maxPool2dBackward(x: Tensor, dy: Tensor, g: Pool2dGeometry): Tensor {
  const dx = new Float64Array(x.data.length);
  let o = 0;
  for (let nc = 0; nc < g.batch * g.channels; nc++) {
    const plane = nc * g.inHeight * g.inWidth;
    for (let oy = 0; oy < g.outHeight; oy++)
      for (let ox = 0; ox < g.outWidth; ox++) dx[argmax(x, g, plane, oy, ox)] += dy.data[o++];
  }
  return { shape: [...x.shape], data: Float32Array.from(dx) };
}

export function maxPool2dWithIndices(x: Tensor, g: Pool2dGeometry): MaxPoolWithIndices {
  const y = zeros([g.batch, g.channels, g.outHeight, g.outWidth]);
  const indices = zeros(y.shape);
  const planeSize = g.inHeight * g.inWidth;
  let o = 0;
  for (let n = 0; n < g.batch; n++)
    for (let c = 0; c < g.channels; c++) {
      const plane = (n * g.channels + c) * planeSize;
      for (let oy = 0; oy < g.outHeight; oy++)
        for (let ox = 0; ox < g.outWidth; ox++, o++) {
          const i = argmax(x, g, plane, oy, ox);
          y.data[o] = x.data[i];
          const within = i - plane;
          indices.data[o] = maxPoolIndex(g, n, c, Math.floor(within / g.inWidth), within % g.inWidth);
        }
    }
  return { y, indices };
}
