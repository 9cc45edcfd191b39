// Packed GEMM for the fast kernels: C[M,N] (+)= A[M,K] * B[K,N].
//
// Goto/BLIS blocking: N in NC columns, K in KC, M in MC rows; A is packed into MR-row panels and
// B into NR-column panels (float64, zero-filled past the edge), so the 4x4 micro-kernel always
// runs a whole tile with sequential reads. Measured on this machine (Node 20), 4x4 with float64
// panels was at least as fast as 4x8, 6x4, 2x8 and float32 panels, and keeps the 16 accumulators
// plus 8 operands close to the 16 SIMD registers V8 has. Sums stay float64 within a KC block.
// B is given by a packer, so a caller can pack straight from its own layout (im2col without a
// column matrix); `viewPacker` covers plain strided matrices.

export type FloatArray = Float32Array | Float64Array;

/** Element (i, j) is data[offset + i * rowStride + j * colStride]. */
export interface MatrixView { data: FloatArray; offset: number; rowStride: number; colStride: number }

/** Dense destination: element (i, j) is data[offset + i * rowStride + j]. */
export interface DenseMatrix { data: FloatArray; offset: number; rowStride: number }

/** Fills `out` with rows [p0, p0+kc) x columns [j0, j0+nc) of B as NR-column panels (kc groups of NR values each, zeros past column nc). */
export type PackB = (p0: number, kc: number, j0: number, nc: number, out: Float64Array) => void;

export const MR = 4;
export const NR = 4;
const KC = 256;
const MC = 64;
const NC = 2048;

let packedA: Float64Array = new Float64Array(0);
let packedB: Float64Array = new Float64Array(0);
const tile = new Float64Array(MR * NR);

/** A packer for B given as a strided view. */
export function viewPacker(b: MatrixView): PackB {
  const { data, rowStride, colStride } = b;
  return (p0, kc, j0, nc, out) => {
    let o = 0;
    for (let jr = 0; jr < nc; jr += NR) {
      const cols = Math.min(NR, nc - jr);
      const base = b.offset + p0 * rowStride + (j0 + jr) * colStride;
      if (cols === NR && colStride === 1) {
        for (let p = 0, at = base; p < kc; p++, at += rowStride, o += 4) {
          out[o] = data[at]; out[o + 1] = data[at + 1]; out[o + 2] = data[at + 2]; out[o + 3] = data[at + 3];
        }
      } else {
        for (let p = 0, at = base; p < kc; p++, at += rowStride)
          for (let c = 0; c < NR; c++) out[o++] = c < cols ? data[at + c * colStride] : 0;
      }
    }
  };
}

/** Rows [i0, i0+mc) x columns [p0, p0+kc) of A as MR-row panels. */
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

/** out[0..16) = (4-row panel of a at ai) x (4-column panel of b at bi) over kc, row-major. */
export function microKernel(kc: number, a: Float64Array, ai: number, b: Float64Array, bi: number, out: Float64Array): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let p = 0; p < kc; p++, ai += 4, bi += 4) {
    const a0 = a[ai], a1 = a[ai + 1], a2 = a[ai + 2], a3 = a[ai + 3];
    let bv = b[bi];
    c00 += a0 * bv; c10 += a1 * bv; c20 += a2 * bv; c30 += a3 * bv;
    bv = b[bi + 1];
    c01 += a0 * bv; c11 += a1 * bv; c21 += a2 * bv; c31 += a3 * bv;
    bv = b[bi + 2];
    c02 += a0 * bv; c12 += a1 * bv; c22 += a2 * bv; c32 += a3 * bv;
    bv = b[bi + 3];
    c03 += a0 * bv; c13 += a1 * bv; c23 += a2 * bv; c33 += a3 * bv;
  }
  out[0] = c00; out[1] = c01; out[2] = c02; out[3] = c03;
  out[4] = c10; out[5] = c11; out[6] = c12; out[7] = c13;
  out[8] = c20; out[9] = c21; out[10] = c22; out[11] = c23;
  out[12] = c30; out[13] = c31; out[14] = c32; out[15] = c33;
}

function storeTile(c: DenseMatrix, i: number, j: number, rows: number, cols: number, add: boolean): void {
  const data = c.data;
  for (let r = 0; r < rows; r++) {
    const at = c.offset + (i + r) * c.rowStride + j;
    const t = r * NR;
    if (add) for (let q = 0; q < cols; q++) data[at + q] += tile[t + q];
    else for (let q = 0; q < cols; q++) data[at + q] = tile[t + q];
  }
}

/** C = A * B, or C += A * B when `accumulate`; B through its packer. */
export function gemm(m: number, n: number, k: number, a: MatrixView, packB: PackB, c: DenseMatrix, accumulate: boolean): void {
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
  const pa = packedA, pb = packedB;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      const add = accumulate || pc > 0;
      packB(pc, kc, jc, nc, pb);
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
