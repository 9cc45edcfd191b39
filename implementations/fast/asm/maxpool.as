// AssemblyScript source of fast's float32 SIMD max-pool forward (issue 11), compiled with gemm.as
// into gemm.wasm by scripts/build-wasm.mjs. For column strides 1 and 2 (any kernel, row stride,
// dilation, padding, ceil-mode overhang); ../maxpool2d.ts keeps its integer-key loops for the rest.
//
// Separable: a window's maximum is the maximum over its rows of the row maxima, so each padded
// input row is first reduced to h[row][ox] = max over kx of row[ox * sW + kx * dW] (stride 2: the
// even lanes of two vectors, one shuffle), then y[oy][ox] = max over ky of h[oy * sH + ky * dH][ox].
// f32x4.max is IEEE's maximum as WebAssembly defines it: NaN if either operand is NaN, and -0 below
// +0, so the result is the window maximum whatever the order, NaN when the window holds one (the
// propagateNan value). Planes that hold neither NaN nor -0 (a quick scan first, which also brings
// the plane into cache) take f32x4.pmax, a single maxps, which agrees with it there. Padding and
// overhang are -inf: they never win, and a window of -inf taps gives -inf either way. A plane
// holding a NaN when NaN is to be skipped is left to the caller (flagged in nanFlags).
//
// Memory is the caller's: `row` holds (pw + 32) floats, `h` ph * OWp floats (OWp = OW rounded up to
// 4); mpGeometry fills their padding with -inf.

import { copyRow } from "./rows";

let H: i32 = 0, W: i32 = 0, padT: i32 = 0, padL: i32 = 0, pw: i32 = 0, ph: i32 = 0;
let kH: i32 = 0, kW: i32 = 0, sH: i32 = 0, sW: i32 = 0, dH: i32 = 0, dW: i32 = 0, OH: i32 = 0, OW: i32 = 0, OWp: i32 = 0;

const NEG_INF: f32 = -Infinity;

/** The geometry of the calls that follow (pw, ph: the padded plane's width and height). */
export function mpGeometry(h: i32, w: i32, pt: i32, pl: i32, pW: i32, pH: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32,
  oh: i32, ow: i32, row: usize, hb: usize): void {
  H = h; W = w; padT = pt; padL = pl; pw = pW; ph = pH;
  kH = kh; kW = kw; sH = sh; sW = sw; dH = dh; dW = dw; OH = oh; OW = ow; OWp = (ow + 3) & ~3;
  const inf = f32x4.splat(NEG_INF);
  for (let i = 0; i < pw + 32; i += 4) v128.store(row + (<usize>i << 2), inf);
  for (let i = 0; i < ph * OWp; i += 4) v128.store(hb + (<usize>i << 2), inf);
}

/** Even lanes of a then b: a0 a2 b0 b2. */
@inline function evens(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 0, 2, 4, 6); }

/**
 * The larger of two vectors: IEEE's maximum (f32x4.max) when T is f32; f32x4.pmax (one maxps, b
 * unless a is larger: wrong for NaN, and for -0 against +0 it keeps the first) when T is i32, for
 * planes that hold neither NaN nor -0, where both agree.
 */
@inline function vmax<T>(a: v128, b: v128): v128 {
  if (isInteger<T>()) return f32x4.pmax(a, b);
  return f32x4.max(a, b);
}

/** Row maxima of the padded row at r into h (OWp values). */
@inline function rowMaxima<T>(r: usize, h: usize): void {
  const d = <usize>dW << 2;
  if (sW == 2 && kW == 3 && dW == 1) {
    for (let ox = 0; ox < OWp; ox += 4) {
      const p = r + (<usize>ox << 3);
      const v0 = v128.load(p), v1 = v128.load(p, 16), u0 = v128.load(p, 8), u1 = v128.load(p, 24);
      const odd = v128.shuffle<f32>(v0, v1, 1, 3, 5, 7);
      v128.store(h + (<usize>ox << 2), vmax<T>(vmax<T>(evens(v0, v1), odd), evens(u0, u1)));
    }
  } else if (sW == 2) {
    for (let ox = 0; ox < OWp; ox += 4) {
      let p = r + (<usize>ox << 3);
      let m = evens(v128.load(p), v128.load(p, 16));
      for (let kx = 1; kx < kW; kx++) {
        p += d;
        m = vmax<T>(m, evens(v128.load(p), v128.load(p, 16)));
      }
      v128.store(h + (<usize>ox << 2), m);
    }
  } else {
    for (let ox = 0; ox < OWp; ox += 4) {
      let p = r + (<usize>ox << 2);
      let m = v128.load(p);
      for (let kx = 1; kx < kW; kx++) {
        p += d;
        m = vmax<T>(m, v128.load(p));
      }
      v128.store(h + (<usize>ox << 2), m);
    }
  }
}

/** y of the plane at src into out; T as in vmax. */
function planeMaxima<T>(src: usize, out: usize, row: usize, hb: usize): void {
  const rowBytes = <usize>W << 2, hRow = <usize>OWp << 2, full = OW & ~3;
  const inner = row + (<usize>padL << 2);
  let h = hb + <usize>padT * hRow;
  for (let iy = 0; iy < H; iy++, src += rowBytes, h += hRow) {
    copyRow(inner, src, rowBytes);
    rowMaxima<T>(row, h);
  }
  const step = <usize>dH * hRow;
  for (let oy = 0; oy < OH; oy++, out += <usize>OW << 2) {
    const top = hb + <usize>(oy * sH) * hRow;
    let ox = 0;
    for (; ox < full; ox += 4) {
      let p = top + (<usize>ox << 2);
      let m = v128.load(p);
      for (let ky = 1; ky < kH; ky++) { p += step; m = vmax<T>(m, v128.load(p)); }
      v128.store(out + (<usize>ox << 2), m);
    }
    for (; ox < OW; ox++) {
      let p = top + (<usize>ox << 2);
      let m = load<f32>(p);
      for (let ky = 1; ky < kH; ky++) { p += step; m = max(m, load<f32>(p)); }
      store<f32>(out + (<usize>ox << 2), m);
    }
  }
}

/** 1 if the H x W plane at p holds a NaN, 2 if a -0 (and no NaN), else 0. */
function scan(p: usize): i32 {
  const n = <usize>(H * W) << 2, end = p + (n & ~15);
  const negZero = i32x4.splat(i32.MIN_VALUE);
  let nan = i32x4.splat(0), nz = i32x4.splat(0);
  for (; p < end; p += 16) {
    const v = v128.load(p);
    nan = v128.or(nan, f32x4.ne(v, v));
    nz = v128.or(nz, i32x4.eq(v, negZero));
  }
  let any = v128.any_true(nan), zero = v128.any_true(nz);
  for (let q = end; q < end + (n & 15); q += 4) {
    const v = load<f32>(q);
    if (v != v) any = true;
    if (load<i32>(q) == i32.MIN_VALUE) zero = true;
  }
  return any ? 1 : zero ? 2 : 0;
}

/**
 * y of `planes` dense H x W planes at x into y (dense OH x OW each). A plane with a NaN is skipped
 * when NaN is not to propagate (nanFlags[p], i32, is set to 1: the caller does it), else 0.
 */
export function mpForward(x: usize, planes: i32, y: usize, row: usize, hb: usize, nanFlags: usize, propagate: bool): void {
  const inBytes = <usize>(H * W) << 2, outBytes = <usize>(OH * OW) << 2;
  for (let pl = 0; pl < planes; pl++) {
    const src = x + <usize>pl * inBytes, out = y + <usize>pl * outBytes;
    const kind = scan(src);
    store<i32>(nanFlags + (<usize>pl << 2), kind == 1 && !propagate ? 1 : 0);
    if (kind == 0) planeMaxima<i32>(src, out, row, hb);
    else if (kind == 2 || propagate) planeMaxima<f32>(src, out, row, hb);
  }
}
