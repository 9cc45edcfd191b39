// Cache-blocked GEMM in the BLIS/GotoBLAS style: C[M,N] (+)= A[M,K] * B[K,N].
//
// Loops, outermost first: jc over N in NC columns, pc over K in KC, ic over M in MC rows;
// the B block (KC x NC) is packed into NR-column panels and the A block (MC x KC) into MR-row
// panels, both zero-padded at the edges, so the MR x NR micro-kernel always runs a full tile and
// reads both operands sequentially. Edge tiles store only their valid part.
// Packed operands are float64 (no float32->float64 conversion in the hot loop); C is float32 or
// float64. A and B are strided views, so transposes cost nothing.

export type FloatArray = Float32Array | Float64Array;

/** Element (i, j) of the view is data[offset + i * rowStride + j * colStride]. */
export interface MatrixView { data: FloatArray; offset: number; rowStride: number; colStride: number }

/** Dense row-major destination: element (i, j) is data[offset + i * rowStride + j]. */
export interface DenseMatrix { data: FloatArray; offset: number; rowStride: number }

export const MR = 4;
export const NR = 8;
export const KC = 256;
export const MC = 64;   // multiple of MR; packed A block = MC * KC doubles = 128 KiB
export const NC = 1024; // multiple of NR; packed B block = KC * NC doubles = 2 MiB

// Scratch reused across calls; grown on demand.
let packedA = new Float64Array(0);
let packedB = new Float64Array(0);
const tile = new Float64Array(MR * NR);

/** Copies rows [i0, i0+mc) x columns [p0, p0+kc) of A into MR-row panels: panel r holds kc groups of MR values. */
function packA(a: MatrixView, i0: number, p0: number, mc: number, kc: number, out: Float64Array): void {
  const { data, rowStride, colStride } = a;
  let o = 0;
  for (let ir = 0; ir < mc; ir += MR) {
    const rows = Math.min(MR, mc - ir);
    const base = a.offset + (i0 + ir) * rowStride + p0 * colStride;
    for (let p = 0; p < kc; p++) {
      const at = base + p * colStride;
      for (let r = 0; r < MR; r++) out[o++] = r < rows ? data[at + r * rowStride] : 0;
    }
  }
}

/** Copies rows [p0, p0+kc) x columns [j0, j0+nc) of B into NR-column panels: panel j holds kc groups of NR values. */
function packB(b: MatrixView, p0: number, j0: number, kc: number, nc: number, out: Float64Array): void {
  const { data, rowStride, colStride } = b;
  let o = 0;
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = Math.min(NR, nc - jr);
    const base = b.offset + p0 * rowStride + (j0 + jr) * colStride;
    for (let p = 0; p < kc; p++) {
      const at = base + p * rowStride;
      for (let c = 0; c < NR; c++) out[o++] = c < cols ? data[at + c * colStride] : 0;
    }
  }
}

/** tile[MR x NR] = (A panel at ai) * (B panel at bi) over kc; the 32 accumulators are locals. */
function microKernel(kc: number, a: Float64Array, ai: number, b: Float64Array, bi: number, out: Float64Array): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0;
  for (let p = 0; p < kc; p++, ai += MR, bi += NR) {
    const a0 = a[ai], a1 = a[ai + 1], a2 = a[ai + 2], a3 = a[ai + 3];
    const b0 = b[bi], b1 = b[bi + 1], b2 = b[bi + 2], b3 = b[bi + 3];
    const b4 = b[bi + 4], b5 = b[bi + 5], b6 = b[bi + 6], b7 = b[bi + 7];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3; c04 += a0 * b4; c05 += a0 * b5; c06 += a0 * b6; c07 += a0 * b7;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3; c14 += a1 * b4; c15 += a1 * b5; c16 += a1 * b6; c17 += a1 * b7;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3; c24 += a2 * b4; c25 += a2 * b5; c26 += a2 * b6; c27 += a2 * b7;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3; c34 += a3 * b4; c35 += a3 * b5; c36 += a3 * b6; c37 += a3 * b7;
  }
  out[0] = c00; out[1] = c01; out[2] = c02; out[3] = c03; out[4] = c04; out[5] = c05; out[6] = c06; out[7] = c07;
  out[8] = c10; out[9] = c11; out[10] = c12; out[11] = c13; out[12] = c14; out[13] = c15; out[14] = c16; out[15] = c17;
  out[16] = c20; out[17] = c21; out[18] = c22; out[19] = c23; out[20] = c24; out[21] = c25; out[22] = c26; out[23] = c27;
  out[24] = c30; out[25] = c31; out[26] = c32; out[27] = c33; out[28] = c34; out[29] = c35; out[30] = c36; out[31] = c37;
}

/** Writes (or adds) the valid rows x cols of `tile` into C at (i, j). */
function storeTile(c: DenseMatrix, i: number, j: number, rows: number, cols: number, add: boolean): void {
  const data = c.data;
  for (let r = 0; r < rows; r++) {
    const at = c.offset + (i + r) * c.rowStride + j;
    const t = r * NR;
    if (add) for (let q = 0; q < cols; q++) data[at + q] += tile[t + q];
    else for (let q = 0; q < cols; q++) data[at + q] = tile[t + q];
  }
}

/**
 * C[M,N] = A[M,K] * B[K,N], or C += A * B when `accumulate`.
 * Products are summed in float64 within each KC block of K; C is rounded to its type between blocks.
 */
export function gemm(m: number, n: number, k: number, a: MatrixView, b: MatrixView, c: DenseMatrix, accumulate: boolean): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) for (let i = 0; i < m; i++) c.data.fill(0, c.offset + i * c.rowStride, c.offset + i * c.rowStride + n);
    return;
  }
  const kcMax = Math.min(k, KC);
  const needA = kcMax * Math.ceil(Math.min(m, MC) / MR) * MR;
  const needB = kcMax * Math.ceil(Math.min(n, NC) / NR) * NR;
  if (packedA.length < needA) packedA = new Float64Array(needA);
  if (packedB.length < needB) packedB = new Float64Array(needB);
  const pa = packedA;
  const pb = packedB;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      const add = accumulate || pc > 0;
      packB(b, pc, jc, kc, nc, pb);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        packA(a, ic, pc, mc, kc, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = Math.min(NR, nc - jr);
          for (let ir = 0; ir < mc; ir += MR) {
            microKernel(kc, pa, ir * kc, pb, jr * kc, tile);
            storeTile(c, ic + ir, jc + jr, Math.min(MR, mc - ir), cols, add);
          }
        }
      }
    }
  }
}
