// Average pooling by window sums. With WebAssembly SIMD (wasm.ts) and column stride 1 or 2, the
// forward is asm/avgpool.as: float32 row sums then column sums, divided by each window's divisor.
// Otherwise, and for the backward, sums are float64: with padding or ceil-mode overhang, each input
// plane is first copied into a padded plane (poolplane.ts) whose padding holds -0, the exact
// identity of addition, so every window sums all its taps without bounds checks; without, windows
// read the input directly. Each sum is multiplied by the reciprocal of its divisor. Divisors come
// from the geometry's rule (avgPoolDivisor: countIncludePad, overhang never counts), tabulated once
// per call as (rows inside) * (columns inside).
import { avgPoolDivisor, type Pool2dGeometry, poolOutputShape } from '../../harness/geometry.ts';
import type { Tensor } from '../../harness/tensor.ts';
import { grownFloat32, grownFloat64, type PaddedPlane, paddedPlane, tapOffsets } from './poolplane.ts';
import { planesPerCall, simd, type SimdGemm } from './wasm.ts';

let padded: Float32Array = new Float32Array(0);
let taps: Int32Array = new Int32Array(0);
let reciprocals: Float64Array = new Float64Array(0);

/**
 * The divisor of every output position: (rows inside) * (columns inside), one factor per axis from
 * avgPoolDivisor applied to a one-column (one-row) window; `at(oy, ox, divisor)` receives each.
 */
function eachDivisor(g: Pool2dGeometry, at: (oy: number, ox: number, divisor: number) => void): void {
  const column = { ...g, kernelWidth: 1, dilationWidth: 1 };
  const row = { ...g, kernelHeight: 1, dilationHeight: 1 };
  for (let oy = 0; oy < g.outHeight; oy++) {
    const rows = avgPoolDivisor(column, oy * g.strideHeight - g.padTop, 0);
    for (let ox = 0; ox < g.outWidth; ox++) at(oy, ox, rows * avgPoolDivisor(row, 0, ox * g.strideWidth - g.padLeft));
  }
}

/** 1 / divisor of every output position oy * OW + ox, into the scratch `reciprocals`. */
function tabulateReciprocals(g: Pool2dGeometry): void {
  reciprocals = grownFloat64(reciprocals, g.outHeight * g.outWidth);
  eachDivisor(g, (oy, ox, d) => { reciprocals[oy * g.outWidth + ox] = 1 / d; });
}

/** The plane windows read: the padded scratch (sized, -0 everywhere) or the input itself. */
function prepare(g: Pool2dGeometry): PaddedPlane {
  const plane = paddedPlane(g);
  if (!plane.bare) {
    const n = plane.height * plane.width;
    padded = grownFloat32(padded, n);
    padded.fill(-0, 0, n);
  }
  taps = tapOffsets(g, plane.width, taps);
  tabulateReciprocals(g);
  return plane;
}

/** Copies the input plane at x[offset] into the padded scratch (the padding keeps its -0). */
function copyIn(x: Float32Array, offset: number, g: Pool2dGeometry, plane: PaddedPlane): void {
  for (let iy = 0; iy < g.inHeight; iy++) {
    const start = offset + iy * g.inWidth;
    const shift = (iy + g.padTop) * plane.width + g.padLeft - start;
    for (let i = start; i < start + g.inWidth; i++) padded[i + shift] = x[i];
  }
}

/**
 * True when the one window is the whole input plane, its taps contiguous (global pooling). Not
 * when a dilated window of as many taps as the plane has elements reaches into padding.
 */
function isWholePlane(g: Pool2dGeometry): boolean {
  return g.outHeight === 1 && g.outWidth === 1 && g.padTop === 0 && g.padLeft === 0 &&
    g.effectiveKernelHeight === g.inHeight && g.effectiveKernelWidth === g.inWidth &&
    g.kernelHeight === g.inHeight && g.kernelWidth === g.inWidth;
}

/** Averages of every window of the plane at src[offset] (rows `width` apart) into y from o. */
function averageWindows(src: Float32Array, offset: number, g: Pool2dGeometry, width: number, y: Float32Array, o: number): void {
  const t = taps;
  const r = reciprocals;
  const n = g.kernelHeight * g.kernelWidth;
  if (isWholePlane(g)) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0; // four chains: the adds do not wait on each other
    let i = offset;
    for (; i + 3 < offset + n; i += 4) { s0 += src[i]; s1 += src[i + 1]; s2 += src[i + 2]; s3 += src[i + 3]; }
    for (; i < offset + n; i++) s0 += src[i];
    y[o] = (s0 + s1 + (s2 + s3)) * r[0];
    return;
  }
  const unrolled = n === 4 && g.dilationHeight === 1 && g.dilationWidth === 1 && g.kernelWidth === 2;
  for (let oy = 0, p = 0; oy < g.outHeight; oy++) {
    let b = offset + oy * g.strideHeight * width;
    for (let ox = 0; ox < g.outWidth; ox++, b += g.strideWidth, p++) {
      let s: number;
      if (unrolled) s = src[b] + src[b + 1] + src[b + width] + src[b + width + 1];
      else {
        s = src[b];
        for (let j = 1; j < n; j++) s += src[b + t[j]];
      }
      y[o + p] = s * r[p];
    }
  }
}

/** The forward on asm/avgpool.as into y. */
function simdAvgPool(s: SimdGemm, x: Float32Array, y: Float32Array, g: Pool2dGeometry): void {
  const plane = paddedPlane(g);
  const planes = g.batch * g.channels, inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth;
  const chunk = planesPerCall(planes, inPlane);
  const OWp = Math.ceil(g.outWidth / 4) * 4;
  s.reset();
  const xp = s.alloc(4 * chunk * inPlane), yp = s.alloc(4 * chunk * outPlane);
  const row = s.alloc(4 * (plane.width + 32)), hb = s.alloc(4 * plane.height * OWp), div = s.alloc(4 * g.outHeight * OWp);
  const f = s.f32();
  f.fill(1, div >>> 2, (div >>> 2) + g.outHeight * OWp);
  eachDivisor(g, (oy, ox, d) => { f[(div >>> 2) + oy * OWp + ox] = d; });
  s.apGeometry(g.inHeight, g.inWidth, g.padTop, g.padLeft, plane.width, plane.height, g.kernelHeight, g.kernelWidth,
    g.strideHeight, g.strideWidth, g.dilationHeight, g.dilationWidth, g.outHeight, g.outWidth, row, isWholePlane(g) ? 1 : 0);
  for (let p0 = 0; p0 < planes; p0 += chunk) {
    const count = Math.min(chunk, planes - p0);
    f.set(x.subarray(p0 * inPlane, (p0 + count) * inPlane), xp >>> 2);
    s.apForward(xp, count, yp, row, hb, div);
    y.set(f.subarray(yp >>> 2, (yp >>> 2) + count * outPlane), p0 * outPlane);
  }
}

export function avgPool2d(x: Tensor, g: Pool2dGeometry): Tensor {
  const planes = g.batch * g.channels;
  const inPlane = g.inHeight * g.inWidth;
  const outPlane = g.outHeight * g.outWidth;
  const y = new Float32Array(planes * outPlane);
  if (simd && planes > 0 && outPlane > 0 && (g.strideWidth === 1 || g.strideWidth === 2)) {
    simdAvgPool(simd, x.data, y, g);
    return { shape: poolOutputShape(g), data: y };
  }
  const plane = prepare(g);
  for (let p = 0; p < planes; p++) {
    if (plane.bare) averageWindows(x.data, p * inPlane, g, plane.width, y, p * outPlane);
    else {
      copyIn(x.data, p * inPlane, g, plane);
      averageWindows(padded, 0, g, plane.width, y, p * outPlane);
    }
  }
  return { shape: poolOutputShape(g), data: y };
}

/** Adds dy[o + p] / divisor to every tap of each window of the plane at dst[offset] (rows `width` apart). */
function spreadWindows(dy: Float32Array, o: number, g: Pool2dGeometry, width: number, dst: Float32Array, offset: number): void {
  const t = taps;
  const r = reciprocals;
  const n = g.kernelHeight * g.kernelWidth;
  if (isWholePlane(g)) {
    dst.fill(dy[o] * r[0], offset, offset + n);
    return;
  }
  // Undilated 2x2 windows that do not overlap: each tap is written once, dst is still zero there.
  const disjoint2x2 = n === 4 && g.kernelWidth === 2 && g.dilationHeight === 1 && g.dilationWidth === 1 &&
    g.strideHeight >= 2 && g.strideWidth >= 2;
  for (let oy = 0, p = 0; oy < g.outHeight; oy++) {
    let b = offset + oy * g.strideHeight * width;
    for (let ox = 0; ox < g.outWidth; ox++, b += g.strideWidth, p++) {
      const share = dy[o + p] * r[p];
      if (disjoint2x2) {
        dst[b] = share; dst[b + 1] = share; dst[b + width] = share; dst[b + width + 1] = share;
      } else {
        for (let j = 0; j < n; j++) dst[b + t[j]] += share;
      }
    }
  }
}

export function avgPool2dBackward(x: Tensor, dy: Tensor, g: Pool2dGeometry): Tensor {
  const planes = g.batch * g.channels;
  const inPlane = g.inHeight * g.inWidth;
  const outPlane = g.outHeight * g.outWidth;
  const dx = new Float32Array(x.data.length);
  const plane = prepare(g);
  const n = plane.height * plane.width;
  for (let p = 0; p < planes; p++) {
    if (plane.bare) {
      spreadWindows(dy.data, p * outPlane, g, plane.width, dx, p * inPlane);
      continue;
    }
    padded.fill(0, 0, n);
    spreadWindows(dy.data, p * outPlane, g, plane.width, padded, 0);
    for (let iy = 0; iy < g.inHeight; iy++) { // keep the input region, drop the padding
      const start = p * inPlane + iy * g.inWidth;
      const shift = (iy + g.padTop) * plane.width + g.padLeft - start;
      for (let i = start; i < start + g.inWidth; i++) dx[i] = padded[i + shift];
    }
  }
  return { shape: [...x.shape], data: dx };
}
