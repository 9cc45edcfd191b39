// fast's pools against naive's on shapes chosen to break index arithmetic, forward and backward.
// With WebAssembly SIMD the max-pool forward of column strides 1 and 2 runs asm/maxpool.as;
// pool.fallback.test.ts runs these tests again on the TypeScript paths (CONVBENCH_FAST_NO_SIMD=1).
import { describe, expect, it } from 'vitest';
import { pool2dGeometry, type Pool2dGeometry, type PoolAttributes } from '../../harness/geometry.ts';
import { sizeOf, type Tensor } from '../../harness/tensor.ts';
import * as naiveAvg from '../naive/avgpool2d.ts';
import * as naiveMax from '../naive/maxpool2d.ts';
import { avgPool2d, avgPool2dBackward } from './avgpool2d.ts';
import { maxPool2d, maxPool2dBackward } from './maxpool2d.ts';

/** Tiny LCG: integers in [lo, hi] (exact in float32; small ranges give many ties). */
function integers(shape: number[], seed: number, lo: number, hi: number): Tensor {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo + 1));
  };
  return { shape, data: Float32Array.from({ length: sizeOf(shape) }, next) };
}

const shapes: [string, number[], PoolAttributes][] = [
  ['2x2 s2', [2, 3, 8, 6], { kernel: [2, 2], strides: [2, 2] }],
  ['3x3 s2 pad 1', [2, 3, 9, 12], { kernel: [3, 3], strides: [2, 2], padding: [1, 1, 1, 1] }],
  ['kH != kW, 27x37, asymmetric pads', [2, 3, 27, 37], { kernel: [3, 2], strides: [2, 3], padding: [2, 0, 1, 1] }],
  ['ceil overhang', [1, 2, 10, 11], { kernel: [3, 3], strides: [2, 2], ceilMode: true }],
  ['ceil overhang with pads', [2, 2, 9, 8], { kernel: [2, 3], strides: [3, 2], padding: [1, 2, 0, 1], ceilMode: true }],
  ['dilation with stride', [2, 3, 13, 11], { kernel: [3, 2], strides: [2, 3], dilations: [2, 3], padding: [1, 2, 2, 1] }],
  ['SAME_UPPER', [1, 4, 7, 9], { kernel: [3, 4], strides: [2, 2], padding: 'SAME_UPPER' }],
  ['SAME_LOWER', [1, 4, 7, 9], { kernel: [4, 3], strides: [1, 2], padding: 'SAME_LOWER' }],
  ['global', [2, 5, 7, 6], { kernel: [7, 6] }],
  ['overlapping 2x2 s1', [1, 2, 5, 7], { kernel: [2, 2], padding: [1, 1, 0, 0] }],
];

/** exact: bit for bit (NaN as NaN); 'value': the same, but -0 equals +0; false: within 1e-6. */
function check(got: Tensor, want: Tensor, exact: boolean | 'value'): void {
  expect(got.shape).toEqual(want.shape);
  expect(got.data).toBeInstanceOf(Float32Array);
  const bad: string[] = [];
  for (let i = 0; i < want.data.length; i++) {
    const [a, b] = [got.data[i], want.data[i]];
    const ok = exact === 'value' ? Object.is(a, b) || a === b
      : exact || !Number.isFinite(b) ? Object.is(a, b) : Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
    const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
    if (!ok && bad.length < 5) bad.push(`element ${i}: got ${show(a)}, want ${show(b)}`);
  }
  expect(bad).toEqual([]);
}

function outputGradient(g: Pool2dGeometry, seed: number): Tensor {
  return integers([g.batch, g.channels, g.outHeight, g.outWidth], seed, -4, 4);
}

describe('fast max pooling', () => {
  for (const [name, shape, attrs] of shapes) {
    for (const propagateNan of [true, false]) {
      it(`${name}, propagateNan ${propagateNan}`, () => {
        const g = pool2dGeometry(shape, { ...attrs, propagateNan });
        const x = integers(shape, 7, -2, 2); // ties everywhere
        const special = [Number.NaN, Number.NEGATIVE_INFINITY, -Number.NaN, Number.POSITIVE_INFINITY];
        for (let i = 3; i < x.data.length; i += 11) x.data[i] = special[i % 4];
        const dy = outputGradient(g, 3);
        for (let pass = 0; pass < 2; pass++) { // the second call, on negated data, sees stale scratch
          check(maxPool2d(x, g), naiveMax.maxPool2d(x, g), true);
          check(maxPool2dBackward(x, dy, g), naiveMax.maxPool2dBackward(x, dy, g), true);
          x.data.forEach((v, i) => { x.data[i] = -v; });
        }
      });
    }
  }

  it('all -inf windows and all-NaN windows', () => {
    const shape = [1, 2, 4, 6];
    const g = pool2dGeometry(shape, { kernel: [2, 2], strides: [2, 2], padding: [1, 1, 1, 1], propagateNan: false });
    const x = { shape, data: new Float32Array(48).fill(Number.NEGATIVE_INFINITY) };
    x.data.fill(Number.NaN, 24);
    const dy = outputGradient(g, 5);
    check(maxPool2d(x, g), naiveMax.maxPool2d(x, g), true);
    check(maxPool2dBackward(x, dy, g), naiveMax.maxPool2dBackward(x, dy, g), true);
  });

  // Plane by plane, the SIMD forward takes one of three ways: neither NaN nor -0 (pmax), -0 but no
  // NaN, or NaN (propagated, or skipped by redoing the plane on keys); mix them in one tensor. Where
  // a window holds -0 and +0, naive's y is the first and fast's +0 (the test below): y is compared
  // by value there.
  const simdShapes: [string, number[], PoolAttributes][] = [
    ...shapes,
    ['3x3 s2 pad 1, 13 columns', [1, 8, 11, 13], { kernel: [3, 3], strides: [2, 2], padding: [1, 1, 1, 1] }],
    ['5x4 s2 dilated, ceil', [2, 4, 17, 26], { kernel: [5, 4], strides: [2, 2], dilations: [1, 2], padding: [2, 1, 2, 3], ceilMode: true }],
    ['3x3 s1 pad 1, 2 columns', [1, 4, 6, 2], { kernel: [3, 3], padding: [1, 1, 1, 1] }],
  ];
  for (const [name, shape, attrs] of simdShapes) {
    for (const propagateNan of [true, false]) {
      it(`${name}, propagateNan ${propagateNan}, planes with and without NaN or -0`, () => {
        const g = pool2dGeometry(shape, { ...attrs, propagateNan });
        const x = integers(shape, 19, -3, 3);
        const plane = g.inHeight * g.inWidth, planes = g.batch * g.channels;
        for (let p = 0; p < planes; p++) {
          const at = p * plane;
          if (p % 4 === 1) x.data[at + (p * 7) % plane] = Number.NaN;
          if (p % 4 === 2) for (let i = at; i < at + plane; i += 3) if (x.data[i] === 0) x.data[i] = -0;
          if (p % 4 === 3) for (let i = at; i < at + plane; i += 5) x.data[i] = i % 2 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
        }
        const dy = outputGradient(g, 23);
        for (let pass = 0; pass < 2; pass++) {
          check(maxPool2d(x, g), naiveMax.maxPool2d(x, g), 'value');
          check(maxPool2dBackward(x, dy, g), naiveMax.maxPool2dBackward(x, dy, g), true);
          x.data.forEach((v, i) => { x.data[i] = -v; });
        }
      });
    }
  }

  it('windows of -0 and +0 give +0, windows of -0 alone -0, with and without NaN elsewhere', () => {
    const shape = [1, 2, 4, 8];
    const g = pool2dGeometry(shape, { kernel: [2, 2], strides: [2, 2] });
    const x = { shape, data: new Float32Array(64).fill(-0) };
    x.data.set([0, -0, 0, -0], 8); // second row of the first plane's windows: +0 in windows 0 and 1
    x.data.set([-0, 0, -0, 0, -0, 0, -0, 0], 40);
    x.data[63] = Number.NaN; // the second plane's last window
    const y = maxPool2d(x, g).data;
    expect([...y].map((v) => (Object.is(v, -0) ? '-0' : String(v)))).toEqual(
      ['0', '0', '-0', '-0', '-0', '-0', '-0', '-0', '0', '0', '0', '0', '-0', '-0', '-0', 'NaN']);
  });

  it('a tie of -0 and +0 sends the gradient to the first', () => {
    const shape = [1, 1, 1, 2];
    const g = pool2dGeometry(shape, { kernel: [1, 2] });
    const x = { shape, data: Float32Array.of(-0, 0) };
    const dy = { shape: [1, 1, 1, 1], data: Float32Array.of(1) };
    expect([...maxPool2dBackward(x, dy, g).data]).toEqual([1, 0]);
  });
});

describe('fast average pooling', () => {
  for (const [name, shape, attrs] of shapes) {
    for (const countIncludePad of [false, true]) {
      it(`${name}, countIncludePad ${countIncludePad}`, () => {
        const g = pool2dGeometry(shape, { ...attrs, countIncludePad });
        const x = integers(shape, 11, -50, 50);
        const dy = outputGradient(g, 13);
        for (let pass = 0; pass < 2; pass++) {
          check(avgPool2d(x, g), naiveAvg.avgPool2d(x, g), false);
          check(avgPool2dBackward(x, dy, g), naiveAvg.avgPool2dBackward(x, dy, g), false);
          x.data.forEach((v, i) => { x.data[i] = -v; });
        }
      });
    }
  }

  it('NaN and infinities reach the windows that hold them', () => {
    const shape = [1, 1, 4, 4];
    const g = pool2dGeometry(shape, { kernel: [2, 2], strides: [2, 2], padding: [1, 1, 1, 1] });
    const x = integers(shape, 17, -3, 3);
    x.data[0] = Number.NaN;
    x.data[15] = Number.POSITIVE_INFINITY;
    check(avgPool2d(x, g), naiveAvg.avgPool2d(x, g), false);
  });
});
