// AssemblyScript source of fast's float32 GEMM with 128-bit WebAssembly SIMD (issue 11), compiled by
// scripts/build-wasm.mjs into gemm.wasm beside this file. It is not TypeScript (v128, load<T>,
// @inline), hence the .as name: tsc, vitest and the linters never see it.
//
// C[M,N] (+)= A[M,K] * B[K,N], Goto/BLIS blocking as in ../gemm.ts: B in NC x KC blocks packed into
// NR-column panels, A in MC x KC blocks packed into MR-row panels (zeros past the edges), and a 4x8
// register-blocked micro-kernel: 8 f32x4 accumulators, per k two B vectors and four broadcast A
// values, f32x4.mul then f32x4.add (baseline SIMD has no fused multiply-add). Sums are float32 in
// whatever order the blocking gives; a float32 dot product in any order is inside the harness's
// error budget.
//
// Memory is the caller's: every pointer is a byte address the JavaScript side allocated (above
// heapBase()) and every stride is in elements. Nothing here allocates.
//   B from a strided matrix (mode 0), or packed straight from an NCHW input as im2col (mode 1)
//   through the column and row tables set by setTables:
//     element (r, j) = x[colOff[j] + rowOff[r]] when 0 <= colY[j] + rowDy[r] < H and
//                      0 <= colX[j] + rowDx[r] < W, else 0;
//     flags[j / 8] (columns counted from the table start): 2, the panel's 8 columns are 8
//     consecutive x elements always in bounds (1x1, no padding); 1, 8 consecutive elements of one
//     row (stride 1); 0, anything else (a gather without bounds checks where the 8 windows lie
//     inside x for the rows being packed).

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 128;
const NC: i32 = 512;

const tile: usize = memory.data(MR * NR * 4, 16);

let colOff: usize = 0, colY: usize = 0, colX: usize = 0, flags: usize = 0;
let rowOff: usize = 0, rowDy: usize = 0, rowDx: usize = 0;
let inH: i32 = 0, inW: i32 = 0;

export function heapBase(): usize { return __heap_base; }
/** Bytes of scratch the A and B panels of one gemm call need at most. */
export function packedABytes(): i32 { return MC * KC * 4; }
export function packedBBytes(): i32 { return KC * NC * 4; }
export function blockNR(): i32 { return NR; }

export function setTables(cOff: usize, cY: usize, cX: usize, fl: usize, rOff: usize, rDy: usize, rDx: usize, h: i32, w: i32): void {
  colOff = cOff; colY = cY; colX = cX; flags = fl; rowOff = rOff; rowDy = rDy; rowDx = rDx; inH = h; inW = w;
}

@inline function ld(p: usize): f32 { return load<f32>(p); }
@inline function ldi(base: usize, i: i32): i32 { return load<i32>(base + (<usize>i << 2)); }

/** Rows [0, mc) x columns [0, kc) of A at `a` as MR-row panels [panel][kc][MR]. */
function packA(a: usize, rs: i32, cs: i32, mc: i32, kc: i32, out: usize): void {
  const rsb = <usize>rs << 2, csb = <usize>cs << 2;
  for (let ir = 0; ir < mc; ir += MR) {
    const rows = min(MR, mc - ir);
    const base = a + <usize>ir * rsb;
    if (rows == MR) {
      if (cs == 1 && kc >= 4) {
        // 4x4 transposes: four row vectors in, four column vectors out
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          const at = base + (<usize>p << 2);
          const r0 = v128.load(at), r1 = v128.load(at + rsb), r2 = v128.load(at + 2 * rsb), r3 = v128.load(at + 3 * rsb);
          const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
          v128.store(out, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(out, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
          v128.store(out, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
          v128.store(out, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
          out += 64;
        }
        for (; p < kc; p++) {
          const at = base + (<usize>p << 2);
          store<f32>(out, ld(at)); store<f32>(out, ld(at + rsb), 4);
          store<f32>(out, ld(at + 2 * rsb), 8); store<f32>(out, ld(at + 3 * rsb), 12);
          out += 16;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const at = base + <usize>p * csb;
          store<f32>(out, ld(at)); store<f32>(out, ld(at + rsb), 4);
          store<f32>(out, ld(at + 2 * rsb), 8); store<f32>(out, ld(at + 3 * rsb), 12);
          out += 16;
        }
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const at = base + <usize>p * csb;
        for (let r = 0; r < MR; r++) store<f32>(out + (<usize>r << 2), r < rows ? ld(at + <usize>r * rsb) : 0);
        out += 16;
      }
    }
  }
}

/** Rows [0, kc) x columns [0, nc) of a strided B at `b` as NR-column panels [panel][kc][NR]. */
function packB(b: usize, rs: i32, cs: i32, kc: i32, nc: i32, out: usize): void {
  const rsb = <usize>rs << 2, csb = <usize>cs << 2;
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    const base = b + <usize>jr * csb;
    if (cols == NR && cs == 1) {
      for (let p = 0, at = base; p < kc; p++, at += rsb, out += 32) {
        v128.store(out, v128.load(at));
        v128.store(out, v128.load(at, 16), 16);
      }
    } else if (cols == NR && rs == 1) {
      // B transposed: each column is contiguous along k; 4x4 transposes of two column quads
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        for (let h = 0; h < 2; h++) {
          const at = base + (<usize>(4 * h) * csb) + (<usize>p << 2);
          const r0 = v128.load(at), r1 = v128.load(at + csb), r2 = v128.load(at + 2 * csb), r3 = v128.load(at + 3 * csb);
          const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
          const o = out + (<usize>h << 4);
          v128.store(o, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(o, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 32);
          v128.store(o, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 64);
          v128.store(o, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 96);
        }
        out += 128;
      }
      for (; p < kc; p++, out += 32)
        for (let q = 0; q < NR; q++) store<f32>(out + (<usize>q << 2), ld(base + <usize>q * csb + (<usize>p << 2)));
    } else {
      for (let p = 0, at = base; p < kc; p++, at += rsb, out += 32)
        for (let q = 0; q < NR; q++) store<f32>(out + (<usize>q << 2), q < cols ? ld(at + <usize>q * csb) : 0);
    }
  }
}

/** Whether columns [j, j + NR) keep every window offset in [dyMin, dyMax] x [dxMin, dxMax] inside x. */
@inline function inside(j: i32, dyMin: i32, dyMax: i32, dxMin: i32, dxMax: i32): bool {
  let ok = true;
  for (let q = 0; q < NR; q++) {
    const cy = ldi(colY, j + q), cx = ldi(colX, j + q);
    ok = ok && cy + dyMin >= 0 && cy + dyMax < inH && cx + dxMin >= 0 && cx + dxMax < inW;
  }
  return ok;
}

/** Rows [p0, p0+kc) x columns [j0, j0+nc) of the im2col matrix of x (see the header) as NR-column panels. */
function packIm2col(x: usize, p0: i32, kc: i32, j0: i32, nc: i32, out: usize): void {
  const H = inH, W = inW;
  const zero = f32x4.splat(0);
  // The rows' window extent: a panel whose columns all keep it inside x is a plain gather.
  let dyMin = i32.MAX_VALUE, dyMax = i32.MIN_VALUE, dxMin = i32.MAX_VALUE, dxMax = i32.MIN_VALUE;
  for (let r = p0; r < p0 + kc; r++) {
    const ry = ldi(rowDy, r), rx = ldi(rowDx, r);
    dyMin = min(dyMin, ry); dyMax = max(dyMax, ry); dxMin = min(dxMin, rx); dxMax = max(dxMax, rx);
  }
  for (let jr = 0; jr < nc; jr += NR) {
    const j = j0 + jr;
    const cols = min(NR, nc - jr);
    const flag = cols == NR ? ldi(flags, j >> 3) : 0;
    if (flag == 2) {
      const cbase = x + (<usize>ldi(colOff, j) << 2);
      for (let p = 0; p < kc; p++, out += 32) {
        const at = cbase + (<usize>ldi(rowOff, p0 + p) << 2);
        v128.store(out, v128.load(at));
        v128.store(out, v128.load(at, 16), 16);
      }
    } else if (flag == 1) {
      const cy = ldi(colY, j), cx = ldi(colX, j), co = ldi(colOff, j);
      for (let p = 0; p < kc; p++, out += 32) {
        const r = p0 + p;
        const iy = cy + ldi(rowDy, r), ix = cx + ldi(rowDx, r);
        const at = x + (<usize>(co + ldi(rowOff, r)) << 2);
        if (iy < 0 || iy >= H) {
          v128.store(out, zero); v128.store(out, zero, 16);
        } else if (ix >= 0 && ix + NR <= W) {
          v128.store(out, v128.load(at));
          v128.store(out, v128.load(at, 16), 16);
        } else {
          for (let q = 0; q < NR; q++)
            store<f32>(out + (<usize>q << 2), ix + q >= 0 && ix + q < W ? ld(at + (<usize>q << 2)) : 0);
        }
      }
    } else if (cols == NR && inside(j, dyMin, dyMax, dxMin, dxMax)) {
      // every tap of the 8 columns is in x: out[p][q] = x[colOff[j + q] + rowOff[p0 + p]]
      const o0 = x + (<usize>ldi(colOff, j) << 2), o1 = x + (<usize>ldi(colOff, j + 1) << 2);
      const o2 = x + (<usize>ldi(colOff, j + 2) << 2), o3 = x + (<usize>ldi(colOff, j + 3) << 2);
      const o4 = x + (<usize>ldi(colOff, j + 4) << 2), o5 = x + (<usize>ldi(colOff, j + 5) << 2);
      const o6 = x + (<usize>ldi(colOff, j + 6) << 2), o7 = x + (<usize>ldi(colOff, j + 7) << 2);
      for (let p = 0; p < kc; p++, out += 32) {
        const ro = <usize>ldi(rowOff, p0 + p) << 2;
        store<f32>(out, ld(o0 + ro)); store<f32>(out, ld(o1 + ro), 4);
        store<f32>(out, ld(o2 + ro), 8); store<f32>(out, ld(o3 + ro), 12);
        store<f32>(out, ld(o4 + ro), 16); store<f32>(out, ld(o5 + ro), 20);
        store<f32>(out, ld(o6 + ro), 24); store<f32>(out, ld(o7 + ro), 28);
      }
    } else {
      for (let p = 0; p < kc; p++, out += 32) {
        const r = p0 + p;
        const ro = ldi(rowOff, r), rdy = ldi(rowDy, r), rdx = ldi(rowDx, r);
        for (let q = 0; q < NR; q++) {
          let v: f32 = 0;
          if (q < cols) {
            const iy = ldi(colY, j + q) + rdy, ix = ldi(colX, j + q) + rdx;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) v = ld(x + (<usize>(ldi(colOff, j + q) + ro) << 2));
          }
          store<f32>(out + (<usize>q << 2), v);
        }
      }
    }
  }
}

/** The 4x8 micro-kernel: C tile (rows x cols of it) at c (row stride ldcb bytes) (+)= A panel * B panel. */
@inline function microKernel(kc: i32, a: usize, b: usize, c: usize, ldcb: usize, rows: i32, cols: i32, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < kc; p++, a += 16, b += 32) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let av = v128.load32_splat(a);
    c00 = f32x4.add(c00, f32x4.mul(av, b0)); c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = v128.load32_splat(a, 4);
    c10 = f32x4.add(c10, f32x4.mul(av, b0)); c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = v128.load32_splat(a, 8);
    c20 = f32x4.add(c20, f32x4.mul(av, b0)); c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = v128.load32_splat(a, 12);
    c30 = f32x4.add(c30, f32x4.mul(av, b0)); c31 = f32x4.add(c31, f32x4.mul(av, b1));
  }
  if (rows == MR && cols == NR) {
    if (add) {
      v128.store(c, f32x4.add(v128.load(c), c00)); v128.store(c, f32x4.add(v128.load(c, 16), c01), 16);
      c += ldcb;
      v128.store(c, f32x4.add(v128.load(c), c10)); v128.store(c, f32x4.add(v128.load(c, 16), c11), 16);
      c += ldcb;
      v128.store(c, f32x4.add(v128.load(c), c20)); v128.store(c, f32x4.add(v128.load(c, 16), c21), 16);
      c += ldcb;
      v128.store(c, f32x4.add(v128.load(c), c30)); v128.store(c, f32x4.add(v128.load(c, 16), c31), 16);
    } else {
      v128.store(c, c00); v128.store(c, c01, 16);
      c += ldcb;
      v128.store(c, c10); v128.store(c, c11, 16);
      c += ldcb;
      v128.store(c, c20); v128.store(c, c21, 16);
      c += ldcb;
      v128.store(c, c30); v128.store(c, c31, 16);
    }
    return;
  }
  v128.store(tile, c00); v128.store(tile, c01, 16); v128.store(tile, c10, 32); v128.store(tile, c11, 48);
  v128.store(tile, c20, 64); v128.store(tile, c21, 80); v128.store(tile, c30, 96); v128.store(tile, c31, 112);
  for (let r = 0; r < rows; r++) {
    const at = c + <usize>r * ldcb, t = tile + (<usize>(r * NR) << 2);
    for (let q = 0; q < cols; q++) {
      const o = at + (<usize>q << 2), v = ld(t + (<usize>q << 2));
      store<f32>(o, add ? ld(o) + v : v);
    }
  }
}

/**
 * C = A * B, or C += A * B when `accumulate`. A at `a` with element strides ars, acs; B at `b`,
 * strided (bMode 0, strides brs, bcs) or x for im2col (bMode 1, columns counted from the tables'
 * start); C dense with row stride ldc. pa, pb: scratch of packedABytes() and packedBBytes().
 */
export function gemm(m: i32, n: i32, k: i32, a: usize, ars: i32, acs: i32, bMode: i32, b: usize, brs: i32, bcs: i32,
  c: usize, ldc: i32, accumulate: bool, pa: usize, pb: usize): void {
  if (m <= 0 || n <= 0) return;
  const ldcb = <usize>ldc << 2;
  if (k <= 0) {
    if (!accumulate) for (let i = 0; i < m; i++) memory.fill(c + <usize>i * ldcb, 0, <usize>n << 2);
    return;
  }
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const add = accumulate || pc > 0;
      if (bMode == 0) packB(b + ((<usize>pc * brs + <usize>jc * bcs) << 2), brs, bcs, kc, nc, pb);
      else packIm2col(b, pc, kc, jc, nc, pb);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(a + ((<usize>ic * ars + <usize>pc * acs) << 2), ars, acs, mc, kc, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = min(NR, nc - jr);
          const bp = pb + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min(MR, mc - ir);
            microKernel(kc, pa + (<usize>(ir * kc) << 2), bp, c + <usize>(ic + ir) * ldcb + (<usize>(jc + jr) << 2), ldcb, rows, cols, add);
          }
        }
      }
    }
  }
}

/** The dense im2col rows [r0, r0+rows) x columns [0, cols) of x into out (row stride cols). */
export function im2colDense(x: usize, r0: i32, rows: i32, cols: i32, out: usize): void {
  const H = inH, W = inW;
  for (let r = r0; r < r0 + rows; r++) {
    const ro = ldi(rowOff, r), rdy = ldi(rowDy, r), rdx = ldi(rowDx, r);
    for (let j = 0; j < cols; j++, out += 4) {
      const iy = ldi(colY, j) + rdy, ix = ldi(colX, j) + rdx;
      store<f32>(out, iy >= 0 && iy < H && ix >= 0 && ix < W ? ld(x + (<usize>(ldi(colOff, j) + ro) << 2)) : 0);
    }
  }
}

/**
 * col2im: for rows [r0, r0+rows) of dcol (row stride ldd) and columns [j0, j1), adds dcol[r, j] to
 * out[planeOff[r] + (colY[j] + rowDy[r]) * W + colX[j] + rowDx[r]] where in bounds; planeOff is
 * the table at `planes`.
 */
export function col2im(dcol: usize, ldd: i32, r0: i32, rows: i32, j0: i32, j1: i32, planes: usize, out: usize): void {
  const H = inH, W = inW;
  for (let r = r0; r < r0 + rows; r++) {
    const po = ldi(planes, r), rdy = ldi(rowDy, r), rdx = ldi(rowDx, r);
    const src = dcol + <usize>(r - r0) * (<usize>ldd << 2);
    for (let j = j0; j < j1; j++) {
      const iy = ldi(colY, j) + rdy, ix = ldi(colX, j) + rdx;
      if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
        const o = out + (<usize>(po + iy * W + ix) << 2);
        store<f32>(o, ld(o) + ld(src + (<usize>j << 2)));
      }
    }
  }
}
