// Average pooling by direct loops; the divisor rule (count_include_pad, ceil overhang) is geometry's.
import { avgPoolDivisor, type Pool2dGeometry } from '../../harness/geometry.ts';
import { type Tensor, zeros } from '../../harness/tensor.ts';

/** Calls visit(inputOffset) for each in-bounds tap of the window of (plane, oy, ox). */
function forEachTap(g: Pool2dGeometry, plane: number, oy: number, ox: number, visit: (i: number) => void): void {
  for (let ky = 0; ky < g.kernelHeight; ky++) {
    const iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight;
    if (iy < 0 || iy >= g.inHeight) continue;
    for (let kx = 0; kx < g.kernelWidth; kx++) {
      const ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth;
      if (ix >= 0 && ix < g.inWidth) visit(plane + iy * g.inWidth + ix);
    }
  }
}

export function avgPool2d(x: Tensor, g: Pool2dGeometry): Tensor {
  const y = zeros([g.batch, g.channels, g.outHeight, g.outWidth]);
  let o = 0;
  for (let nc = 0; nc < g.batch * g.channels; nc++) {
    const plane = nc * g.inHeight * g.inWidth;
    for (let oy = 0; oy < g.outHeight; oy++)
      for (let ox = 0; ox < g.outWidth; ox++) {
        let sum = 0;
        forEachTap(g, plane, oy, ox, (i) => { sum += x.data[i]; });
        y.data[o++] = sum / avgPoolDivisor(g, oy * g.strideHeight - g.padTop, ox * g.strideWidth - g.padLeft);
      }
  }
  return y;
}

export function avgPool2dBackward(x: Tensor, dy: Tensor, g: Pool2dGeometry): Tensor {
  const dx = new Float64Array(x.data.length);
  let o = 0;
  for (let nc = 0; nc < g.batch * g.channels; nc++) {
    const plane = nc * g.inHeight * g.inWidth;
    for (let oy = 0; oy < g.outHeight; oy++)
      for (let ox = 0; ox < g.outWidth; ox++) {
        const share = dy.data[o++] / avgPoolDivisor(g, oy * g.strideHeight - g.padTop, ox * g.strideWidth - g.padLeft);
        forEachTap(g, plane, oy, ox, (i) => { dx[i] += share; });
      }
  }
  return { shape: [...x.shape], data: Float32Array.from(dx) };
}
