// AssemblyScript source of fast's float32 SIMD depthwise conv (issue 11), compiled with gemm.as
// into gemm.wasm (one module, one memory) by scripts/build-wasm.mjs. Only for stride-1 columns
// (any stride between rows, any kernel, dilation and channel multiplier); ../depthwise.ts keeps
// the TypeScript loops for the rest and for engines without SIMD.
//
// Each input plane is copied into a zero-padded float32 plane, so padding taps multiply like any
// other (0 * inf = NaN in y where a padding tap meets an infinite weight, and in dw where it meets
// an infinite dy) and the loops need no bounds checks. f32x4 across 4 output columns; a sum of the
// in-bounds products (+ bias) in float32 in any order is inside the error budget (a padding
// product is an exact 0 and adds no rounding).
//
// Memory is the caller's: every pointer is a byte address the JavaScript side allocated; `plane`
// (the padded scratch) must hold (pw * ph + 16) floats, and dwGeometry zero-fills its padding.

import { copyRow } from "./rows";

let H: i32 = 0, W: i32 = 0, padT: i32 = 0, padL: i32 = 0, pw: i32 = 0, ph: i32 = 0;
let kH: i32 = 0, kW: i32 = 0, sH: i32 = 0, dH: i32 = 0, dW: i32 = 0, OH: i32 = 0, OW: i32 = 0;

/** The geometry of the calls that follow; zero-fills the padded scratch at `plane` (its border stays zero). */
export function dwGeometry(h: i32, w: i32, pt: i32, pl: i32, pb: i32, pr: i32, kh: i32, kw: i32, sh: i32, dh: i32, dw: i32,
  oh: i32, ow: i32, plane: usize): void {
  H = h; W = w; padT = pt; padL = pl; pw = w + pl + pr; ph = h + pt + pb;
  kH = kh; kW = kw; sH = sh; dH = dh; dW = dw; OH = oh; OW = ow;
  memory.fill(plane, 0, <usize>(pw * ph + 16) << 2);
}

/** Copies the H x W plane at src into the interior of the padded plane. */
@inline function padIn(src: usize, plane: usize): void {
  const rowBytes = <usize>W << 2;
  let to = plane + ((<usize>(padT * pw + padL)) << 2);
  for (let iy = 0; iy < H; iy++, src += rowBytes, to += <usize>pw << 2) copyRow(to, src, rowBytes);
}

@inline function ld(p: usize): f32 { return load<f32>(p); }

/** One 3x3 window row quad: w0 * p[0..3] + w1 * p[1..4] + w2 * p[2..5] (dilation d bytes apart). */
@inline function row3(p: usize, d: usize, w0: v128, w1: v128, w2: v128): v128 {
  return f32x4.add(f32x4.add(f32x4.mul(w0, v128.load(p)), f32x4.mul(w1, v128.load(p + d))), f32x4.mul(w2, v128.load(p + 2 * d)));
}

/**
 * y of `channels` input planes at x (dense, H x W each) and their `mult` output planes each, into
 * y (dense, OH x OW each); weights at w ([channels * mult][kH * kW]), bias at b when hasBias.
 * With `shared`, every plane takes the first `mult` filters and biases (the planes are the images
 * of a single-channel conv).
 */
export function dwForward(x: usize, channels: i32, mult: i32, w: usize, b: usize, hasBias: bool, y: usize, plane: usize, shared: bool): void {
  const taps = kH * kW, pwb = <usize>pw << 2;
  const three = kH == 3 && kW == 3;
  for (let c = 0; c < channels; c++) {
    padIn(x + (<usize>(c * H * W) << 2), plane);
    for (let k = 0; k < mult; k++) {
      const o = c * mult + k, f = shared ? k : o;
      const wo = w + (<usize>(f * taps) << 2);
      const bv = f32x4.splat(hasBias ? ld(b + (<usize>f << 2)) : 0);
      let out = y + (<usize>(o * OH * OW) << 2);
      if (three) {
        const d = <usize>dW << 2, rd = <usize>(dH * pw) << 2;
        const w0 = v128.load32_splat(wo), w1 = v128.load32_splat(wo, 4), w2 = v128.load32_splat(wo, 8);
        const w3 = v128.load32_splat(wo, 12), w4 = v128.load32_splat(wo, 16), w5 = v128.load32_splat(wo, 20);
        const w6 = v128.load32_splat(wo, 24), w7 = v128.load32_splat(wo, 28), w8 = v128.load32_splat(wo, 32);
        for (let oy = 0; oy < OH; oy++, out += <usize>OW << 2) {
          const r0 = plane + <usize>(oy * sH) * pwb, r1 = r0 + rd, r2 = r1 + rd;
          let ox = 0;
          for (; ox + 8 <= OW; ox += 8) {
            const at = <usize>ox << 2;
            const a0 = row3(r0 + at, d, w0, w1, w2), b0 = row3(r1 + at, d, w3, w4, w5), c0 = row3(r2 + at, d, w6, w7, w8);
            const a1 = row3(r0 + at + 16, d, w0, w1, w2), b1 = row3(r1 + at + 16, d, w3, w4, w5), c1 = row3(r2 + at + 16, d, w6, w7, w8);
            v128.store(out + at, f32x4.add(f32x4.add(f32x4.add(bv, a0), b0), c0));
            v128.store(out + at, f32x4.add(f32x4.add(f32x4.add(bv, a1), b1), c1), 16);
          }
          for (; ox < OW; ox += 4) {
            const at = <usize>ox << 2;
            const v = f32x4.add(f32x4.add(f32x4.add(bv, row3(r0 + at, d, w0, w1, w2)), row3(r1 + at, d, w3, w4, w5)), row3(r2 + at, d, w6, w7, w8));
            if (ox + 4 <= OW) v128.store(out + at, v);
            else {
              store<f32>(out + at, f32x4.extract_lane(v, 0));
              if (ox + 1 < OW) store<f32>(out + at, f32x4.extract_lane(v, 1), 4);
              if (ox + 2 < OW) store<f32>(out + at, f32x4.extract_lane(v, 2), 8);
            }
          }
        }
        continue;
      }
      // Any kernel: 16 output columns at a time in four f32x4 accumulators, every tap in turn (the
      // loop's own cost, a stack check per trip, is shared by 16 multiply-adds); then 8, then 4,
      // the last quad's lanes past OW not stored.
      for (let oy = 0; oy < OH; oy++, out += <usize>OW << 2) {
        const top = plane + <usize>(oy * sH) * pwb;
        let ox = 0;
        for (; ox + 16 <= OW; ox += 16) {
          let a0 = bv, a1 = bv, a2 = bv, a3 = bv;
          for (let ky = 0; ky < kH; ky++) {
            const row = top + <usize>(ky * dH) * pwb + (<usize>ox << 2), wr = wo + (<usize>(ky * kW) << 2);
            for (let kx = 0; kx < kW; kx++) {
              const wv = v128.load32_splat(wr + (<usize>kx << 2)), at = row + (<usize>(kx * dW) << 2);
              a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(at)));
              a1 = f32x4.add(a1, f32x4.mul(wv, v128.load(at, 16)));
              a2 = f32x4.add(a2, f32x4.mul(wv, v128.load(at, 32)));
              a3 = f32x4.add(a3, f32x4.mul(wv, v128.load(at, 48)));
            }
          }
          const o = out + (<usize>ox << 2);
          v128.store(o, a0); v128.store(o, a1, 16); v128.store(o, a2, 32); v128.store(o, a3, 48);
        }
        for (; ox + 8 <= OW; ox += 8) {
          let a0 = bv, a1 = bv;
          for (let ky = 0; ky < kH; ky++) {
            const row = top + <usize>(ky * dH) * pwb + (<usize>ox << 2), wr = wo + (<usize>(ky * kW) << 2);
            for (let kx = 0; kx < kW; kx++) {
              const wv = v128.load32_splat(wr + (<usize>kx << 2)), at = row + (<usize>(kx * dW) << 2);
              a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(at)));
              a1 = f32x4.add(a1, f32x4.mul(wv, v128.load(at, 16)));
            }
          }
          v128.store(out + (<usize>ox << 2), a0);
          v128.store(out + (<usize>ox << 2), a1, 16);
        }
        for (; ox < OW; ox += 4) {
          let a = bv;
          for (let ky = 0; ky < kH; ky++) {
            const row = top + <usize>(ky * dH) * pwb + (<usize>ox << 2), wr = wo + (<usize>(ky * kW) << 2);
            for (let kx = 0; kx < kW; kx++) a = f32x4.add(a, f32x4.mul(v128.load32_splat(wr + (<usize>kx << 2)), v128.load(row + (<usize>(kx * dW) << 2))));
          }
          const at = out + (<usize>ox << 2);
          if (ox + 4 <= OW) v128.store(at, a);
          else {
            store<f32>(at, f32x4.extract_lane(a, 0));
            if (ox + 1 < OW) store<f32>(at, f32x4.extract_lane(a, 1), 4);
            if (ox + 2 < OW) store<f32>(at, f32x4.extract_lane(a, 2), 8);
          }
        }
      }
    }
  }
}

/**
 * dx of `channels` input planes at x and dw of their output channels, from dy at dy (dense,
 * [channels * mult] planes of OH x OW). dx scatters into the padded float32 scratch q (the padding
 * part is dropped) and is written dense to dx; dw is added, in float64, to dwAcc
 * ([channels * mult][kH * kW] doubles). dw reads the padded input, so padding taps count.
 */
export function dwBackward(x: usize, channels: i32, mult: i32, w: usize, dy: usize, dx: usize, dwAcc: usize, plane: usize, q: usize): void {
  const taps = kH * kW, pwb = <usize>pw << 2, owb = <usize>OW << 2;
  const full = OW & ~3;
  for (let c = 0; c < channels; c++) {
    padIn(x + (<usize>(c * H * W) << 2), plane);
    memory.fill(q, 0, <usize>(pw * ph) << 2);
    for (let k = 0; k < mult; k++) {
      const o = c * mult + k;
      const dyo = dy + (<usize>(o * OH * OW) << 2);
      for (let ky = 0; ky < kH; ky++)
        for (let kx = 0; kx < kW; kx++) {
          const t = ky * kW + kx;
          const ws = ld(w + (<usize>(o * taps + t) << 2));
          const wv = f32x4.splat(ws);
          let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
          let tail: f32 = 0;
          const shift = <usize>((ky * dH) * pw + kx * dW) << 2;
          for (let oy = 0; oy < OH; oy++) {
            const at = <usize>(oy * sH) * pwb + shift, d = dyo + <usize>oy * owb;
            const p = plane + at, qq = q + at;
            let ox = 0;
            for (; ox + 8 <= OW; ox += 8) {
              const i = <usize>ox << 2;
              const v0 = v128.load(d + i), v1 = v128.load(d + i, 16);
              s0 = f32x4.add(s0, f32x4.mul(v0, v128.load(p + i)));
              s1 = f32x4.add(s1, f32x4.mul(v1, v128.load(p + i, 16)));
              v128.store(qq + i, f32x4.add(v128.load(qq + i), f32x4.mul(wv, v0)));
              v128.store(qq + i, f32x4.add(v128.load(qq + i, 16), f32x4.mul(wv, v1)), 16);
            }
            if (ox < full) {
              const i = <usize>ox << 2;
              const v0 = v128.load(d + i);
              s0 = f32x4.add(s0, f32x4.mul(v0, v128.load(p + i)));
              v128.store(qq + i, f32x4.add(v128.load(qq + i), f32x4.mul(wv, v0)));
              ox += 4;
            }
            for (; ox < OW; ox++) {
              const i = <usize>ox << 2;
              const v = ld(d + i);
              tail += v * ld(p + i);
              store<f32>(qq + i, ld(qq + i) + ws * v);
            }
          }
          const s = f32x4.add(s0, s1);
          const sum = <f64>f32x4.extract_lane(s, 0) + <f64>f32x4.extract_lane(s, 1) +
            (<f64>f32x4.extract_lane(s, 2) + <f64>f32x4.extract_lane(s, 3)) + <f64>tail;
          const a = dwAcc + (<usize>(o * taps + t) << 3);
          store<f64>(a, load<f64>(a) + sum);
        }
    }
    let from = q + ((<usize>(padT * pw + padL)) << 2), to = dx + (<usize>(c * H * W) << 2);
    for (let iy = 0; iy < H; iy++, from += pwb, to += <usize>W << 2) copyRow(to, from, <usize>W << 2);
  }
}
