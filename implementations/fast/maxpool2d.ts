// Max pooling without branches on the data. Each input plane is copied into a padded plane of
// integer order keys (poolplane.ts): the float32 bits turned so that integer order is float order,
// NaN mapped to a key above +inf (propagateNan) or just above padding (skipped), padding below
// everything. A window's maximum is then a chain of branch-free integer selects, which the CPU does
// not mispredict on random data as it does a float compare. Padding never wins; ties keep the first
// tap in row-major window order (the strict compare); an all-NaN window yields NaN, an all -inf one
// -inf with the gradient at its first tap. Forward keys order -0 below +0 (a window holding both
// yields +0, the values compare equal); backward keys make them equal, so the first zero wins.
// With WebAssembly SIMD (wasm.ts) and column stride 1 or 2, the forward is asm/maxpool.as instead
// (f32x4.max, row maxima then column maxima); when NaN is to be skipped, the planes whose y came
// out with a NaN are redone here on keys.
import { type Pool2dGeometry, poolOutputShape } from '../../harness/geometry.ts';
import type { Tensor } from '../../harness/tensor.ts';
import { bitsOf, grownInt32, type PaddedPlane, paddedPlane, tapOffsets } from './poolplane.ts';
import { planesPerCall, simd, type SimdGemm } from './wasm.ts';

const ABS = 0x7fffffff;
const INF = 0x7f800000;
const PAD = -0x80000000;
const SKIPPED_NAN = PAD + 1;
const PROPAGATED_NAN = 0x7fffffff;

let keys: Int32Array = new Int32Array(0);
let taps: Int32Array = new Int32Array(0);       // tap offsets in the padded plane
let inputTaps: Int32Array = new Int32Array(0);  // the same taps' offsets in the input plane

/** The larger of two keys, without a branch. */
function larger(m: number, v: number): number {
  return m ^ ((m ^ v) & -(m < v));
}

/** Float32 bits of a forward key (the key map is its own inverse; NaN keys give a NaN). */
function bitsOfKey(k: number): number {
  return k ^ ((k >> 31) & ABS);
}

function prepare(g: Pool2dGeometry): PaddedPlane {
  const plane = paddedPlane(g);
  const n = plane.height * plane.width;
  keys = grownInt32(keys, n);
  keys.fill(PAD, 0, n); // the input region is overwritten per plane; padding stays
  taps = tapOffsets(g, plane.width, taps);
  return plane;
}

/** Writes the keys of the input plane at bits[offset] into the padded plane; tie = -1 makes -0 equal +0. */
function fillKeys(bits: Int32Array, offset: number, g: Pool2dGeometry, plane: PaddedPlane, tie: number): void {
  const k = keys;
  const nanKey = g.propagateNan ? PROPAGATED_NAN : SKIPPED_NAN;
  for (let iy = 0; iy < g.inHeight; iy++) {
    const start = offset + iy * g.inWidth;
    const end = start + g.inWidth;
    const shift = (iy + g.padTop) * plane.width + g.padLeft - start;
    for (let i = start; i < end; i++) {
      const b = bits[i];
      const a = b & ABS;
      const sign = b >> 31;
      k[i + shift] = a > INF ? nanKey : (a ^ sign) - (sign & tie);
    }
  }
}

/** Forward maxima of one padded plane into yBits from offset o; any window shape. */
function maxWindows(g: Pool2dGeometry, plane: PaddedPlane, yBits: Int32Array, o: number): void {
  const k = keys;
  const t = taps;
  const n = g.kernelHeight * g.kernelWidth;
  for (let oy = 0; oy < g.outHeight; oy++) {
    let base = oy * g.strideHeight * plane.width;
    for (let ox = 0; ox < g.outWidth; ox++, base += g.strideWidth) {
      let m = k[base];
      for (let j = 1; j < n; j++) m = larger(m, k[base + t[j]]);
      yBits[o++] = bitsOfKey(m);
    }
  }
}

/** maxWindows for undilated 3x3 windows, unrolled. */
function maxWindows3x3(g: Pool2dGeometry, plane: PaddedPlane, yBits: Int32Array, o: number): void {
  const k = keys;
  const w = plane.width;
  const w2 = 2 * w;
  for (let oy = 0; oy < g.outHeight; oy++) {
    let b = oy * g.strideHeight * w;
    for (let ox = 0; ox < g.outWidth; ox++, b += g.strideWidth) {
      let m = larger(larger(k[b], k[b + 1]), k[b + 2]);
      m = larger(larger(larger(m, k[b + w]), k[b + w + 1]), k[b + w + 2]);
      m = larger(larger(larger(m, k[b + w2]), k[b + w2 + 1]), k[b + w2 + 2]);
      yBits[o++] = bitsOfKey(m);
    }
  }
}

/** maxWindows for undilated 2x2 windows, unrolled. */
function maxWindows2x2(g: Pool2dGeometry, plane: PaddedPlane, yBits: Int32Array, o: number): void {
  const k = keys;
  const w = plane.width;
  for (let oy = 0; oy < g.outHeight; oy++) {
    let b = oy * g.strideHeight * w;
    for (let ox = 0; ox < g.outWidth; ox++, b += g.strideWidth) {
      yBits[o++] = bitsOfKey(larger(larger(k[b], k[b + 1]), larger(k[b + w], k[b + w + 1])));
    }
  }
}

function windowsOf(g: Pool2dGeometry): typeof maxWindows {
  if (g.dilationHeight !== 1 || g.dilationWidth !== 1) return maxWindows;
  if (g.kernelHeight === 3 && g.kernelWidth === 3) return maxWindows3x3;
  if (g.kernelHeight === 2 && g.kernelWidth === 2) return maxWindows2x2;
  return maxWindows;
}

/** The forward on asm/maxpool.as into y; returns the planes it left out (a NaN to skip). */
function simdMaxPool(s: SimdGemm, x: Float32Array, y: Float32Array, g: Pool2dGeometry, plane: PaddedPlane): number[] {
  const planes = g.batch * g.channels, inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth;
  const chunk = planesPerCall(planes, inPlane);
  const OWp = Math.ceil(g.outWidth / 4) * 4;
  s.reset();
  const xp = s.alloc(4 * chunk * inPlane), yp = s.alloc(4 * chunk * outPlane), flags = s.alloc(4 * chunk);
  const row = s.alloc(4 * (plane.width + 32)), hb = s.alloc(4 * plane.height * OWp);
  const f = s.f32(), t = s.i32();
  s.mpGeometry(g.inHeight, g.inWidth, g.padTop, g.padLeft, plane.width, plane.height, g.kernelHeight, g.kernelWidth,
    g.strideHeight, g.strideWidth, g.dilationHeight, g.dilationWidth, g.outHeight, g.outWidth, row, hb);
  const redo: number[] = [];
  for (let p0 = 0; p0 < planes; p0 += chunk) {
    const count = Math.min(chunk, planes - p0);
    f.set(x.subarray(p0 * inPlane, (p0 + count) * inPlane), xp >>> 2);
    s.mpForward(xp, count, yp, row, hb, flags, g.propagateNan ? 1 : 0);
    y.set(f.subarray(yp >>> 2, (yp >>> 2) + count * outPlane), p0 * outPlane);
    if (!g.propagateNan) for (let p = 0; p < count; p++) if (t[(flags >>> 2) + p] !== 0) redo.push(p0 + p);
  }
  return redo;
}

export function maxPool2d(x: Tensor, g: Pool2dGeometry): Tensor {
  const planes = g.batch * g.channels;
  const inPlane = g.inHeight * g.inWidth;
  const outPlane = g.outHeight * g.outWidth;
  const y = new Float32Array(planes * outPlane);
  const yBits = bitsOf(y);
  const xBits = bitsOf(x.data);
  const windows = windowsOf(g);
  if (simd && (g.strideWidth === 1 || g.strideWidth === 2)) {
    const redo = simdMaxPool(simd, x.data, y, g, paddedPlane(g));
    if (redo.length > 0) {
      const plane = prepare(g);
      for (const p of redo) {
        fillKeys(xBits, p * inPlane, g, plane, 0);
        windows(g, plane, yBits, p * outPlane);
      }
    }
    return { shape: poolOutputShape(g), data: y };
  }
  const plane = prepare(g);
  for (let p = 0; p < planes; p++) {
    fillKeys(xBits, p * inPlane, g, plane, 0);
    windows(g, plane, yBits, p * outPlane);
  }
  return { shape: poolOutputShape(g), data: y };
}

/** Routes each dy to its window's first maximum, accumulating where windows overlap. */
export function maxPool2dBackward(x: Tensor, dy: Tensor, g: Pool2dGeometry): Tensor {
  const planes = g.batch * g.channels;
  const inPlane = g.inHeight * g.inWidth;
  const dx = new Float32Array(x.data.length);
  const xBits = bitsOf(x.data);
  const plane = prepare(g);
  inputTaps = tapOffsets(g, g.inWidth, inputTaps);
  const k = keys;
  const t = taps;
  const it = inputTaps;
  const n = g.kernelHeight * g.kernelWidth;
  const g0 = dy.data;
  let o = 0;
  for (let p = 0; p < planes; p++) {
    fillKeys(xBits, p * inPlane, g, plane, -1);
    for (let oy = 0; oy < g.outHeight; oy++) {
      let base = oy * g.strideHeight * plane.width;
      // input offset of the window's first tap (in padding for border windows; only winners are used)
      let first = p * inPlane + (oy * g.strideHeight - g.padTop) * g.inWidth - g.padLeft;
      for (let ox = 0; ox < g.outWidth; ox++, base += g.strideWidth, first += g.strideWidth) {
        let m = k[base];
        let win = 0;
        for (let j = 1; j < n; j++) {
          const v = k[base + t[j]];
          const c = -(m < v);
          m ^= (m ^ v) & c;
          win ^= (win ^ j) & c;
        }
        dx[first + it[win]] += g0[o++];
      }
    }
  }
  return { shape: [...x.shape], data: dx };
}
