// AssemblyScript source of fast's float32 SIMD average-pool forward (issue 11), compiled with
// gemm.as into gemm.wasm by scripts/build-wasm.mjs. For column strides 1 and 2 (any kernel, row
// stride, dilation, padding, ceil-mode overhang); ../avgpool2d.ts keeps its float64 loops for the rest
// and for engines without SIMD.
//
// Separable, as asm/maxpool.as: each padded input row is first reduced to row sums
// h[row][ox] = sum over kx of row[ox * sW + kx * dW] (stride 2: the even lanes of two vectors, one
// shuffle), then y[oy][ox] = (sum over ky of h[oy * sH + ky * dH][ox]) / divisor[oy][ox]. Every
// output is then kH * kW - 1 float32 additions and one division: within the n + 1 roundings the
// harness's budget allows an average of n taps (a float32 sum in any order of n terms is inside
// gamma_(n-1) * sum |t|). Padding and overhang are -0, the identity of addition, so a window of
// -0 taps stays -0. A window covering the whole plane (global pooling, no padding) is one
// contiguous sum in two f32x4 accumulators instead.
//
// Without column padding or overhang, row sums read the input rows in place: their lanes past OW
// read up to 8 floats beyond a row (the next row, or the caller's next block) and are never stored
// to y.
//
// Memory is the caller's: `row` holds (pw + 32) floats, `h` ph * OWp floats (OWp = OW rounded up to
// 4), `div` OH * OWp divisors (exact small integers, from the geometry's rule on the caller's side);
// apGeometry fills the padding of `row` with -0.

import { copyRow } from "./rows";

let H: i32 = 0, W: i32 = 0, padT: i32 = 0, padL: i32 = 0, pw: i32 = 0, ph: i32 = 0;
let kH: i32 = 0, kW: i32 = 0, sH: i32 = 0, sW: i32 = 0, dH: i32 = 0, dW: i32 = 0, OH: i32 = 0, OW: i32 = 0, OWp: i32 = 0;
let whole: bool = false;

/**
 * The geometry of the calls that follow (pw, ph: the padded plane's width and height; wholePlane:
 * the one window is the whole plane, ../avgpool2d.ts isWholePlane).
 */
export function apGeometry(h: i32, w: i32, pt: i32, pl: i32, pW: i32, pH: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32,
  oh: i32, ow: i32, row: usize, wholePlane: bool): void {
  H = h; W = w; padT = pt; padL = pl; pw = pW; ph = pH;
  kH = kh; kW = kw; sH = sh; sW = sw; dH = dh; dW = dw; OH = oh; OW = ow; OWp = (ow + 3) & ~3;
  whole = wholePlane;
  const negZero = f32x4.splat(-0.0);
  for (let i = 0; i < pw + 32; i += 4) v128.store(row + (<usize>i << 2), negZero);
}

/** Even lanes of a then b: a0 a2 b0 b2. */
@inline function evens(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 0, 2, 4, 6); }
/** Odd lanes of a then b: a1 a3 b1 b3. */
@inline function odds(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 1, 3, 5, 7); }

/** Row sums of the padded row at r into h (OWp values). */
@inline function rowSums(r: usize, h: usize): void {
  const d = <usize>dW << 2;
  if (sW == 2 && kW == 2 && dW == 1) {
    for (let ox = 0; ox < OWp; ox += 4) {
      const p = r + (<usize>ox << 3);
      const v0 = v128.load(p), v1 = v128.load(p, 16);
      v128.store(h + (<usize>ox << 2), f32x4.add(evens(v0, v1), odds(v0, v1)));
    }
  } else if (sW == 2) {
    for (let ox = 0; ox < OWp; ox += 4) {
      let p = r + (<usize>ox << 3);
      let s = evens(v128.load(p), v128.load(p, 16));
      for (let kx = 1; kx < kW; kx++) {
        p += d;
        s = f32x4.add(s, evens(v128.load(p), v128.load(p, 16)));
      }
      v128.store(h + (<usize>ox << 2), s);
    }
  } else {
    for (let ox = 0; ox < OWp; ox += 4) {
      let p = r + (<usize>ox << 2);
      let s = v128.load(p);
      for (let kx = 1; kx < kW; kx++) {
        p += d;
        s = f32x4.add(s, v128.load(p));
      }
      v128.store(h + (<usize>ox << 2), s);
    }
  }
}

/** y of the plane at src into out. Rows of h outside the input region (padding, overhang) are -0 (apForward sets them). */
function planeAverages(src: usize, out: usize, row: usize, hb: usize, div: usize): void {
  const rowBytes = <usize>W << 2, hRow = <usize>OWp << 2, full = OW & ~3;
  const inner = row + (<usize>padL << 2);
  let h = hb + <usize>padT * hRow;
  if (padL == 0 && pw == W) { // no column padding or overhang: windows read the input rows in place
    for (let iy = 0; iy < H; iy++, src += rowBytes, h += hRow) rowSums(src, h);
  } else {
    for (let iy = 0; iy < H; iy++, src += rowBytes, h += hRow) {
      copyRow(inner, src, rowBytes);
      rowSums(row, h);
    }
  }
  const step = <usize>dH * hRow;
  for (let oy = 0; oy < OH; oy++, out += <usize>OW << 2, div += hRow) {
    const top = hb + <usize>(oy * sH) * hRow;
    let ox = 0;
    for (; ox < full; ox += 4) {
      let p = top + (<usize>ox << 2);
      let s = v128.load(p);
      for (let ky = 1; ky < kH; ky++) { p += step; s = f32x4.add(s, v128.load(p)); }
      v128.store(out + (<usize>ox << 2), f32x4.div(s, v128.load(div + (<usize>ox << 2))));
    }
    for (; ox < OW; ox++) {
      let p = top + (<usize>ox << 2);
      let s = load<f32>(p);
      for (let ky = 1; ky < kH; ky++) { p += step; s += load<f32>(p); }
      store<f32>(out + (<usize>ox << 2), s / load<f32>(div + (<usize>ox << 2)));
    }
  }
}

/** The average of the n floats at p (the whole plane is the window). */
function planeAverage(p: usize, n: i32, d: f32): f32 {
  const end = p + (<usize>(n & ~7) << 2);
  let a = f32x4.splat(-0.0), b = f32x4.splat(-0.0);
  for (; p < end; p += 32) {
    a = f32x4.add(a, v128.load(p));
    b = f32x4.add(b, v128.load(p, 16));
  }
  a = f32x4.add(a, b);
  let s: f32 = (f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1)) + (f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3));
  for (let i = 0; i < (n & 7); i++, p += 4) s += load<f32>(p);
  return s / d;
}

/** y of `planes` dense H x W planes at x into y (dense OH x OW each); `div` as in the header. */
export function apForward(x: usize, planes: i32, y: usize, row: usize, hb: usize, div: usize): void {
  const inBytes = <usize>(H * W) << 2, outBytes = <usize>(OH * OW) << 2;
  if (whole) {
    const d = load<f32>(div);
    for (let pl = 0; pl < planes; pl++) store<f32>(y + (<usize>pl << 2), planeAverage(x + <usize>pl * inBytes, H * W, d));
    return;
  }
  // Rows of h that padding or overhang give (above and below the input rows): row sums of -0.
  const hRow = <usize>OWp << 2, negZero = f32x4.splat(-0.0);
  for (let r = 0; r < ph; r++) {
    if (r >= padT && r < padT + H) continue;
    for (let i: usize = 0; i < hRow; i += 16) v128.store(hb + <usize>r * hRow + i, negZero);
  }
  for (let pl = 0; pl < planes; pl++) planeAverages(x + <usize>pl * inBytes, y + <usize>pl * outBytes, row, hb, div);
}
