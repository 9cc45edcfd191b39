import { describe, expect, it } from 'vitest';
import {
  avgPoolDivisor, conv2dGeometry, pool2dGeometry, type ConvAttributes, type Padding, type PoolAttributes,
} from '../../harness/geometry.ts';
import { sizeOf, type Tensor } from '../../harness/tensor.ts';
import naive from '../naive/index.ts';
import { divisors } from './avgpool2d.ts';
import views from './index.ts';
import {
  allocate, broadcast, constant, dense, mulSum, overhang, pad, permute, reshape, scatterAdd, slice, splitAxis, toTensor,
  windows,
} from './view.ts';

/** Tiny LCG: uniform values in [-1, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

function random(shape: number[], seed: number): Tensor {
  const next = lcg(seed);
  return { shape, data: Float32Array.from({ length: sizeOf(shape) }, next) };
}

/** Values from a small set (many ties), with occasional NaN and -Infinity. */
function tiesAndNans(shape: number[], seed: number, nanRate: number): Tensor {
  const next = lcg(seed);
  return {
    shape,
    data: Float32Array.from({ length: sizeOf(shape) }, () => {
      const u = (next() + 1) / 2;
      if (u < nanRate) return Number.NaN;
      if (u < nanRate + 0.05) return Number.NEGATIVE_INFINITY;
      return Math.round(next() * 2);
    }),
  };
}

function expectClose(actual: Tensor, expected: Tensor, rtol = 1e-5): void {
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.data).toBeInstanceOf(Float32Array);
  const scale = expected.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i];
    const e = expected.data[i];
    if (Math.abs(a - e) > rtol * Math.max(Math.abs(e), 1e-3 * scale)) {
      throw new Error(`element ${i}: got ${a}, expected ${e}`);
    }
  }
}

function expectExact(actual: Tensor, expected: Tensor): void {
  expect(actual.shape).toEqual(expected.shape);
  for (let i = 0; i < expected.data.length; i++) {
    if (!Object.is(actual.data[i], expected.data[i])) throw new Error(`element ${i}: got ${actual.data[i]}, expected ${expected.data[i]}`);
  }
}

const pair = (p: readonly [number, number] | undefined): string => (p === undefined ? '1' : p[0] === p[1] ? `${p[0]}` : `[${p.join(',')}]`);
const pads = (p: Padding | undefined): string => (p === undefined ? 'VALID' : typeof p === 'string' ? p : `[${p.join(',')}]`);

describe('view', () => {
  const base = { shape: [2, 3, 5, 4], data: Float64Array.from({ length: 120 }, (_, i) => i) };

  it('windows shares storage and has strides [sN, sC, sH*strideH, sW*strideW, sH*dilH, sW*dilW]', () => {
    const v = dense(base);
    const w = windows(v, { outHeight: 2, outWidth: 2, kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2, dilationHeight: 2, dilationWidth: 1 });
    expect(w.data).toBe(base.data);
    expect(w.shape).toEqual([2, 3, 2, 2, 2, 2]);
    expect(w.strides).toEqual([60, 20, 8, 2, 8, 1]);
    // element [n=1, c=2, oy=1, ox=1, ky=1, kx=1] is x[1, 2, 1*2 + 1*2, 1*2 + 1*1]
    const off = w.offset + [1, 2, 1, 1, 1, 1].reduce((o, i, k) => o + i * w.strides[k], 0);
    expect(w.data[off]).toBe(((1 * 3 + 2) * 5 + 4) * 4 + 3);
    expect(() => windows(v, { outHeight: 3, outWidth: 1, kernelHeight: 1, kernelWidth: 1, strideHeight: 3, strideWidth: 1, dilationHeight: 1, dilationWidth: 1 })).toThrow(/outside/);
  });

  it('permute, splitAxis, broadcast, slice only rewrite shape/strides/offset', () => {
    const v = dense(base);
    const p = permute(splitAxis(v, 3, [2, 2]), [4, 0, 1, 2, 3]);
    expect(p.data).toBe(base.data);
    expect(p.shape).toEqual([2, 2, 3, 5, 2]);
    expect(p.strides).toEqual([1, 60, 20, 4, 2]);
    const b = broadcast(v, 1, 7);
    expect(b.shape).toEqual([2, 7, 3, 5, 4]);
    expect(b.strides).toEqual([60, 0, 20, 4, 1]);
    const s = slice(v, [1, 1, 2, 1], [1, 2, 3, 2]);
    expect(s.offset).toBe(60 + 20 + 8 + 1);
    expect(Array.from(toTensor(s).data.slice(0, 4))).toEqual([89, 90, 93, 94]);
    expect(() => reshape(s, [12])).toThrow(/contiguous/);
    expect(reshape(dense(base), [6, 20]).strides).toEqual([20, 1]);
  });

  it('pad copies into a dense tensor with the fill around', () => {
    const p = pad(dense({ shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }), [[1, 0], [0, 2]], -1);
    expect(p.shape).toEqual([3, 4]);
    expect(Array.from(p.data)).toEqual([-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1]);
  });

  it('mulSum reduces the trailing axes in row-major order, over broadcast and strided operands', () => {
    const a = dense({ shape: [2, 3], data: Float64Array.of(1, 2, 3, 4, 5, 6) });
    expect(Array.from(mulSum(a, constant([2, 3], 1), 1).data)).toEqual([6, 15]);
    expect(Array.from(mulSum(permute(a, [1, 0]), constant([3, 2], 1), 1).data)).toEqual([5, 7, 9]);
    expect(Array.from(mulSum(a, broadcast(dense({ shape: [3], data: Float64Array.of(1, 10, 100) }), 0, 2), 2).data)).toEqual([321 + 654]);
    expect(Array.from(mulSum(a, a, 0).data)).toEqual([1, 4, 9, 16, 25, 36]);
  });

  it('scatterAdd into overlapping windows adds every contribution', () => {
    // 1-D: 5 cells, windows of 3 with stride 1 -> 3 windows; cell i is in min(i+1, 3, 5-i) windows.
    const target = allocate([1, 1, 1, 5]);
    const w = windows(target, { outHeight: 1, outWidth: 3, kernelHeight: 1, kernelWidth: 3, strideHeight: 1, strideWidth: 1, dilationHeight: 1, dilationWidth: 1 });
    scatterAdd(w, constant(w.shape, 1));
    expect(Array.from(target.data)).toEqual([1, 2, 3, 2, 1]);
    // 2-D with dilation and stride: compare with a direct loop.
    const t2 = allocate([1, 1, 7, 6]);
    const g = { outHeight: 3, outWidth: 2, kernelHeight: 3, kernelWidth: 2, strideHeight: 2, strideWidth: 3, dilationHeight: 1, dilationWidth: 2 };
    const w2 = windows(t2, g);
    const src = dense({ shape: w2.shape, data: Float64Array.from({ length: sizeOf(w2.shape) }, (_, i) => i + 1) });
    scatterAdd(w2, src);
    const want = new Float64Array(42);
    let k = 1;
    for (let oy = 0; oy < 3; oy++) for (let ox = 0; ox < 2; ox++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 2; kx++) want[(oy * 2 + ky) * 6 + ox * 3 + kx * 2] += k++;
    expect(Array.from(t2.data)).toEqual(Array.from(want));
  });
});

interface ConvCase { x: number[]; w: number[]; attrs: ConvAttributes; bias: boolean }

const convCases: ConvCase[] = [
  { x: [2, 6, 11, 7], w: [4, 3, 3, 2], attrs: { strides: [2, 2], padding: [1, 0, 2, 1], groups: 2 }, bias: true },
  { x: [2, 5, 11, 7], w: [7, 5, 3, 2], attrs: { strides: [3, 3], dilations: [2, 2], padding: [1, 0, 2, 1] }, bias: false },
  { x: [2, 5, 11, 7], w: [5, 1, 3, 3], attrs: { strides: [2, 3], dilations: [2, 1], padding: [2, 1, 0, 1], groups: 5 }, bias: true },
  { x: [3, 4, 9, 10], w: [8, 1, 2, 3], attrs: { dilations: [2, 2], padding: 'SAME_UPPER', groups: 4 }, bias: false },
  { x: [2, 3, 13, 8], w: [6, 3, 3, 3], attrs: { strides: [3, 2] }, bias: true }, // floor: trailing row and column unused
  { x: [2, 7, 5, 6], w: [5, 7, 1, 1], attrs: { strides: [2, 2] }, bias: true },
  { x: [1, 6, 8, 11], w: [9, 2, 4, 3], attrs: { strides: [2, 2], padding: 'SAME_LOWER', groups: 3 }, bias: true },
  { x: [2, 3, 6, 5], w: [2, 3, 2, 5], attrs: { strides: [3, 2], dilations: [3, 1], padding: [0, 0, 1, 0] }, bias: false }, // OW = 1
];

describe('views conv2d matches naive', () => {
  convCases.forEach(({ x: xs, w: wsh, attrs, bias: hasBias }, i) => {
    const name = `x=[${xs}] w=[${wsh}] s=${pair(attrs.strides)} d=${pair(attrs.dilations)} p=${pads(attrs.padding)} g=${attrs.groups ?? 1}${hasBias ? '' : ' no-bias'}`;
    const g = conv2dGeometry(xs, wsh, attrs);
    const x = random(xs, 11 + i);
    const w = random(wsh, 101 + i);
    const bias = hasBias ? random([wsh[0]], 1001 + i) : undefined;
    const dy = random([g.batch, g.outChannels, g.outHeight, g.outWidth], 7 + i);

    it(`conv2d ${name}`, () => {
      expectClose(views.conv2d(x, w, bias, g), naive.conv2d(x, w, bias, g));
    });

    it(`conv2dBackward ${name}`, () => {
      const got = views.conv2dBackward(x, w, dy, g);
      const want = naive.conv2dBackward(x, w, dy, g);
      expectClose(got.dx, want.dx);
      expectClose(got.dw, want.dw);
      expectClose(got.db, want.db);
    });
  });
});

const poolCases: { x: number[]; attrs: PoolAttributes }[] = [
  { x: [2, 3, 11, 7], attrs: { kernel: [3, 2], strides: [2, 2], padding: [1, 0, 2, 1] } },
  { x: [2, 3, 11, 7], attrs: { kernel: [3, 2], strides: [2, 2], padding: [1, 0, 2, 1], ceilMode: true } },
  { x: [2, 5, 10, 7], attrs: { kernel: [4, 2], strides: [3, 2], padding: [1, 0, 1, 0], ceilMode: true } }, // overhang past padBottom
  { x: [3, 2, 11, 9], attrs: { kernel: [3, 3], strides: [3, 2], dilations: [2, 1], padding: [1, 1, 1, 0], ceilMode: true } },
  { x: [2, 3, 9, 12], attrs: { kernel: [2, 3], strides: [3, 3], dilations: [2, 2], padding: [1, 2, 0, 1], ceilMode: true } },
  { x: [2, 3, 8, 7], attrs: { kernel: [3, 3], strides: [2, 2], padding: 'SAME_UPPER' } },
  { x: [1, 3, 12, 8], attrs: { kernel: [2, 3], strides: [3, 2] } }, // floor: trailing rows unused
];

describe('views pooling matches naive', () => {
  poolCases.forEach(({ x: xs, attrs }, i) => {
    const name = `x=[${xs}] k=[${attrs.kernel}] s=${pair(attrs.strides)} d=${pair(attrs.dilations)} p=${pads(attrs.padding)}${attrs.ceilMode ? ' ceil' : ''}`;

    for (const countIncludePad of [false, true]) {
      const g = pool2dGeometry(xs, { ...attrs, countIncludePad });
      const label = `${name}${countIncludePad ? ' count-include-pad' : ''}`;
      const x = random(xs, 31 + i);
      const dy = random([g.batch, g.channels, g.outHeight, g.outWidth], 61 + i);

      it(`avgPool2d divisor ${label} equals avgPoolDivisor`, () => {
        const d = divisors(g);
        for (let oy = 0; oy < g.outHeight; oy++)
          for (let ox = 0; ox < g.outWidth; ox++) {
            expect(d.data[oy * g.outWidth + ox]).toBe(avgPoolDivisor(g, oy * g.strideHeight - g.padTop, ox * g.strideWidth - g.padLeft));
          }
      });

      it(`avgPool2d ${label}`, () => {
        expectClose(views.avgPool2d(x, g), naive.avgPool2d(x, g));
      });

      it(`avgPool2dBackward ${label}`, () => {
        expectClose(views.avgPool2dBackward(x, dy, g), naive.avgPool2dBackward(x, dy, g));
      });
    }

    for (const propagateNan of [true, false]) {
      const g = pool2dGeometry(xs, { ...attrs, propagateNan });
      const label = `${name} nan=${propagateNan ? 'propagate' : 'skip'}`;
      const dy = random([g.batch, g.channels, g.outHeight, g.outWidth], 91 + i);
      const inputs: [string, Tensor][] = [
        ['random', random(xs, 41 + i)],
        ['ties+nan+-inf', tiesAndNans(xs, 51 + i, 0.15)],
        ['mostly nan', tiesAndNans(xs, 71 + i, 0.8)],
        ['all -inf', { shape: xs, data: new Float32Array(sizeOf(xs)).fill(Number.NEGATIVE_INFINITY) }],
      ];
      for (const [kind, x] of inputs) {
        it(`maxPool2d ${label} ${kind}`, () => {
          expectExact(views.maxPool2d(x, g), naive.maxPool2d(x, g));
        });
        it(`maxPool2dBackward ${label} ${kind}`, () => {
          expectExact(views.maxPool2dBackward(x, dy, g), naive.maxPool2dBackward(x, dy, g));
        });
      }
    }
  });

  it('the ceil-mode case really overhangs, and the floor-mode case leaves rows unused', () => {
    const ceil = pool2dGeometry([2, 5, 10, 7], { kernel: [4, 2], strides: [3, 2], padding: [1, 0, 1, 0], ceilMode: true });
    expect(overhang(ceil)[0]).toBeGreaterThan(0);
    const floor = pool2dGeometry([1, 3, 12, 8], { kernel: [2, 3], strides: [3, 2] });
    expect((floor.outHeight - 1) * floor.strideHeight + floor.effectiveKernelHeight).toBeLessThan(floor.inHeight);
    const conv = conv2dGeometry([2, 3, 13, 8], [6, 3, 3, 3], { strides: [3, 2] });
    expect((conv.outHeight - 1) * conv.strideHeight + conv.effectiveKernelHeight).toBeLessThan(conv.inHeight);
    expect((conv.outWidth - 1) * conv.strideWidth + conv.effectiveKernelWidth).toBeLessThan(conv.inWidth);
  });
});
