// Winograd F(4x4, 3x3) for 3x3, stride-1, undilated, ungrouped convolution (Lavin & Gray, points
// 0, +-1, +-2, inf). Every transform, product and sum is float64, so the only float32 rounding is
// the final store; the caller keeps this path to finite data (the transforms subtract, so an
// infinity would turn into NaN where the direct sum has none).
//
// Forward, per output tile of 4x4 and input channel c: V = Bt d B (d the 6x6 input patch);
// per output channel o: M = sum_c U[o,c] .* V[c] with U = G g Gt; y tile = At M A. The sum over c
// is one packed GEMM per transform point xi (36 of them): U[xi] (O x C) times V[xi] (C x tiles).
// Filter gradient: dM = A dy At per tile; dU[xi] (O x C) = sum over tiles dM[xi] V[xi]^T;
// dw = Gt dU G. The same forward routine gives dx: a conv of dy with the flipped, transposed filter.
import { microKernel, MR, NR } from './gemm.ts';

/** Sizes of one Winograd run: `src` planes [N, C, H, W] into `dst` planes [N, O, OH, OW]. */
export interface WinogradPlan {
  batch: number; inChannels: number; inHeight: number; inWidth: number;
  outChannels: number; outHeight: number; outWidth: number;
  padTop: number; padLeft: number;
}

/** Tiles per row and column, and in all (batch included). */
export function tilesOf(p: WinogradPlan): { tilesY: number; tilesX: number; tiles: number } {
  const tilesY = Math.ceil(p.outHeight / 4), tilesX = Math.ceil(p.outWidth / 4);
  return { tilesY, tilesX, tiles: p.batch * tilesY * tilesX };
}

const padded = (n: number, to: number) => Math.ceil(n / to) * to;

/** Length of U (and of one dU part) for O outputs and C inputs: [36][O/MR panels][C][MR]. */
export function transformedLength(outChannels: number, inChannels: number): number {
  return 36 * padded(outChannels, MR) * padded(inChannels, NR);
}

/**
 * U = G g Gt for every filter, packed for the GEMM as [xi][o panel][c][MR]. The tap (o, c, ky, kx)
 * is w[base + o*so + c*sc + ky*sy + kx*sx], so strides can transpose and flip the filter.
 */
export function transformFilters(w: Float32Array, outChannels: number, inChannels: number,
  base: number, so: number, sc: number, sy: number, sx: number, u: Float64Array): void {
  const oPanels = padded(outChannels, MR) / MR;
  const t = new Float64Array(18); // G g: 6 x 3
  u.fill(0, 0, transformedLength(outChannels, inChannels));
  for (let o = 0; o < outChannels; o++)
    for (let c = 0; c < inChannels; c++) {
      const at = base + o * so + c * sc;
      for (let kx = 0; kx < 3; kx++) {
        const g0 = w[at + kx * sx], g1 = w[at + sy + kx * sx], g2 = w[at + 2 * sy + kx * sx];
        t[kx] = g0 / 4;
        t[3 + kx] = -(g0 + g1 + g2) / 6;
        t[6 + kx] = -(g0 - g1 + g2) / 6;
        t[9 + kx] = g0 / 24 + g1 / 12 + g2 / 6;
        t[12 + kx] = g0 / 24 - g1 / 12 + g2 / 6;
        t[15 + kx] = g2;
      }
      const lane = ((o / MR | 0) * inChannels + c) * MR + (o % MR);
      const xiStride = oPanels * inChannels * MR;
      for (let i = 0; i < 6; i++) {
        const g0 = t[i * 3], g1 = t[i * 3 + 1], g2 = t[i * 3 + 2];
        const row = lane + i * 6 * xiStride;
        u[row] = g0 / 4;
        u[row + xiStride] = -(g0 + g1 + g2) / 6;
        u[row + 2 * xiStride] = -(g0 - g1 + g2) / 6;
        u[row + 3 * xiStride] = g0 / 24 + g1 / 12 + g2 / 6;
        u[row + 4 * xiStride] = g0 / 24 - g1 / 12 + g2 / 6;
        u[row + 5 * xiStride] = g2;
      }
    }
}

const TB = 16; // tiles per block: 4 panels of NR

// Per-thread scratch, grown on demand.
let vBlock: Float64Array = new Float64Array(0);
let mBlock: Float64Array = new Float64Array(0);
const patch = new Float64Array(36);
const rows = new Float64Array(36);
const tile = new Float64Array(16);

/** The 6x6 input patch at (iy0, ix0) of the plane at `off`, zeros outside, into `patch`. */
function gather(src: Float32Array, off: number, h: number, w: number, iy0: number, ix0: number): void {
  if (iy0 >= 0 && ix0 >= 0 && iy0 + 6 <= h && ix0 + 6 <= w) {
    for (let i = 0, at = off + iy0 * w + ix0; i < 6; i++, at += w) {
      const r = i * 6;
      patch[r] = src[at]; patch[r + 1] = src[at + 1]; patch[r + 2] = src[at + 2];
      patch[r + 3] = src[at + 3]; patch[r + 4] = src[at + 4]; patch[r + 5] = src[at + 5];
    }
    return;
  }
  for (let i = 0; i < 6; i++) {
    const iy = iy0 + i;
    for (let j = 0; j < 6; j++) {
      const ix = ix0 + j;
      patch[i * 6 + j] = iy >= 0 && iy < h && ix >= 0 && ix < w ? src[off + iy * w + ix] : 0;
    }
  }
}

/** V = Bt patch B, written to out[at + xi * stride] for xi = 6 i + j. */
function inputTransform(out: Float64Array, at: number, stride: number): void {
  for (let j = 0; j < 6; j++) {
    const d0 = patch[j], d1 = patch[6 + j], d2 = patch[12 + j], d3 = patch[18 + j], d4 = patch[24 + j], d5 = patch[30 + j];
    rows[j] = 4 * d0 - 5 * d2 + d4;
    rows[6 + j] = -4 * d1 - 4 * d2 + d3 + d4;
    rows[12 + j] = 4 * d1 - 4 * d2 - d3 + d4;
    rows[18 + j] = -2 * d1 - d2 + 2 * d3 + d4;
    rows[24 + j] = 2 * d1 - d2 - 2 * d3 + d4;
    rows[30 + j] = 4 * d1 - 5 * d3 + d5;
  }
  for (let i = 0; i < 6; i++) {
    const r = i * 6;
    const d0 = rows[r], d1 = rows[r + 1], d2 = rows[r + 2], d3 = rows[r + 3], d4 = rows[r + 4], d5 = rows[r + 5];
    const o = at + r * stride;
    out[o] = 4 * d0 - 5 * d2 + d4;
    out[o + stride] = -4 * d1 - 4 * d2 + d3 + d4;
    out[o + 2 * stride] = 4 * d1 - 4 * d2 - d3 + d4;
    out[o + 3 * stride] = -2 * d1 - d2 + 2 * d3 + d4;
    out[o + 4 * stride] = 2 * d1 - d2 - 2 * d3 + d4;
    out[o + 5 * stride] = 4 * d1 - 5 * d3 + d5;
  }
}

/** Transforms the input patches of tiles [t, t + count) for every channel into vBlock, laid out [xi][tile panel][c][NR]. */
function transformInputs(src: Float32Array, p: WinogradPlan, t: number, count: number): void {
  const { tilesY, tilesX } = tilesOf(p);
  const C = p.inChannels, H = p.inHeight, W = p.inWidth;
  const xiStride = (TB / NR) * C * NR;
  vBlock.fill(0, 0, 36 * xiStride);
  for (let k = 0; k < count; k++) {
    const tt = t + k;
    const n = (tt / (tilesY * tilesX)) | 0;
    const r = tt - n * tilesY * tilesX;
    const ty = (r / tilesX) | 0, tx = r - ty * tilesX;
    const iy0 = ty * 4 - p.padTop, ix0 = tx * 4 - p.padLeft;
    const lane = ((k / NR) | 0) * C * NR + (k % NR);
    for (let c = 0; c < C; c++) {
      gather(src, (n * C + c) * H * W, H, W, iy0, ix0);
      inputTransform(vBlock, lane + c * NR, xiStride);
    }
  }
}

/**
 * dst = conv3x3(src) (+ bias) over tiles [t0, t1), U from transformFilters. Tiles of a batch item
 * are numbered row by row, batch items one after another.
 */
export function winogradConv(src: Float32Array, u: Float64Array, bias: Float32Array | undefined, dst: Float32Array,
  p: WinogradPlan, t0: number, t1: number): void {
  const { tilesY, tilesX } = tilesOf(p);
  const C = p.inChannels, O = p.outChannels, OH = p.outHeight, OW = p.outWidth;
  const oPanels = padded(O, MR) / MR;
  const needV = 36 * TB * C, needM = TB * oPanels * MR * 36;
  if (vBlock.length < needV) vBlock = new Float64Array(needV);
  if (mBlock.length < needM) mBlock = new Float64Array(needM);
  const mb = mBlock, vb = vBlock;
  const vXi = (TB / NR) * C * NR, uXi = oPanels * C * MR;
  const mStride = oPanels * MR * 36; // one tile's M values: [o][xi]
  for (let t = t0; t < t1; t += TB) {
    const count = Math.min(TB, t1 - t);
    transformInputs(src, p, t, count);
    const tPanels = Math.ceil(count / NR);
    for (let xi = 0; xi < 36; xi++)
      for (let op = 0; op < oPanels; op++)
        for (let tp = 0; tp < tPanels; tp++) {
          microKernel(C, u, xi * uXi + op * C * MR, vb, xi * vXi + tp * C * NR, tile);
          for (let r = 0; r < MR; r++)
            for (let q = 0; q < NR; q++) mb[(tp * NR + q) * mStride + (op * MR + r) * 36 + xi] = tile[r * NR + q];
        }
    for (let k = 0; k < count; k++) {
      const tt = t + k;
      const n = (tt / (tilesY * tilesX)) | 0;
      const rr = tt - n * tilesY * tilesX;
      const ty = (rr / tilesX) | 0, tx = rr - ty * tilesX;
      const oy0 = ty * 4, ox0 = tx * 4;
      const hy = Math.min(4, OH - oy0), hx = Math.min(4, OW - ox0);
      for (let o = 0; o < O; o++) {
        const m = k * mStride + o * 36;
        // At M: 4 x 6, kept in `rows`
        for (let j = 0; j < 6; j++) {
          const m0 = mb[m + j], m1 = mb[m + 6 + j], m2 = mb[m + 12 + j], m3 = mb[m + 18 + j], m4 = mb[m + 24 + j], m5 = mb[m + 30 + j];
          rows[j] = m0 + m1 + m2 + m3 + m4;
          rows[6 + j] = m1 - m2 + 2 * m3 - 2 * m4;
          rows[12 + j] = m1 + m2 + 4 * m3 + 4 * m4;
          rows[18 + j] = m1 - m2 + 8 * m3 - 8 * m4 + m5;
        }
        const b = bias ? bias[o] : 0;
        const plane = (n * O + o) * OH * OW;
        for (let i = 0; i < hy; i++) {
          const r = i * 6;
          const m0 = rows[r], m1 = rows[r + 1], m2 = rows[r + 2], m3 = rows[r + 3], m4 = rows[r + 4], m5 = rows[r + 5];
          tile[0] = m0 + m1 + m2 + m3 + m4;
          tile[1] = m1 - m2 + 2 * m3 - 2 * m4;
          tile[2] = m1 + m2 + 4 * m3 + 4 * m4;
          tile[3] = m1 - m2 + 8 * m3 - 8 * m4 + m5;
          const at = plane + (oy0 + i) * OW + ox0;
          for (let j = 0; j < hx; j++) dst[at + j] = tile[j] + b;
        }
      }
    }
  }
}

/**
 * Adds the Winograd-domain filter gradient of tiles [t0, t1) to dU, laid out [xi][o][c] with
 * O and C padded to MR and NR. `x` is the forward input ([N, C, H, W] of the plan), `dy` the output gradient.
 */
export function winogradFilterGrad(x: Float32Array, dy: Float32Array, p: WinogradPlan, t0: number, t1: number, dU: Float64Array): void {
  const { tilesY, tilesX } = tilesOf(p);
  const C = p.inChannels, O = p.outChannels, OH = p.outHeight, OW = p.outWidth, H = p.inHeight, W = p.inWidth;
  const oPanels = padded(O, MR) / MR, cPanels = padded(C, NR) / NR;
  const oPad = oPanels * MR, cPad = cPanels * NR;
  const needV = 36 * cPad * TB, needM = 36 * oPad * TB;
  if (vBlock.length < needV) vBlock = new Float64Array(needV);
  if (mBlock.length < needM) mBlock = new Float64Array(needM);
  const vb = vBlock, mb = mBlock;
  const vXi = cPad * TB, mXi = oPad * TB; // [xi][panel][tile][lane]
  for (let t = t0; t < t1; t += TB) {
    const count = Math.min(TB, t1 - t);
    vb.fill(0, 0, needV);
    mb.fill(0, 0, needM);
    for (let k = 0; k < count; k++) {
      const tt = t + k;
      const n = (tt / (tilesY * tilesX)) | 0;
      const rr = tt - n * tilesY * tilesX;
      const ty = (rr / tilesX) | 0, tx = rr - ty * tilesX;
      const oy0 = ty * 4, ox0 = tx * 4;
      for (let c = 0; c < C; c++) {
        gather(x, (n * C + c) * H * W, H, W, oy0 - p.padTop, ox0 - p.padLeft);
        inputTransform(vb, ((c / NR | 0) * TB + k) * NR + (c % NR), vXi);
      }
      for (let o = 0; o < O; o++) {
        // dy tile 4x4, zeros past the output edge, then A dy At (6 x 6)
        const plane = (n * O + o) * OH * OW;
        for (let j = 0; j < 4; j++) {
          const ox = ox0 + j;
          let y0 = 0, y1 = 0, y2 = 0, y3 = 0;
          if (ox < OW) {
            const at = plane + oy0 * OW + ox;
            if (oy0 < OH) y0 = dy[at];
            if (oy0 + 1 < OH) y1 = dy[at + OW];
            if (oy0 + 2 < OH) y2 = dy[at + 2 * OW];
            if (oy0 + 3 < OH) y3 = dy[at + 3 * OW];
          }
          rows[j] = y0;
          rows[6 + j] = y0 + y1 + y2 + y3;
          rows[12 + j] = y0 - y1 + y2 - y3;
          rows[18 + j] = y0 + 2 * y1 + 4 * y2 + 8 * y3;
          rows[24 + j] = y0 - 2 * y1 + 4 * y2 - 8 * y3;
          rows[30 + j] = y3;
        }
        const lane = ((o / MR | 0) * TB + k) * MR + (o % MR);
        for (let i = 0; i < 6; i++) {
          const r = i * 6;
          const y0 = rows[r], y1 = rows[r + 1], y2 = rows[r + 2], y3 = rows[r + 3];
          const at = lane + r * mXi;
          mb[at] = y0;
          mb[at + mXi] = y0 + y1 + y2 + y3;
          mb[at + 2 * mXi] = y0 - y1 + y2 - y3;
          mb[at + 3 * mXi] = y0 + 2 * y1 + 4 * y2 + 8 * y3;
          mb[at + 4 * mXi] = y0 - 2 * y1 + 4 * y2 - 8 * y3;
          mb[at + 5 * mXi] = y3;
        }
      }
    }
    for (let xi = 0; xi < 36; xi++)
      for (let op = 0; op < oPanels; op++)
        for (let cp = 0; cp < cPanels; cp++) {
          microKernel(count, mb, xi * mXi + op * TB * MR, vb, xi * vXi + cp * TB * NR, tile);
          const at = (xi * oPad + op * MR) * cPad + cp * NR;
          for (let r = 0; r < MR; r++)
            for (let q = 0; q < NR; q++) dU[at + r * cPad + q] += tile[r * NR + q];
        }
  }
}

/** dw[o, c, 3, 3] = Gt dU[o, c] G for dU laid out as winogradFilterGrad writes it. */
export function filtersFromGrad(dU: Float64Array, outChannels: number, inChannels: number, dw: Float32Array): void {
  const oPad = padded(outChannels, MR), cPad = padded(inChannels, NR);
  const xiStride = oPad * cPad;
  const t = new Float64Array(18); // Gt dU: 3 x 6
  for (let o = 0; o < outChannels; o++)
    for (let c = 0; c < inChannels; c++) {
      const at = o * cPad + c;
      for (let j = 0; j < 6; j++) {
        const u0 = dU[at + j * xiStride], u1 = dU[at + (6 + j) * xiStride], u2 = dU[at + (12 + j) * xiStride];
        const u3 = dU[at + (18 + j) * xiStride], u4 = dU[at + (24 + j) * xiStride], u5 = dU[at + (30 + j) * xiStride];
        t[j] = u0 / 4 - u1 / 6 - u2 / 6 + u3 / 24 + u4 / 24;
        t[6 + j] = -u1 / 6 + u2 / 6 + u3 / 12 - u4 / 12;
        t[12 + j] = -u1 / 6 - u2 / 6 + u3 / 6 + u4 / 6 + u5;
      }
      const out = (o * inChannels + c) * 9;
      for (let i = 0; i < 3; i++) {
        const u0 = t[i * 6], u1 = t[i * 6 + 1], u2 = t[i * 6 + 2], u3 = t[i * 6 + 3], u4 = t[i * 6 + 4], u5 = t[i * 6 + 5];
        dw[out + i * 3] = u0 / 4 - u1 / 6 - u2 / 6 + u3 / 24 + u4 / 24;
        dw[out + i * 3 + 1] = -u1 / 6 + u2 / 6 + u3 / 12 - u4 / 12;
        dw[out + i * 3 + 2] = -u1 / 6 - u2 / 6 + u3 / 6 + u4 / 6 + u5;
      }
    }
}
