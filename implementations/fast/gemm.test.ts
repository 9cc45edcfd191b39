// The packed GEMM against a triple loop, on sizes that are not multiples of the 4x4 tile nor of
// the KC/MC/NC blocks, with transposed views, offsets and accumulation.
import { describe, expect, it } from 'vitest';
import { type DenseMatrix, gemm, type MatrixView, viewPacker } from './gemm.ts';
import { SIMD_SUPPORTED, simd, type SimdGemm } from './wasm.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 31 - 1; };
}

function view(rows: number, cols: number, transposed: boolean, next: () => number): MatrixView {
  const offset = 5, ld = (transposed ? rows : cols) + 3;
  const data = new Float32Array(offset + ld * (transposed ? cols : rows) + 7).map(next);
  return transposed ? { data, offset, rowStride: 1, colStride: ld } : { data, offset, rowStride: ld, colStride: 1 };
}

const at = (v: MatrixView, i: number, j: number) => v.data[v.offset + i * v.rowStride + j * v.colStride];

describe('fast gemm', () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [27, 37, 23], [23, 19, 300], [5, 2100, 7], [70, 9, 513], [4, 4, 4]];
  for (const [m, n, k] of shapes)
    for (const [ta, tb, acc] of [[false, false, false], [true, false, true], [false, true, false], [true, true, true]]) {
      it(`${m}x${n}x${k} transA=${ta} transB=${tb} accumulate=${acc}`, () => {
        const next = lcg(m * 7919 + n * 104729 + k);
        const a = view(m, k, ta, next), b = view(k, n, tb, next);
        const c: DenseMatrix = { data: new Float64Array(3 + m * (n + 2) + 4).map(next), offset: 3, rowStride: n + 2 };
        const before = Float64Array.from(c.data);
        gemm(m, n, k, a, viewPacker(b), c, acc);
        for (let i = 0; i < c.data.length; i++) {
          const r = Math.floor((i - 3) / (n + 2)), j = (i - 3) % (n + 2);
          if (i < 3 || r >= m || j >= n) { expect(c.data[i]).toBe(before[i]); continue; }
          let want = acc ? before[i] : 0, mass = Math.abs(want);
          for (let p = 0; p < k; p++) { want += at(a, r, p) * at(b, p, j); mass += Math.abs(at(a, r, p) * at(b, p, j)); }
          expect(Math.abs(c.data[i] - want)).toBeLessThanOrEqual(1e-12 * mass);
        }
      });
    }
});

// The float32 SIMD GEMM (wasm.ts, asm/gemm.as) against a float64 triple loop within float32's
// error bound for a dot product in any order (k + 1 roundings with accumulation), and against the
// TypeScript GEMM above; strided and transposed operands, sizes off the 4x8 tile and the blocks.
it('the SIMD module is loaded wherever WebAssembly SIMD is supported and not switched off (npm run build makes it)', () => {
  expect(simd !== undefined).toBe(SIMD_SUPPORTED && process.env.CONVBENCH_FAST_NO_SIMD !== '1');
});

describe.runIf(simd !== undefined)('fast SIMD gemm', () => {
  const s = simd as SimdGemm;
  const shapes: [number, number, number][] = [[1, 1, 1], [27, 37, 23], [23, 19, 300], [19, 23, 27 * 37], [5, 1100, 7], [70, 9, 513], [4, 8, 4], [67, 261, 259]];
  for (const [m, n, k] of shapes)
    for (const [ta, tb, acc] of [[false, false, false], [true, false, true], [false, true, false], [true, true, true]]) {
      it(`${m}x${n}x${k} transA=${ta} transB=${tb} accumulate=${acc}`, () => {
        const next = lcg(m * 7919 + n * 104729 + k + 1);
        const a = view(m, k, ta, next), b = view(k, n, tb, next);
        const ldc = n + 2, cLength = 3 + m * ldc + 4;
        const c0 = new Float32Array(cLength).map(next);
        s.reset();
        const ap = s.alloc(4 * a.data.length), bp = s.alloc(4 * b.data.length), cp = s.alloc(4 * cLength);
        const pa = s.alloc(s.packedABytes), pb = s.alloc(s.packedBBytes);
        const f = s.f32();
        f.set(a.data, ap >>> 2); f.set(b.data, bp >>> 2); f.set(c0, cp >>> 2);
        s.gemm(m, n, k, ap + 4 * a.offset, a.rowStride, a.colStride, 0, bp + 4 * b.offset, b.rowStride, b.colStride,
          cp + 12, ldc, acc ? 1 : 0, pa, pb);
        const got = s.f32().slice(cp >>> 2, (cp >>> 2) + cLength);
        const ts: DenseMatrix = { data: Float64Array.from(c0), offset: 3, rowStride: ldc };
        gemm(m, n, k, a, viewPacker(b), ts, acc);
        const u = 2 ** -24, gamma = (k + 1) * u / (1 - (k + 1) * u);
        for (let i = 0; i < cLength; i++) {
          const r = Math.floor((i - 3) / ldc), j = (i - 3) % ldc;
          if (i < 3 || r >= m || j >= n) { expect(got[i]).toBe(c0[i]); continue; }
          let want = acc ? c0[i] : 0, mass = Math.abs(want);
          for (let p = 0; p < k; p++) { want += at(a, r, p) * at(b, p, j); mass += Math.abs(at(a, r, p) * at(b, p, j)); }
          expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(gamma * mass);
          expect(Math.abs(got[i] - ts.data[i])).toBeLessThanOrEqual(gamma * mass + 1e-12 * mass);
        }
      });
    }
});
