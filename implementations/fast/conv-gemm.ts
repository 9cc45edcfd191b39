// The general conv path: im2col + packed GEMM, for every geometry (strides, dilation, groups,
// padding). Columns are the output positions of the whole batch, j = (n, oy, ox), so small images
// still make one wide GEMM. Forward packs the GEMM's B operand straight from x (no column matrix);
// padding taps are zeros that multiply like data, as im2col's do.
//   forward:  Y_g[og, j] = W_g[og, depth] * col_g[depth, j]          (threads split j)
//   backward: dW_g[og, rows] = dY_g[og, j] * col[rows, j]^T;  dcol[rows, j] = W_g[og, rows]^T * dY_g;
//             dx += col2im(dcol)                                      (threads split input channels)
// With WebAssembly SIMD (wasm.ts) both directions run in float32 on the SIMD GEMM instead, im2col
// packed inside the module from tables built here; the float64 TypeScript GEMM is the fallback.
import type { Conv2dGeometry } from '../../harness/geometry.ts';
import { gemm, NR, type PackB, viewPacker } from './gemm.ts';
import { simd, type SimdGemm } from './wasm.ts';

/** Per-column tables for columns [j0, j1): batch item, top row and left column of the window. */
let colN = new Int32Array(0), colY = new Int32Array(0), colX = new Int32Array(0);
let yTile: Float64Array = new Float64Array(0);

function columnTables(g: Conv2dGeometry, j0: number, j1: number): void {
  const count = j1 - j0;
  if (colN.length < count) { colN = new Int32Array(count); colY = new Int32Array(count); colX = new Int32Array(count); }
  const P = g.outHeight * g.outWidth;
  for (let j = j0; j < j1; j++) {
    const n = (j / P) | 0, p = j - n * P;
    const oy = (p / g.outWidth) | 0, ox = p - oy * g.outWidth;
    colN[j - j0] = n;
    colY[j - j0] = oy * g.strideHeight - g.padTop;
    colX[j - j0] = ox * g.strideWidth - g.padLeft;
  }
}

/** Packs rows (c, ky, kx) of group gi's column matrix; columns count from the start of the column tables. */
function im2colPacker(x: Float32Array, g: Conv2dGeometry, gi: number): PackB {
  const cg = g.inChannels / g.groups, taps = g.kernelHeight * g.kernelWidth;
  const H = g.inHeight, W = g.inWidth, plane = H * W;
  return (p0, kc, j0, nc, out) => {
    for (let p = 0; p < kc; p++) {
      const r = p0 + p;
      const c = (r / taps) | 0, t = r - c * taps;
      const ky = (t / g.kernelWidth) | 0, kx = t - ky * g.kernelWidth;
      const dy = ky * g.dilationHeight, dx = kx * g.dilationWidth;
      const chan = (gi * cg + c) * plane;
      for (let jr = 0; jr < nc; jr += NR) {
        let o = jr * kc + p * NR;
        for (let q = 0; q < NR; q++, o++) {
          const jj = j0 + jr + q;
          if (jr + q >= nc) { out[o] = 0; continue; }
          const iy = colY[jj] + dy, ix = colX[jj] + dx;
          out[o] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[colN[jj] * g.inChannels * plane + chan + iy * W + ix] : 0;
        }
      }
    }
  };
}

const isPointwise = (g: Conv2dGeometry) => g.kernelHeight === 1 && g.kernelWidth === 1 && g.strideHeight === 1 &&
  g.strideWidth === 1 && g.padTop === 0 && g.padLeft === 0 && g.padBottom === 0 && g.padRight === 0;

/**
 * The SIMD module's column tables for columns [j0, j1) at `at` (colOff, colY, colX, each `count`
 * long, then the panel flags): see asm/gemm.as.
 */
function simdColumnTables(s: SimdGemm, g: Conv2dGeometry, j0: number, j1: number, at: number, withFlags: boolean): void {
  const count = j1 - j0, t = s.i32(), off = at >>> 2, yAt = off + count, xAt = yAt + count, fAt = xAt + count;
  const P = g.outHeight * g.outWidth, W = g.inWidth, image = g.inChannels * g.inHeight * W;
  for (let j = j0; j < j1; j++) {
    const n = (j / P) | 0, p = j - n * P;
    const oy = (p / g.outWidth) | 0, ox = p - oy * g.outWidth;
    const iy = oy * g.strideHeight - g.padTop, ix = ox * g.strideWidth - g.padLeft;
    t[yAt + j - j0] = iy; t[xAt + j - j0] = ix; t[off + j - j0] = n * image + iy * W + ix;
  }
  if (!withFlags) return;
  const pointwise = isPointwise(g), NRs = s.NR;
  for (let q0 = 0, f = 0; q0 < count; q0 += NRs, f++) {
    let flag = 0;
    if (q0 + NRs <= count) {
      let consecutive = true, oneRow = true;
      for (let q = 1; q < NRs; q++) {
        if (t[off + q0 + q] !== t[off + q0] + q) consecutive = false;
        if (t[yAt + q0 + q] !== t[yAt + q0]) oneRow = false;
      }
      const n0 = ((j0 + q0) / P) | 0, n1 = ((j0 + q0 + NRs - 1) / P) | 0;
      if (consecutive && n0 === n1) flag = pointwise ? 2 : oneRow ? 1 : 0;
    }
    t[fAt + f] = flag;
  }
}

/** Row tables (rowOff, rowDy, rowDx, and the plane offsets), `rows` long each, for `channels` input channels from 0. */
function simdRowTables(s: SimdGemm, g: Conv2dGeometry, channels: number, at: number): void {
  const taps = g.kernelHeight * g.kernelWidth, rows = channels * taps, t = s.i32(), off = at >>> 2;
  const W = g.inWidth, plane = g.inHeight * W;
  for (let c = 0; c < channels; c++)
    for (let tap = 0; tap < taps; tap++) {
      const ky = (tap / g.kernelWidth) | 0, kx = tap - ky * g.kernelWidth;
      const dy = ky * g.dilationHeight, dx = kx * g.dilationWidth, r = c * taps + tap;
      t[off + r] = c * plane + dy * W + dx; t[off + rows + r] = dy; t[off + 2 * rows + r] = dx; t[off + 3 * rows + r] = c * plane;
    }
}

/**
 * The GEMM job whose x and w this thread's wasm memory holds (at the first two allocations after a
 * reset; for a backward job with one group, also its dY at the third).
 */
let inMemory = -1;

function simdForward(s: SimdGemm, x: Float32Array, w: Float32Array, bias: Float32Array | undefined, y: Float32Array,
  g: Conv2dGeometry, j0: number, j1: number, call: number): void {
  const cg = g.inChannels / g.groups, og = g.outChannels / g.groups, plane = g.inHeight * g.inWidth;
  const depth = cg * g.kernelHeight * g.kernelWidth, P = g.outHeight * g.outWidth, cols = j1 - j0;
  s.reset();
  const xp = s.alloc(4 * x.length), wp = s.alloc(4 * w.length), cp = s.alloc(4 * og * cols);
  const colAt = s.alloc(4 * (3 * cols + Math.ceil(cols / s.NR))), rowAt = s.alloc(16 * depth);
  const pa = s.alloc(s.packedABytes), pb = s.alloc(s.packedBBytes);
  const f = s.f32();
  if (call !== inMemory) {
    f.set(x, xp >>> 2);
    f.set(w, wp >>> 2);
    inMemory = call;
  }
  simdColumnTables(s, g, j0, j1, colAt, true);
  simdRowTables(s, g, cg, rowAt);
  s.setTables(colAt, colAt + 4 * cols, colAt + 8 * cols, colAt + 12 * cols, rowAt, rowAt + 4 * depth, rowAt + 8 * depth,
    g.inHeight, g.inWidth);
  for (let gi = 0; gi < g.groups; gi++) {
    // C starts as the bias (the GEMM adds to it), so y is copied out as it is.
    if (bias) for (let o = 0; o < og; o++) f.fill(bias[gi * og + o], (cp >>> 2) + o * cols, (cp >>> 2) + (o + 1) * cols);
    s.gemm(og, cols, depth, wp + 4 * gi * og * depth, depth, 1, 1, xp + 4 * gi * cg * plane, 0, 0, cp, cols, bias ? 1 : 0, pa, pb);
    for (let o = 0; o < og; o++) {
      const oc = gi * og + o;
      for (let j = j0; j < j1;) {
        const n = (j / P) | 0, p = j - n * P, len = Math.min(P - p, j1 - j);
        const to = (n * g.outChannels + oc) * P + p, from = (cp >>> 2) + o * cols + (j - j0);
        y.set(f.subarray(from, from + len), to);
        j += len;
      }
    }
  }
}

/** dx of input channels [c0, c1) (within every group) and their dw columns, on the SIMD GEMM. */
function simdBackward(s: SimdGemm, x: Float32Array, w: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array,
  g: Conv2dGeometry, c0: number, c1: number, call: number): void {
  const cg = g.inChannels / g.groups, og = g.outChannels / g.groups;
  const taps = g.kernelHeight * g.kernelWidth, depth = cg * taps;
  const plane = g.inHeight * g.inWidth, P = g.outHeight * g.outWidth, NP = g.batch * P;
  const channels = c1 - c0, rows = channels * taps;
  s.reset();
  const xp = s.alloc(4 * x.length), wp = s.alloc(4 * w.length), dyp = s.alloc(4 * og * NP);
  const colp = s.alloc(4 * rows * NP), dcolp = s.alloc(4 * rows * NP), dwp = s.alloc(4 * og * rows);
  const dxp = s.alloc(4 * channels * plane);
  const colAt = s.alloc(12 * NP), rowAt = s.alloc(16 * rows);
  const pa = s.alloc(s.packedABytes), pb = s.alloc(s.packedBBytes);
  const f = s.f32();
  const copied = call === inMemory;
  if (!copied) {
    f.set(x, xp >>> 2);
    f.set(w, wp >>> 2);
    inMemory = call;
  }
  simdColumnTables(s, g, 0, NP, colAt, false);
  simdRowTables(s, g, channels, rowAt);
  s.setTables(colAt, colAt + 4 * NP, colAt + 8 * NP, 0, rowAt, rowAt + 4 * rows, rowAt + 8 * rows, g.inHeight, g.inWidth);
  for (let gi = 0; gi < g.groups; gi++) {
    // dY_g as a dense [og, N*P] matrix; with one group, the same for every chunk of the call.
    if (!(copied && g.groups === 1))
      for (let o = 0; o < og; o++)
        for (let n = 0; n < g.batch; n++) {
          const from = (n * g.outChannels + gi * og + o) * P;
          f.set(dy.subarray(from, from + P), (dyp >>> 2) + o * NP + n * P);
        }
    s.im2colDense(xp + 4 * (gi * cg + c0) * plane, 0, rows, NP, colp);
    // dW_g[o, r] = sum_j dY_g[o, j] col[r, j]
    s.gemm(og, rows, NP, dyp, NP, 1, 0, colp, 1, NP, dwp, rows, 0, pa, pb);
    for (let o = 0; o < og; o++) {
      const from = (dwp >>> 2) + o * rows;
      dw.set(f.subarray(from, from + rows), (gi * og + o) * depth + c0 * taps);
    }
    // dcol[r, j] = sum_o W_g[o, r] dY_g[o, j]
    s.gemm(rows, NP, og, wp + 4 * (gi * og * depth + c0 * taps), 1, depth, 0, dyp, NP, 1, dcolp, NP, 0, pa, pb);
    for (let n = 0; n < g.batch; n++) {
      f.fill(0, dxp >>> 2, (dxp >>> 2) + channels * plane);
      s.col2im(dcolp, NP, 0, rows, n * P, (n + 1) * P, rowAt + 12 * rows, dxp);
      dx.set(f.subarray(dxp >>> 2, (dxp >>> 2) + channels * plane), (n * g.inChannels + gi * cg + c0) * plane);
    }
  }
}

/** y (+ bias) for output columns [j0, j1) of the batch-wide column space. */
export function gemmForward(x: Float32Array, w: Float32Array, bias: Float32Array | undefined, y: Float32Array,
  g: Conv2dGeometry, j0: number, j1: number, call: number): void {
  if (j1 <= j0) return;
  if (simd) return simdForward(simd, x, w, bias, y, g, j0, j1, call);
  const cg = g.inChannels / g.groups, og = g.outChannels / g.groups;
  const depth = cg * g.kernelHeight * g.kernelWidth, P = g.outHeight * g.outWidth, cols = j1 - j0;
  if (yTile.length < og * cols) yTile = new Float64Array(og * cols);
  const pointwise = isPointwise(g);
  if (!pointwise) columnTables(g, j0, j1);
  for (let gi = 0; gi < g.groups; gi++) {
    const a = { data: w, offset: gi * og * depth, rowStride: depth, colStride: 1 };
    const c = { data: yTile, offset: 0, rowStride: cols };
    if (pointwise) {
      // B is x itself, one image at a time: B[c, p] = x[n, gi*cg + c, p]
      for (let j = j0; j < j1;) {
        const n = (j / P) | 0, p = j - n * P, len = Math.min(P - p, j1 - j);
        const b = viewPacker({ data: x, offset: (n * g.inChannels + gi * cg) * P + p, rowStride: P, colStride: 1 });
        gemm(og, len, depth, a, b, { data: yTile, offset: j - j0, rowStride: cols }, false);
        j += len;
      }
    } else {
      gemm(og, cols, depth, a, im2colPacker(x, g, gi), c, false);
    }
    for (let o = 0; o < og; o++) {
      const oc = gi * og + o, b = bias ? bias[oc] : 0;
      for (let j = j0; j < j1;) {
        const n = (j / P) | 0, p = j - n * P, len = Math.min(P - p, j1 - j);
        const to = (n * g.outChannels + oc) * P + p, from = o * cols + (j - j0);
        for (let i = 0; i < len; i++) y[to + i] = yTile[from + i] + b;
        j += len;
      }
    }
  }
}

let col = new Float64Array(0), dcol = new Float64Array(0), dyG = new Float64Array(0);
let dwPart = new Float64Array(0), dxPart = new Float64Array(0);

/** dx of input channels [c0, c1) (within every group) and the dw columns of those channels. */
export function gemmBackward(x: Float32Array, w: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array,
  g: Conv2dGeometry, c0: number, c1: number, call: number): void {
  if (c1 <= c0) return;
  if (simd) return simdBackward(simd, x, w, dy, dx, dw, g, c0, c1, call);
  const cg = g.inChannels / g.groups, og = g.outChannels / g.groups;
  const kH = g.kernelHeight, kW = g.kernelWidth, taps = kH * kW, depth = cg * taps;
  const H = g.inHeight, W = g.inWidth, plane = H * W, P = g.outHeight * g.outWidth, NP = g.batch * P;
  const rows = (c1 - c0) * taps;
  if (col.length < rows * NP) { col = new Float64Array(rows * NP); dcol = new Float64Array(rows * NP); }
  if (dyG.length < og * NP) dyG = new Float64Array(og * NP);
  if (dwPart.length < og * rows) dwPart = new Float64Array(og * rows);
  if (dxPart.length < (c1 - c0) * plane) dxPart = new Float64Array((c1 - c0) * plane);
  columnTables(g, 0, NP);
  for (let gi = 0; gi < g.groups; gi++) {
    // dY_g as a dense [og, N*P] matrix
    for (let o = 0; o < og; o++)
      for (let n = 0; n < g.batch; n++) {
        const from = (n * g.outChannels + gi * og + o) * P, to = o * NP + n * P;
        for (let p = 0; p < P; p++) dyG[to + p] = dy[from + p];
      }
    // this thread's rows of the column matrix
    for (let c = c0; c < c1; c++)
      for (let t = 0; t < taps; t++) {
        const ky = (t / kW) | 0, kx = t - ky * kW, ddy = ky * g.dilationHeight, ddx = kx * g.dilationWidth;
        const chan = (gi * cg + c) * plane, r = ((c - c0) * taps + t) * NP;
        for (let j = 0; j < NP; j++) {
          const iy = colY[j] + ddy, ix = colX[j] + ddx;
          col[r + j] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[colN[j] * g.inChannels * plane + chan + iy * W + ix] : 0;
        }
      }
    const dyView = { data: dyG, offset: 0, rowStride: NP, colStride: 1 };
    gemm(og, rows, NP, dyView, viewPacker({ data: col, offset: 0, rowStride: 1, colStride: NP }),
      { data: dwPart, offset: 0, rowStride: rows }, false);
    for (let o = 0; o < og; o++) {
      const to = (gi * og + o) * depth + c0 * taps;
      for (let r = 0; r < rows; r++) dw[to + r] = dwPart[o * rows + r];
    }
    gemm(rows, NP, og, { data: w, offset: gi * og * depth + c0 * taps, rowStride: 1, colStride: depth },
      viewPacker(dyView), { data: dcol, offset: 0, rowStride: NP }, false);
    for (let n = 0; n < g.batch; n++) {
      dxPart.fill(0, 0, (c1 - c0) * plane);
      for (let c = c0; c < c1; c++)
        for (let t = 0; t < taps; t++) {
          const ky = (t / kW) | 0, kx = t - ky * kW, ddy = ky * g.dilationHeight, ddx = kx * g.dilationWidth;
          const r = ((c - c0) * taps + t) * NP, to = (c - c0) * plane;
          for (let j = n * P; j < (n + 1) * P; j++) {
            const iy = colY[j] + ddy, ix = colX[j] + ddx;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) dxPart[to + iy * W + ix] += dcol[r + j];
          }
        }
      const to = (n * g.inChannels + gi * cg + c0) * plane;
      for (let i = 0; i < (c1 - c0) * plane; i++) dx[to + i] = dxPart[i];
    }
  }
}

/** Batch-wide output columns of a geometry (the forward split). */
export function columnsOf(g: Conv2dGeometry): number {
  return g.batch * g.outHeight * g.outWidth;
}
