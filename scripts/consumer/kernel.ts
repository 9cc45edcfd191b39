// A user's kernel in TypeScript, typed by convbench's declarations: average pooling forward, NCHW,
// loaded with --impl as it is (tsx loads it) and type-checked by the consumer's strict tsc.
import { avgPoolDivisor, defineImplementation, type Pool2dGeometry, type Tensor } from 'convbench';

function avgPool2d(x: Tensor, g: Pool2dGeometry): Tensor {
  const y = new Float32Array(g.batch * g.channels * g.outHeight * g.outWidth);
  let o = 0;
  for (let nc = 0; nc < g.batch * g.channels; nc++) {
    const plane = nc * g.inHeight * g.inWidth;
    for (let oy = 0; oy < g.outHeight; oy++) {
      for (let ox = 0; ox < g.outWidth; ox++) {
        let sum = 0;
        for (let ky = 0; ky < g.kernelHeight; ky++) {
          const iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight;
          if (iy < 0 || iy >= g.inHeight) continue;
          for (let kx = 0; kx < g.kernelWidth; kx++) {
            const ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth;
            if (ix >= 0 && ix < g.inWidth) sum += x.data[plane + iy * g.inWidth + ix] ?? 0;
          }
        }
        y[o++] = sum / avgPoolDivisor(g, oy * g.strideHeight - g.padTop, ox * g.strideWidth - g.padLeft);
      }
    }
  }
  return { shape: [g.batch, g.channels, g.outHeight, g.outWidth], data: y };
}

export default defineImplementation({ name: 'typed', layout: 'NCHW', avgPool2d });
