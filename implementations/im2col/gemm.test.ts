import { describe, expect, it } from 'vitest';
import { type DenseMatrix, type MatrixView, gemm, KC, MC, NC } from './gemm.ts';

/** Tiny seeded LCG (Numerical Recipes constants), values in [-1, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

interface Case { m: number; n: number; k: number; transA: boolean; transB: boolean; accumulate: boolean; c64?: boolean }

/** A strided view of a random rows x cols matrix inside a larger buffer, with an offset and slack in the leading dimension. */
function randomView(rows: number, cols: number, transposed: boolean, next: () => number): MatrixView {
  const offset = 3;
  const ld = (transposed ? rows : cols) + 2;
  const data = new Float32Array(offset + ld * (transposed ? cols : rows) + 5);
  for (let i = 0; i < data.length; i++) data[i] = next();
  return transposed ? { data, offset, rowStride: 1, colStride: ld } : { data, offset, rowStride: ld, colStride: 1 };
}

const at = (v: MatrixView, i: number, j: number): number => v.data[v.offset + i * v.rowStride + j * v.colStride];

function check({ m, n, k, transA, transB, accumulate, c64 }: Case): void {
  const next = lcg(m * 1000003 + n * 1009 + k);
  const a = randomView(m, k, transA, next);
  const b = randomView(k, n, transB, next);
  const offset = 2;
  const rowStride = n + 3;
  const size = offset + m * rowStride + 4;
  const c: DenseMatrix = { data: c64 ? new Float64Array(size) : new Float32Array(size), offset, rowStride };
  for (let i = 0; i < size; i++) c.data[i] = next();
  const before = Float64Array.from(c.data);
  gemm(m, n, k, a, b, c, accumulate);
  const inside = new Uint8Array(size);
  let worst = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      const ci = offset + i * rowStride + j;
      inside[ci] = 1;
      let ref = accumulate ? before[ci] : 0;
      let mag = Math.abs(ref);
      for (let p = 0; p < k; p++) {
        const prod = at(a, i, p) * at(b, p, j);
        ref += prod;
        mag += Math.abs(prod);
      }
      // float32 bound: gamma_(k+2) * sum|terms|, k+2 covers rounding the accumulator and the store
      const bound = ((k + 2) * 2 ** -24) * mag + 1e-30;
      worst = Math.max(worst, Math.abs(c.data[ci] - ref) / bound);
    }
  expect(worst).toBeLessThanOrEqual(1);
  for (let i = 0; i < size; i++) if (!inside[i]) expect(c.data[i]).toBe(before[i]); // nothing outside C touched
}

const name = (c: Case): string =>
  `gemm ${c.m}x${c.n}x${c.k}${c.transA ? ' A^T' : ''}${c.transB ? ' B^T' : ''}${c.accumulate ? ' accumulate' : ''}${c.c64 ? ' C=f64' : ''}`;

describe('gemm vs triple loop', () => {
  const sizes: [number, number, number][] = [
    [1, 1, 1], [7, 13, 5], [4, 8, 3], [5, 9, 1], [33, 65, 129], [1, 40, 17], [40, 1, 17],
    [MC + 3, NC + 11, KC + 45], // crosses every block boundary
  ];
  const cases: Case[] = [];
  for (const [m, n, k] of sizes)
    for (const transA of [false, true])
      for (const transB of [false, true])
        for (const accumulate of [false, true]) cases.push({ m, n, k, transA, transB, accumulate });
  cases.push({ m: 33, n: 65, k: 300, transA: true, transB: false, accumulate: true, c64: true });
  for (const c of cases) it(name(c), () => check(c));

  it('k = 0 zeroes C without accumulate and leaves it with accumulate', () => {
    const empty: MatrixView = { data: new Float32Array(0), offset: 0, rowStride: 0, colStride: 0 };
    const c: DenseMatrix = { data: new Float32Array([1, 2, 3, 4, 5, 6]), offset: 1, rowStride: 3 };
    gemm(1, 2, 0, empty, empty, c, true);
    expect(Array.from(c.data)).toEqual([1, 2, 3, 4, 5, 6]);
    gemm(1, 2, 0, empty, empty, c, false);
    expect(Array.from(c.data)).toEqual([1, 0, 0, 4, 5, 6]);
  });
});
