// im2col vs the naive loops on index-breaking geometries (seeded random data).
import { describe, expect, it } from 'vitest';
import { type ConvAttributes, conv2dGeometry, type Padding, type PoolAttributes, pool2dGeometry } from '../../harness/geometry.ts';
import { formatShape, type Tensor, sizeOf } from '../../harness/tensor.ts';
import naive from '../naive/index.ts';
import im2col from './index.ts';

/** Tiny seeded LCG (Numerical Recipes constants), values in [-1, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

function random(shape: readonly number[], next: () => number, levels = 0): Tensor {
  const data = new Float32Array(sizeOf(shape));
  // levels > 0: few distinct values, so max-pool windows have ties
  for (let i = 0; i < data.length; i++) data[i] = levels > 0 ? Math.floor((next() + 1) * levels / 2) : next();
  return { shape: [...shape], data };
}

/** Same shape, and every element within 1e-5 relative (floor 1 on the scale); NaN only matches NaN. */
function expectClose(actual: Tensor, expected: Tensor): void {
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.data.length).toBe(expected.data.length);
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i];
    const e = expected.data[i];
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      if (!Object.is(a, e)) expect.fail(`element ${i}: got ${a}, expected ${e}`);
    } else if (!(Math.abs(a - e) <= 1e-5 * Math.max(1, Math.abs(e)))) {
      expect.fail(`element ${i}: got ${a}, expected ${e}`);
    }
  }
}

const pair = (v: readonly [number, number] | undefined): string => (v === undefined ? '1' : v[0] === v[1] ? `${v[0]}` : `[${v[0]},${v[1]}]`);
const pads = (p: Padding | undefined): string => (p === undefined ? 'VALID' : typeof p === 'string' ? p : `[${p.join(',')}]`);

interface ConvCase { x: number[]; w: number[]; attrs: ConvAttributes; bias: boolean }

const convCases: ConvCase[] = [
  { x: [2, 6, 11, 7], w: [4, 3, 3, 2], attrs: { strides: [2, 2], padding: [1, 0, 2, 1], groups: 2 }, bias: true },
  { x: [2, 6, 11, 7], w: [4, 3, 3, 2], attrs: { strides: [2, 2], padding: [1, 0, 2, 1], groups: 2 }, bias: false },
  { x: [2, 5, 9, 8], w: [7, 5, 3, 3], attrs: { dilations: [2, 2], padding: [2, 1, 0, 2] }, bias: false },
  { x: [3, 5, 10, 13], w: [7, 5, 2, 4], attrs: { strides: [3, 2], dilations: [1, 2], padding: [0, 3, 1, 0] }, bias: true },
  { x: [3, 4, 10, 7], w: [4, 1, 3, 3], attrs: { strides: [3, 3], padding: [1, 1, 1, 1], groups: 4 }, bias: true },   // depthwise
  { x: [2, 3, 7, 11], w: [6, 1, 3, 2], attrs: { dilations: [2, 1], padding: 'SAME_UPPER', groups: 3 }, bias: false }, // depthwise x2
  { x: [2, 6, 11, 7], w: [9, 2, 2, 3], attrs: { strides: [2, 3], padding: 'SAME_LOWER', groups: 3 }, bias: true },
  { x: [1, 3, 4, 5], w: [2, 3, 1, 1], attrs: {}, bias: true },                                                      // 1x1
  { x: [1, 1, 1, 1], w: [1, 1, 1, 1], attrs: {}, bias: false },                                                     // 1 element
  { x: [2, 2, 3, 3], w: [3, 2, 3, 3], attrs: { padding: [2, 2, 2, 2] }, bias: false },                              // pads larger than the input
  { x: [1, 40, 12, 9], w: [70, 40, 3, 3], attrs: { padding: [1, 1, 1, 1] }, bias: true },                          // GEMM M > MC, K > KC
  { x: [2, 4, 34, 35], w: [5, 4, 3, 3], attrs: { padding: [1, 1, 1, 1] }, bias: true },                            // GEMM N > NC
];

const convName = (c: ConvCase): string =>
  `x=${formatShape(c.x)} w=${formatShape(c.w)} s=${pair(c.attrs.strides)} d=${pair(c.attrs.dilations)} ` +
  `p=${pads(c.attrs.padding)} g=${c.attrs.groups ?? 1}${c.bias ? ' bias' : ''}`;

describe('im2col conv2d vs naive', () => {
  convCases.forEach((c, i) => {
    const g = conv2dGeometry(c.x, c.w, c.attrs);
    const next = lcg(1234 + i);
    const x = random(c.x, next);
    const w = random(c.w, next);
    const bias = c.bias ? random([c.w[0]], next) : undefined;
    const dy = random([g.batch, g.outChannels, g.outHeight, g.outWidth], next);

    it(`conv2d ${convName(c)}`, async () => {
      expectClose(await im2col.conv2d(x, w, bias, g), await naive.conv2d(x, w, bias, g));
    });

    it(`conv2dBackward ${convName(c)}`, async () => {
      const got = await im2col.conv2dBackward(x, w, dy, g);
      const want = await naive.conv2dBackward(x, w, dy, g);
      expectClose(got.dx, want.dx);
      expectClose(got.dw, want.dw);
      expectClose(got.db, want.db);
    });
  });
});

interface PoolCase { x: number[]; attrs: PoolAttributes; levels?: number; nans?: number }

const poolCases: PoolCase[] = [
  { x: [2, 3, 11, 7], attrs: { kernel: [3, 2], strides: [2, 2], padding: [1, 0, 2, 1] } },
  { x: [2, 3, 11, 7], attrs: { kernel: [3, 2], strides: [2, 2], padding: [1, 0, 2, 1], countIncludePad: true } },
  { x: [2, 5, 9, 13], attrs: { kernel: [3, 3], strides: [2, 3], padding: [1, 0, 0, 1], ceilMode: true } },             // ceil adds a row and a column
  { x: [2, 5, 9, 13], attrs: { kernel: [3, 3], strides: [2, 3], padding: [1, 0, 0, 1], ceilMode: true, countIncludePad: true } },
  { x: [3, 2, 9, 12], attrs: { kernel: [2, 3], strides: [3, 2], dilations: [2, 2], padding: [1, 2, 1, 0], ceilMode: true } },
  { x: [2, 3, 7, 11], attrs: { kernel: [3, 3], padding: 'SAME_UPPER' }, levels: 3 },        // overlapping windows with ties
  { x: [2, 3, 7, 11], attrs: { kernel: [2, 4], strides: [1, 2], padding: 'SAME_LOWER', countIncludePad: true }, levels: 2 },
  { x: [2, 3, 11, 7], attrs: { kernel: [3, 2], padding: [1, 0, 2, 1], propagateNan: true }, nans: 0.2 },
  { x: [2, 3, 11, 7], attrs: { kernel: [3, 2], padding: [1, 0, 2, 1], propagateNan: false }, nans: 0.2 },
  { x: [2, 3, 11, 7], attrs: { kernel: [2, 2], padding: [1, 1, 1, 1], propagateNan: false }, nans: 0.7 }, // all-NaN windows
];

const poolName = (c: PoolCase): string =>
  `x=${formatShape(c.x)} k=${formatShape(c.attrs.kernel)} s=${pair(c.attrs.strides)} d=${pair(c.attrs.dilations)} ` +
  `p=${pads(c.attrs.padding)}${c.attrs.ceilMode ? ' ceil' : ''}${c.attrs.countIncludePad ? ' countIncludePad' : ''}` +
  `${c.nans ? ` nan=${c.nans} propagateNan=${c.attrs.propagateNan ?? true}` : ''}${c.levels ? ` ties` : ''}`;

describe('im2col pooling vs naive', () => {
  poolCases.forEach((c, i) => {
    const g = pool2dGeometry(c.x, c.attrs);
    const next = lcg(777 + i);
    const x = random(c.x, next, c.levels);
    if (c.nans) for (let j = 0; j < x.data.length; j++) if ((next() + 1) / 2 < (c.nans ?? 0)) x.data[j] = Number.NaN;
    const dy = random([g.batch, g.channels, g.outHeight, g.outWidth], next);

    it(`maxPool2d ${poolName(c)}`, async () => {
      expectClose(await im2col.maxPool2d(x, g), await naive.maxPool2d(x, g));
    });
    it(`maxPool2dBackward ${poolName(c)}`, async () => {
      expectClose(await im2col.maxPool2dBackward(x, dy, g), await naive.maxPool2dBackward(x, dy, g));
    });
    if (c.nans) return; // NaN handling is a max-pooling attribute
    it(`avgPool2d ${poolName(c)}`, async () => {
      expectClose(await im2col.avgPool2d(x, g), await naive.avgPool2d(x, g));
    });
    it(`avgPool2dBackward ${poolName(c)}`, async () => {
      expectClose(await im2col.avgPool2dBackward(x, dy, g), await naive.avgPool2dBackward(x, dy, g));
    });
  });

  it('maxPool2d x=[1,1,2,2] k=[3,3] p=[1,1,1,1] all -Infinity: padding never wins, gradient to the first tap', async () => {
    const g = pool2dGeometry([1, 1, 2, 2], { kernel: [3, 3], padding: [1, 1, 1, 1] });
    const x: Tensor = { shape: [1, 1, 2, 2], data: new Float32Array(4).fill(Number.NEGATIVE_INFINITY) };
    const y = await im2col.maxPool2d(x, g);
    expect(Array.from(y.data)).toEqual([-Infinity, -Infinity, -Infinity, -Infinity]);
    const dx = await im2col.maxPool2dBackward(x, { shape: y.shape, data: new Float32Array([1, 2, 3, 4]) }, g);
    expect(Array.from(dx.data)).toEqual([10, 0, 0, 0]);
  });

  it('maxPool2d x=[1,1,1,3] k=[1,3] p=[0,1,0,1] NaN first / last, propagateNan on and off', async () => {
    const x: Tensor = { shape: [1, 1, 1, 3], data: new Float32Array([Number.NaN, -2, Number.NaN]) };
    const on = pool2dGeometry(x.shape, { kernel: [1, 3], padding: [0, 1, 0, 1], propagateNan: true });
    const off = pool2dGeometry(x.shape, { kernel: [1, 3], padding: [0, 1, 0, 1], propagateNan: false });
    expect(Array.from((await im2col.maxPool2d(x, on)).data)).toEqual([NaN, NaN, NaN]);
    expect(Array.from((await im2col.maxPool2d(x, off)).data)).toEqual([-2, -2, -2]);
    const dy: Tensor = { shape: [1, 1, 1, 3], data: new Float32Array([1, 2, 4]) };
    expect(Array.from((await im2col.maxPool2dBackward(x, dy, on)).data)).toEqual([3, 0, 4]);
    expect(Array.from((await im2col.maxPool2dBackward(x, dy, off)).data)).toEqual([0, 7, 0]);
  });
});
