// Direct depthwise convolution (groups = input channels, any channel multiplier), forward and
// backward, over a channel range so threads can share the work. Each input plane is first copied
// into a zero-padded plane, so padding taps multiply like any other (0 * inf = NaN, as im2col
// gives) and the inner loops need no bounds checks. With WebAssembly SIMD (wasm.ts) and stride-1
// columns, the float32 SIMD kernels of asm/depthwise.as do it (f32x4 across output columns, the
// weights as splats); otherwise the loops below, whose sums are float64, rounded once.
import type { Conv2dGeometry } from '../../harness/geometry.ts';
import { planesPerCall, simd, type SimdGemm } from './wasm.ts';

const simdShape = (g: Conv2dGeometry) => g.strideWidth === 1;

function simdGeometry(s: SimdGemm, g: Conv2dGeometry, plane: number): void {
  s.dwGeometry(g.inHeight, g.inWidth, g.padTop, g.padLeft, g.padBottom, g.padRight, g.kernelHeight, g.kernelWidth,
    g.strideHeight, g.dilationHeight, g.dilationWidth, g.outHeight, g.outWidth, plane);
}

const planeBytes = (g: Conv2dGeometry) =>
  4 * ((g.inWidth + g.padLeft + g.padRight) * (g.inHeight + g.padTop + g.padBottom) + 16);

function simdForward(s: SimdGemm, x: Float32Array, w: Float32Array, bias: Float32Array | undefined, y: Float32Array,
  g: Conv2dGeometry, c0: number, c1: number): void {
  const mult = g.outChannels / g.inChannels, taps = g.kernelHeight * g.kernelWidth, C = c1 - c0;
  const HW = g.inHeight * g.inWidth, OHW = g.outHeight * g.outWidth;
  // Planes per call: input channels of one image, or images of a single-channel conv (below).
  const chunk = planesPerCall(g.inChannels === 1 ? g.batch : C, HW);
  s.reset();
  const xp = s.alloc(4 * chunk * HW), wp = s.alloc(4 * C * mult * taps), bp = s.alloc(4 * C * mult);
  const yp = s.alloc(4 * chunk * mult * OHW), plane = s.alloc(planeBytes(g));
  const f = s.f32();
  f.set(w.subarray(c0 * mult * taps, c1 * mult * taps), wp >>> 2);
  if (bias) f.set(bias.subarray(c0 * mult, c1 * mult), bp >>> 2);
  simdGeometry(s, g, plane);
  if (g.inChannels === 1) {
    // A single-channel conv: its images are consecutive planes with the same filters, so several
    // go in one call (bench:kernels measured LeNet c1 at 4.5-6.4 GFLOP/s with a call per image,
    // 5.3-10.9 since).
    for (let n = 0; n < g.batch; n += chunk) {
      const count = Math.min(chunk, g.batch - n);
      f.set(x.subarray(n * HW, (n + count) * HW), xp >>> 2);
      s.dwForward(xp, count, mult, wp, bp, bias ? 1 : 0, yp, plane, 1);
      y.set(f.subarray(yp >>> 2, (yp >>> 2) + count * mult * OHW), n * mult * OHW);
    }
    return;
  }
  for (let n = 0; n < g.batch; n++)
    for (let c = c0; c < c1; c += chunk) {
      const count = Math.min(chunk, c1 - c), from = (n * g.inChannels + c) * HW, k = c - c0;
      f.set(x.subarray(from, from + count * HW), xp >>> 2);
      s.dwForward(xp, count, mult, wp + 4 * k * mult * taps, bp + 4 * k * mult, bias ? 1 : 0, yp, plane, 0);
      y.set(f.subarray(yp >>> 2, (yp >>> 2) + count * mult * OHW), (n * g.outChannels + c * mult) * OHW);
    }
}

function simdBackward(s: SimdGemm, x: Float32Array, w: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array,
  g: Conv2dGeometry, c0: number, c1: number): void {
  const mult = g.outChannels / g.inChannels, taps = g.kernelHeight * g.kernelWidth, C = c1 - c0;
  const HW = g.inHeight * g.inWidth, OHW = g.outHeight * g.outWidth;
  const chunk = planesPerCall(C, HW);
  s.reset();
  const xp = s.alloc(4 * chunk * HW), wp = s.alloc(4 * C * mult * taps), dyp = s.alloc(4 * chunk * mult * OHW);
  const dxp = s.alloc(4 * chunk * HW), accp = s.alloc(8 * C * mult * taps);
  const plane = s.alloc(planeBytes(g)), q = s.alloc(planeBytes(g));
  const f = s.f32(), d = s.f64();
  f.set(w.subarray(c0 * mult * taps, c1 * mult * taps), wp >>> 2);
  d.fill(0, accp >>> 3, (accp >>> 3) + C * mult * taps);
  simdGeometry(s, g, plane);
  for (let n = 0; n < g.batch; n++)
    for (let c = c0; c < c1; c += chunk) {
      const count = Math.min(chunk, c1 - c), k = c - c0;
      const from = (n * g.inChannels + c) * HW, dyFrom = (n * g.outChannels + c * mult) * OHW;
      f.set(x.subarray(from, from + count * HW), xp >>> 2);
      f.set(dy.subarray(dyFrom, dyFrom + count * mult * OHW), dyp >>> 2);
      s.dwBackward(xp, count, mult, wp + 4 * k * mult * taps, dyp, dxp, accp + 8 * k * mult * taps, plane, q);
      dx.set(f.subarray(dxp >>> 2, (dxp >>> 2) + count * HW), from);
    }
  for (let i = 0; i < C * mult * taps; i++) dw[c0 * mult * taps + i] = d[(accp >>> 3) + i];
}

let paddedPlane: Float64Array = new Float64Array(0);
let accRow: Float64Array = new Float64Array(0);

function padPlane(src: Float32Array, off: number, g: Conv2dGeometry): { data: Float64Array; width: number } {
  const pw = g.inWidth + g.padLeft + g.padRight, ph = g.inHeight + g.padTop + g.padBottom;
  if (paddedPlane.length < pw * ph) paddedPlane = new Float64Array(pw * ph);
  const p = paddedPlane;
  p.fill(0, 0, pw * ph);
  for (let iy = 0; iy < g.inHeight; iy++) {
    const from = off + iy * g.inWidth, to = (iy + g.padTop) * pw + g.padLeft;
    for (let ix = 0; ix < g.inWidth; ix++) p[to + ix] = src[from + ix];
  }
  return { data: p, width: pw };
}

/** y for input channels [c0, c1) of every batch item. */
export function depthwiseForward(x: Float32Array, w: Float32Array, bias: Float32Array | undefined, y: Float32Array,
  g: Conv2dGeometry, c0: number, c1: number): void {
  if (c1 <= c0) return;
  if (simd && simdShape(g)) return simdForward(simd, x, w, bias, y, g, c0, c1);
  const mult = g.outChannels / g.inChannels, kH = g.kernelHeight, kW = g.kernelWidth;
  const OH = g.outHeight, OW = g.outWidth, sH = g.strideHeight, sW = g.strideWidth, dH = g.dilationHeight, dW = g.dilationWidth;
  if (accRow.length < OW) accRow = new Float64Array(OW);
  const acc = accRow;
  const fast3 = kH === 3 && kW === 3 && sW === 1 && dW === 1;
  for (let n = 0; n < g.batch; n++)
    for (let c = c0; c < c1; c++) {
      const { data: p, width: pw } = padPlane(x, (n * g.inChannels + c) * g.inHeight * g.inWidth, g);
      for (let k = 0; k < mult; k++) {
        const o = c * mult + k;
        const wo = o * kH * kW;
        const b = bias ? bias[o] : 0;
        const out = (n * g.outChannels + o) * OH * OW;
        if (fast3) {
          const w0 = w[wo], w1 = w[wo + 1], w2 = w[wo + 2], w3 = w[wo + 3], w4 = w[wo + 4];
          const w5 = w[wo + 5], w6 = w[wo + 6], w7 = w[wo + 7], w8 = w[wo + 8];
          for (let oy = 0; oy < OH; oy++) {
            const r0 = oy * sH * pw, r1 = r0 + dH * pw, r2 = r1 + dH * pw;
            const at = out + oy * OW;
            for (let ox = 0; ox < OW; ox++) {
              y[at + ox] = b + (w0 * p[r0 + ox] + w1 * p[r0 + ox + 1] + w2 * p[r0 + ox + 2]) +
                (w3 * p[r1 + ox] + w4 * p[r1 + ox + 1] + w5 * p[r1 + ox + 2]) +
                (w6 * p[r2 + ox] + w7 * p[r2 + ox + 1] + w8 * p[r2 + ox + 2]);
            }
          }
          continue;
        }
        for (let oy = 0; oy < OH; oy++) {
          acc.fill(0, 0, OW);
          for (let ky = 0; ky < kH; ky++) {
            const row = (oy * sH + ky * dH) * pw;
            for (let kx = 0; kx < kW; kx++) {
              const wv = w[wo + ky * kW + kx];
              const at = row + kx * dW;
              for (let ox = 0; ox < OW; ox++) acc[ox] += wv * p[at + ox * sW];
            }
          }
          const at = out + oy * OW;
          for (let ox = 0; ox < OW; ox++) y[at + ox] = acc[ox] + b;
        }
      }
    }
}

let dxPlane: Float64Array = new Float64Array(0);
let dwAcc: Float64Array = new Float64Array(0);

/**
 * dx for input channels [c0, c1), dw and db of their output channels. dx scatters into a padded
 * float64 plane (the padding part is dropped); dw reads the padded input, so padding taps count.
 */
export function depthwiseBackward(x: Float32Array, w: Float32Array, dy: Float32Array,
  dx: Float32Array, dw: Float32Array, g: Conv2dGeometry, c0: number, c1: number): void {
  if (c1 <= c0) return;
  if (simd && simdShape(g)) return simdBackward(simd, x, w, dy, dx, dw, g, c0, c1);
  const mult = g.outChannels / g.inChannels, kH = g.kernelHeight, kW = g.kernelWidth, taps = kH * kW;
  const OH = g.outHeight, OW = g.outWidth, sH = g.strideHeight, sW = g.strideWidth, dH = g.dilationHeight, dW = g.dilationWidth;
  const pw = g.inWidth + g.padLeft + g.padRight, ph = g.inHeight + g.padTop + g.padBottom;
  if (dxPlane.length < pw * ph) dxPlane = new Float64Array(pw * ph);
  if (dwAcc.length < (c1 - c0) * mult * taps) dwAcc = new Float64Array((c1 - c0) * mult * taps);
  const q = dxPlane, acc = dwAcc;
  acc.fill(0, 0, (c1 - c0) * mult * taps);
  for (let n = 0; n < g.batch; n++)
    for (let c = c0; c < c1; c++) {
      const { data: p } = padPlane(x, (n * g.inChannels + c) * g.inHeight * g.inWidth, g);
      q.fill(0, 0, pw * ph);
      for (let k = 0; k < mult; k++) {
        const o = c * mult + k;
        const wo = o * taps, ai = ((c - c0) * mult + k) * taps;
        const plane = (n * g.outChannels + o) * OH * OW;
        for (let ky = 0; ky < kH; ky++)
          for (let kx = 0; kx < kW; kx++) {
            const wv = w[wo + ky * kW + kx];
            let sum = 0;
            for (let oy = 0; oy < OH; oy++) {
              const at = (oy * sH + ky * dH) * pw + kx * dW, d = plane + oy * OW;
              if (sW === 1) {
                for (let ox = 0; ox < OW; ox++) {
                  const v = dy[d + ox];
                  sum += v * p[at + ox];
                  q[at + ox] += wv * v;
                }
              } else {
                for (let ox = 0; ox < OW; ox++) {
                  const v = dy[d + ox];
                  sum += v * p[at + ox * sW];
                  q[at + ox * sW] += wv * v;
                }
              }
            }
            acc[ai + ky * kW + kx] += sum;
          }
      }
      const out = (n * g.inChannels + c) * g.inHeight * g.inWidth;
      for (let iy = 0; iy < g.inHeight; iy++) {
        const from = (iy + g.padTop) * pw + g.padLeft, to = out + iy * g.inWidth;
        for (let ix = 0; ix < g.inWidth; ix++) dx[to + ix] = q[from + ix];
      }
    }
  for (let i = 0; i < (c1 - c0) * mult * taps; i++) dw[c0 * mult * taps + i] = acc[i];
}
