// The fast conv against a plain float64 loop, on shapes chosen to break index arithmetic: sizes
// that are not multiples of the tiles, odd channel counts, every path (Winograd, depthwise,
// pointwise, general GEMM), with and without the helper thread. With WebAssembly SIMD every
// non-depthwise case runs the float32 SIMD GEMM (the 'winograd' ones too) and the depthwise ones
// with stride-1 columns asm/depthwise.as; CONVBENCH_FAST_NO_SIMD=1 runs them on the TypeScript paths.
import { beforeAll, describe, expect, it } from 'vitest';
import { type ConvAttributes, type Conv2dGeometry, conv2dGeometry } from '../../harness/geometry.ts';
import type { Tensor } from '../../harness/tensor.ts';
import { conv2d, conv2dBackward } from './conv2d.ts';
import { helperLoaded, THREADS } from './threads.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 31 - 1; };
}

function random(shape: number[], next: () => number): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = next();
  return { shape, data };
}

/**
 * The conv's y (without bias), dx and dw in float64, each element with the sum of |terms| beside
 * it: plain loops over every (output element, input element, weight element) triple, each weight
 * outermost so that the rows are walked in order (5x faster than a tap at a time in output order
 * on the threaded pointwise case, whose scattered reads took 10 s).
 */
function reference(g: Conv2dGeometry, x: Float32Array, w: Float32Array, dy: Float32Array) {
  const cg = g.inChannels / g.groups, og = g.outChannels / g.groups;
  const N = g.batch, C = g.inChannels, O = g.outChannels, H = g.inHeight, W = g.inWidth, OH = g.outHeight, OW = g.outWidth;
  const KH = g.kernelHeight, KW = g.kernelWidth, SH = g.strideHeight, SW = g.strideWidth, DH = g.dilationHeight, DW = g.dilationWidth, PT = g.padTop, PL = g.padLeft;
  const y = new Float64Array(N * O * OH * OW), yMass = new Float64Array(y.length);
  const dx = new Float64Array(x.length), dxMass = new Float64Array(x.length);
  const dw = new Float64Array(w.length), dwMass = new Float64Array(w.length);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      const gi = Math.floor(o / og);
      for (let c = 0; c < cg; c++)
        for (let ky = 0; ky < KH; ky++)
          for (let kx = 0; kx < KW; kx++) {
            const wi = ((o * cg + c) * KH + ky) * KW + kx, wv = w[wi];
            let dwSum = 0, dwAbs = 0;
            for (let oy = 0; oy < OH; oy++) {
              const iy = oy * SH - PT + ky * DH;
              if (iy < 0 || iy >= H) continue;
              const yRow = ((n * O + o) * OH + oy) * OW, xRow = ((n * C + gi * cg + c) * H + iy) * W;
              for (let ox = 0; ox < OW; ox++) {
                const ix = ox * SW - PL + kx * DW;
                if (ix < 0 || ix >= W) continue;
                const xv = x[xRow + ix], d = dy[yRow + ox];
                const t = xv * wv, tx = wv * d, tw = xv * d;
                y[yRow + ox] += t; yMass[yRow + ox] += Math.abs(t);
                dx[xRow + ix] += tx; dxMass[xRow + ix] += Math.abs(tx);
                dwSum += tw; dwAbs += Math.abs(tw);
              }
            }
            dw[wi] += dwSum; dwMass[wi] += dwAbs;
          }
    }
  return { y, yMass, dx, dxMass, dw, dwMass };
}

/** max |got - want| / (sum of |terms| + tiny) over the elements. */
function worst(got: Float32Array, want: Float64Array, mass: Float64Array): number {
  expect(got.length).toBe(want.length);
  let r = 0;
  for (let i = 0; i < got.length; i++) r = Math.max(r, Math.abs(got[i] - want[i]) / (mass[i] + 1e-30));
  return r;
}

const cases: [string, number[], number[], ConvAttributes][] = [
  ['winograd 23->19 27x37 pad 1', [2, 23, 27, 37], [19, 23, 3, 3], { padding: [1, 1, 1, 1] }],
  ['winograd asymmetric pad', [1, 9, 13, 11], [10, 9, 3, 3], { padding: [0, 2, 1, 0] }],
  ['winograd valid', [3, 8, 14, 9], [8, 8, 3, 3], {}],
  ['winograd threaded', [1, 64, 40, 40], [64, 64, 3, 3], { padding: [1, 1, 1, 1] }],
  ['general stride 2 dilation 2', [2, 23, 27, 37], [19, 23, 3, 3], { strides: [2, 1], dilations: [2, 2], padding: [1, 0, 2, 1] }],
  ['general threaded stride 2', [1, 37, 83, 79], [67, 37, 3, 3], { strides: [2, 2], padding: 'SAME_UPPER' }],
  ['grouped', [2, 12, 11, 13], [9, 4, 3, 2], { groups: 3, padding: 'SAME_LOWER' }],
  ['pointwise', [3, 23, 9, 7], [19, 23, 1, 1], {}],
  ['pointwise threaded', [1, 131, 61, 59], [259, 131, 1, 1], {}],
  ['lenet-like 5x5 batch', [5, 6, 14, 14], [16, 6, 5, 5], {}],
  ['one channel 5x5', [4, 1, 13, 12], [6, 1, 5, 5], {}],
  ['depthwise multiplier 2', [2, 5, 17, 19], [10, 1, 3, 3], { groups: 5, strides: [2, 2], padding: 'SAME_UPPER' }],
  ['depthwise 3x3 wide', [1, 32, 60, 57], [32, 1, 3, 3], { groups: 32, padding: [1, 1, 1, 1] }],
  ['depthwise 5x5 dilated', [1, 3, 20, 21], [3, 1, 5, 4], { groups: 3, dilations: [2, 1], padding: [3, 2, 1, 0] }],
  ['depthwise 3x3 multiplier 3, row stride 2', [2, 4, 19, 23], [12, 1, 3, 3], { groups: 4, strides: [2, 1], padding: [1, 1, 1, 1] }],
  ['depthwise 3x3 dilated, wide pads', [1, 6, 15, 13], [6, 1, 3, 3], { groups: 6, dilations: [2, 3], padding: [2, 3, 1, 4] }],
  ['depthwise 2x4, narrower than a vector', [3, 2, 5, 3], [2, 1, 2, 4], { groups: 2, padding: [0, 2, 1, 1] }],
  ['depthwise 3x3, 2 columns', [2, 3, 5, 2], [3, 1, 3, 3], { groups: 3, padding: [1, 1, 1, 1] }],
  ['depthwise 3x3 threaded', [1, 128, 150, 130], [128, 1, 3, 3], { groups: 128, padding: [1, 1, 1, 1] }],
];

describe('fast conv2d', () => {
  // The helper thread loads in the background; the "threaded" cases below should meet it loaded.
  beforeAll(async () => {
    for (let i = 0; i < 400 && !helperLoaded(); i++) await new Promise((r) => setTimeout(r, 50));
    if (THREADS > 1) expect(helperLoaded()).toBe(true);
  });

  for (const [name, xs, ws, attrs] of cases) {
    it(`${name}: forward and backward`, async () => {
      const next = lcg(xs.concat(ws).reduce((a, b) => a * 31 + b, 7));
      const x = random(xs, next), w = random(ws, next), bias = random([ws[0]], next);
      const g = conv2dGeometry(xs, ws, attrs);
      const size = g.batch * g.outChannels * g.outHeight * g.outWidth;
      const dy = random([g.batch, g.outChannels, g.outHeight, g.outWidth], next);
      const { y, yMass, dx, dxMass, dw, dwMass } = reference(g, x.data, w.data, dy.data);
      const P = g.outHeight * g.outWidth;
      for (let i = 0; i < size; i++) {
        const o = Math.floor(i / P) % g.outChannels;
        y[i] += bias.data[o]; yMass[i] += Math.abs(bias.data[o]);
      }
      for (let round = 0; round < 2; round++) {
        const got = await conv2d(x, w, bias, g);
        expect(got.shape).toEqual([g.batch, g.outChannels, g.outHeight, g.outWidth]);
        expect(worst(got.data, y, yMass)).toBeLessThan(1e-6);
        const grads = await conv2dBackward(x, w, dy, g);
        expect(worst(grads.dx.data, dx, dxMass)).toBeLessThan(1e-6);
        expect(worst(grads.dw.data, dw, dwMass)).toBeLessThan(1e-6);
      }
    });
  }

  it('sees inputs changed in place between calls (each thread copies a call\'s inputs once, not once per chunk)', async () => {
    // Negating x (or dy) in place negates every product exactly, so the next y is exactly -y, in
    // one thread or two (the first calls alternate between them). A thread that kept the previous
    // call's inputs would give y again.
    const next = lcg(21);
    for (const [xs, ws, attrs] of [
      [[1, 37, 83, 79], [67, 37, 3, 3], { strides: [2, 2], padding: 'SAME_UPPER' }], // threaded
      [[2, 5, 12, 13], [7, 5, 3, 3], { padding: [1, 1, 1, 1] }],
    ] as [number[], number[], ConvAttributes][]) {
      const x = random(xs, next), w = random(ws, next);
      const g = conv2dGeometry(xs, ws, attrs);
      const dy = random([g.batch, g.outChannels, g.outHeight, g.outWidth], next);
      let previous = (await conv2d(x, w, undefined, g)).data;
      let before = await conv2dBackward(x, w, dy, g);
      for (let round = 0; round < 6; round++) {
        for (let i = 0; i < x.data.length; i++) x.data[i] = -x.data[i];
        const y = (await conv2d(x, w, undefined, g)).data;
        expect(y.every((v, i) => v === -previous[i])).toBe(true);
        previous = y;
        // backward: dw negates with x; dx (from w and dy) does not change; then dy negated negates both
        const grads = await conv2dBackward(x, w, dy, g);
        expect(grads.dw.data.every((v, i) => v === -before.dw.data[i])).toBe(true);
        expect(grads.dx.data.every((v, i) => v === before.dx.data[i])).toBe(true);
        for (let i = 0; i < dy.data.length; i++) dy.data[i] = -dy.data[i];
        before = await conv2dBackward(x, w, dy, g);
        expect(before.dw.data.every((v, i) => v === grads.dw.data[i] * -1)).toBe(true);
        expect(before.dx.data.every((v, i) => v === -grads.dx.data[i])).toBe(true);
      }
      w.data[4] += 1; // and w: the centre tap of output channel 0, which y[0] reads (x[0, 0] times it)
      const y = (await conv2d(x, w, undefined, g)).data;
      expect(y[0]).not.toBe(previous[0]);
    }
  });

  it('gives NaN where padding meets a non-finite weight (y) or dy (dw)', async () => {
    const next = lcg(5);
    const x = random([1, 8, 10, 10], next), w = random([8, 8, 3, 3], next);
    w.data[0] = Infinity; // tap (0, 0) of output channel 0 and input channel 0
    const g = conv2dGeometry(x.shape, w.shape, { padding: [1, 1, 1, 1] });
    const y = await conv2d(x, w, undefined, g);
    expect(Number.isNaN(y.data[0])).toBe(true); // its (0, 0) tap is padding
    expect(y.data[g.outWidth + 1]).toBe(Infinity * Math.sign(x.data[0]));
    const dy = random([1, 8, 10, 10], next);
    w.data[0] = 0.5;
    dy.data[0] = -Infinity;
    const grads = await conv2dBackward(x, w, dy, g);
    expect(Number.isNaN(grads.dw.data[0])).toBe(true);
  });

  it('depthwise: NaN where padding meets a non-finite weight (y) or dy (dw), and nowhere else', async () => {
    const next = lcg(9);
    for (const [shape, ws, attrs] of [
      [[2, 3, 9, 13], [3, 1, 3, 3], { groups: 3, padding: [1, 1, 1, 1] }],
      [[1, 3, 8, 11], [6, 1, 3, 2], { groups: 3, strides: [2, 1], padding: [1, 1, 1, 0] }],
      [[1, 2, 7, 10], [2, 1, 5, 5], { groups: 2, padding: [2, 2, 2, 2] }],
    ] as [number[], number[], ConvAttributes][]) {
      const x = random(shape, next), w = random(ws, next);
      const g = conv2dGeometry(shape, ws, attrs);
      const taps = g.kernelHeight * g.kernelWidth, P = g.outHeight * g.outWidth;
      w.data[taps] = Infinity; // tap (0, 0) of output channel 1
      const y = (await conv2d(x, w, undefined, g)).data;
      const nanY: number[] = [], wantNanY: number[] = [];
      for (let i = 0; i < y.length; i++) {
        const o = Math.floor(i / P) % g.outChannels, oy = Math.floor((i % P) / g.outWidth), ox = i % g.outWidth;
        if (Number.isNaN(y[i])) nanY.push(i);
        if (o === 1 && (oy * g.strideHeight < g.padTop || ox * g.strideWidth < g.padLeft)) wantNanY.push(i);
      }
      expect(nanY).toEqual(wantNanY);
      w.data[taps] = 0.5;
      const dy = random([g.batch, g.outChannels, g.outHeight, g.outWidth], next);
      dy.data[P + g.outWidth - 1] = -Infinity; // the top right output of channel 1 in image 0
      const grads = await conv2dBackward(x, w, dy, g);
      const dw = [...grads.dw.data], nanW: number[] = [], wantNanW: number[] = [];
      for (let i = 0; i < dw.length; i++) {
        // the taps of that window that read padding (top rows or right columns)
        const o = Math.floor(i / taps), t = i % taps, ky = Math.floor(t / g.kernelWidth), kx = t % g.kernelWidth;
        const iy = -g.padTop + ky * g.dilationHeight, ix = (g.outWidth - 1) * g.strideWidth - g.padLeft + kx * g.dilationWidth;
        if (Number.isNaN(dw[i])) nanW.push(i);
        if (o === 1 && (iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth)) wantNanW.push(i);
      }
      expect(nanW).toEqual(wantNanW);
      expect(dw.filter((v, i) => Math.floor(i / taps) !== 1 && !Number.isFinite(v))).toEqual([]);
      const c = Math.floor(g.inChannels / g.outChannels), plane = g.inHeight * g.inWidth; // input channel of output 1
      expect([...grads.dx.data].filter((v, i) => Number.isNaN(v) || (!Number.isFinite(v) && Math.floor(i / plane) !== c))).toEqual([]);
    }
  });
});
