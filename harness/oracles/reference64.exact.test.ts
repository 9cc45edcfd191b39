// reference64's forward against exact arithmetic: every bundled case's geometry, its data replaced
// by small integers, so the exact result is known (docs/architecture.md "Oracles").
//
// x and w hold nonzero integers in [-8, 8] (max pooling: [-12, 4], so that many windows are all
// negative and a padding tap read as 0 would show), bias integers in [-64, 64]. Every product and
// every partial sum is then an integer far below 2^53, exact in float64 in any order, so
// reference64's conv and max-pool outputs must equal the exact values bit for bit, and its average
// the exact rational sum / divisor rounded once (IEEE division of two exact integers is correctly
// rounded; a multiply by a rounded reciprocal would be off by an ulp at times, and is reported).
//
// The expected values are written from the definition, not from reference64's code: conv reads a
// zero-padded copy of x (no bounds tests), the pooling windows test each tap against the input and,
// for the divisor, against the explicitly padded input [-pad, size + pad) when countIncludePad is
// set (never the ceil-mode overhang past it); nothing here calls avgPoolDivisor.
//
// A case whose forward is more than 2^20 multiply-adds (window taps) runs with batch 1 and at most
// 4 groups of at most 4 input and 4 output channels (pooling: at most 4 channels), its spatial
// geometry unchanged: reference64 takes some 20 s over the full bench shapes.
import { describe, expect, it } from 'vitest';
import { fnv1a, mulberry32 } from '../cases/generate.ts';
import { type Case, loadCases } from '../cases/load.ts';
import { conv2dGeometry, type Conv2dGeometry, type Pool2dGeometry } from '../geometry.ts';
import { sizeOf, type Tensor, unravel } from '../tensor.ts';
import { avgPool2dForward64, conv2dForward64, maxPool2dForward64 } from './reference64.ts';

const COST_LIMIT = 2 ** 20;

/** `count` integers in [low, high] without 0, from a generator seeded with `key`. */
function integers(count: number, low: number, high: number, key: string): Float32Array {
  const next = mulberry32(fnv1a(key));
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let v = 0;
    while (v === 0) v = low + (next() % (high - low + 1));
    out[i] = v;
  }
  return out;
}

const tensorOf = (shape: number[], low: number, high: number, key: string): Tensor => ({ shape, data: integers(sizeOf(shape), low, high, key) });

/** The case's geometry, or batch 1 and fewer channels of it when its forward is too slow for reference64. */
function geometryOf(c: Case): { geometry: Conv2dGeometry | Pool2dGeometry; reduced: string } {
  const g = c.geometry;
  if (c.op === 'conv2d') {
    if (c.geometry.forwardFlops / 2 <= COST_LIMIT) return { geometry: c.geometry, reduced: '' };
    const groups = Math.min(c.geometry.groups, 4);
    const cg = Math.min(c.geometry.inChannels / c.geometry.groups, 4), og = Math.min(c.geometry.outChannels / c.geometry.groups, 4);
    const geometry = conv2dGeometry([1, groups * cg, g.inHeight, g.inWidth], [groups * og, cg, g.kernelHeight, g.kernelWidth], {
      strides: [g.strideHeight, g.strideWidth], dilations: [g.dilationHeight, g.dilationWidth],
      padding: [g.padTop, g.padLeft, g.padBottom, g.padRight], groups,
    });
    return { geometry, reduced: ` (reduced: batch 1, ${groups} groups of ${cg} -> ${og} channels)` };
  }
  if (c.geometry.batch * c.geometry.channels * g.outHeight * g.outWidth * g.kernelHeight * g.kernelWidth <= COST_LIMIT) return { geometry: c.geometry, reduced: '' };
  const channels = Math.min(c.geometry.channels, 4);
  return { geometry: { ...c.geometry, batch: 1, channels }, reduced: ` (reduced: batch 1, ${channels} channels)` };
}

/** y = bias + sum over the group's channels and the kernel of w * x, x zero-padded. */
function convExact(x: Tensor, w: Tensor, bias: Tensor | undefined, g: Conv2dGeometry): Float64Array {
  const ph = g.inHeight + g.padTop + g.padBottom, pw = g.inWidth + g.padLeft + g.padRight;
  const padded = new Float64Array(g.batch * g.inChannels * ph * pw);
  for (let p = 0; p < g.batch * g.inChannels; p++)
    for (let r = 0; r < g.inHeight; r++)
      for (let q = 0; q < g.inWidth; q++) padded[(p * ph + r + g.padTop) * pw + q + g.padLeft] = x.data[(p * g.inHeight + r) * g.inWidth + q];
  const perGroupIn = g.inChannels / g.groups, perGroupOut = g.outChannels / g.groups;
  const y = new Float64Array(g.batch * g.outChannels * g.outHeight * g.outWidth);
  let at = 0;
  for (let n = 0; n < g.batch; n++)
    for (let o = 0; o < g.outChannels; o++) {
      const first = Math.floor(o / perGroupOut) * perGroupIn;
      for (let oy = 0; oy < g.outHeight; oy++)
        for (let ox = 0; ox < g.outWidth; ox++) {
          let sum = bias ? bias.data[o] : 0;
          for (let c = 0; c < perGroupIn; c++)
            for (let ky = 0; ky < g.kernelHeight; ky++)
              for (let kx = 0; kx < g.kernelWidth; kx++) {
                const r = oy * g.strideHeight + ky * g.dilationHeight, q = ox * g.strideWidth + kx * g.dilationWidth;
                if (r >= ph || q >= pw) throw new Error(`window (${oy}, ${ox}) reaches past the padded input`);
                sum += padded[((n * g.inChannels + first + c) * ph + r) * pw + q] * w.data[((o * perGroupIn + c) * g.kernelHeight + ky) * g.kernelWidth + kx];
              }
          if (!Number.isSafeInteger(sum)) throw new Error(`not an exact integer: ${sum}`);
          y[at++] = sum;
        }
    }
  return y;
}

/** Each window's taps: (row, column), in-bounds or not. */
function taps(g: Pool2dGeometry, oy: number, ox: number): [number, number][] {
  const out: [number, number][] = [];
  for (let ky = 0; ky < g.kernelHeight; ky++)
    for (let kx = 0; kx < g.kernelWidth; kx++) out.push([oy * g.strideHeight - g.padTop + ky * g.dilationHeight, ox * g.strideWidth - g.padLeft + kx * g.dilationWidth]);
  return out;
}

function poolExact(x: Tensor, g: Pool2dGeometry, op: 'maxpool2d' | 'avgpool2d'): Float64Array {
  const y = new Float64Array(g.batch * g.channels * g.outHeight * g.outWidth);
  const inside = (r: number, q: number) => r >= 0 && r < g.inHeight && q >= 0 && q < g.inWidth;
  const counted = (r: number, q: number) => (g.countIncludePad
    ? r >= -g.padTop && r < g.inHeight + g.padBottom && q >= -g.padLeft && q < g.inWidth + g.padRight
    : inside(r, q));
  let at = 0;
  for (let p = 0; p < g.batch * g.channels; p++)
    for (let oy = 0; oy < g.outHeight; oy++)
      for (let ox = 0; ox < g.outWidth; ox++) {
        let sum = 0, divisor = 0, max = Number.NEGATIVE_INFINITY;
        for (const [r, q] of taps(g, oy, ox)) {
          if (counted(r, q)) divisor++;
          if (!inside(r, q)) continue;
          const v = x.data[(p * g.inHeight + r) * g.inWidth + q];
          sum += v;
          max = Math.max(max, v);
        }
        if (max === Number.NEGATIVE_INFINITY || divisor === 0) throw new Error(`window (${oy}, ${ox}) reads no input`);
        y[at++] = op === 'maxpool2d' ? max : sum / divisor;
      }
  return y;
}

const loaded = loadCases(['cases']);

it('the bundled corpus loads, and its geometries have every feature this check is for', () => {
  expect(loaded.errors.map((e) => e.message)).toEqual([]);
  const conv = loaded.cases.flatMap((c) => (c.op === 'conv2d' ? [c] : []));
  const pools = loaded.cases.flatMap((c) => (c.op !== 'conv2d' ? [c] : []));
  const avg = pools.filter((c) => c.op === 'avgpool2d').map((c) => c.geometry);
  const asymmetric = (g: Conv2dGeometry | Pool2dGeometry) => g.padTop !== g.padBottom || g.padLeft !== g.padRight;
  const features = {
    'conv groups': conv.some((c) => c.geometry.groups > 1 && c.geometry.groups < c.geometry.inChannels),
    'conv depthwise multiplier': conv.some((c) => c.geometry.groups === c.geometry.inChannels && c.geometry.outChannels > c.geometry.groups),
    'conv dilation': conv.some((c) => c.geometry.dilationHeight > 1 || c.geometry.dilationWidth > 1),
    'conv strides': conv.some((c) => c.geometry.strideHeight > 1 || c.geometry.strideWidth > 1),
    'conv asymmetric pads': conv.some((c) => asymmetric(c.geometry)),
    'conv bias': conv.some((c) => c.bias !== undefined),
    'max pooling dilation and asymmetric pads': pools.some((c) => c.op === 'maxpool2d' && c.geometry.dilationHeight > 1 && asymmetric(c.geometry)),
    'average countIncludePad with padding': avg.some((g) => g.countIncludePad && g.padTop + g.padLeft + g.padBottom + g.padRight > 0),
    // ceil mode: a window reaching past the padded input (its overhang must not count)
    'average ceil overhang': avg.some((g) => (g.outHeight - 1) * g.strideHeight + (g.kernelHeight - 1) * g.dilationHeight + 1 > g.inHeight + g.padTop + g.padBottom ||
      (g.outWidth - 1) * g.strideWidth + (g.kernelWidth - 1) * g.dilationWidth + 1 > g.inWidth + g.padLeft + g.padRight),
  };
  expect(Object.entries(features).filter(([, present]) => !present).map(([name]) => name)).toEqual([]);
});

describe('reference64 forward on integer data = the exact result', () => {
  for (const c of loaded.cases) {
    const { geometry, reduced } = geometryOf(c);
    it(`${c.id}${reduced}`, () => {
      const key = `${c.id}/exact`;
      let got: Float64Array, want: Float64Array, shape: number[];
      if (c.op === 'conv2d' && 'groups' in geometry) {
        const g = geometry;
        const x = tensorOf([g.batch, g.inChannels, g.inHeight, g.inWidth], -8, 8, `${key}/x`);
        const w = tensorOf([g.outChannels, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth], -8, 8, `${key}/w`);
        const bias = c.bias ? tensorOf([g.outChannels], -64, 64, `${key}/bias`) : undefined;
        got = conv2dForward64(x, w, bias, g).value;
        want = convExact(x, w, bias, g);
        shape = [g.batch, g.outChannels, g.outHeight, g.outWidth];
      } else if (c.op !== 'conv2d' && !('groups' in geometry)) {
        const g = geometry;
        const x = c.op === 'maxpool2d'
          ? tensorOf([g.batch, g.channels, g.inHeight, g.inWidth], -12, 4, `${key}/x`)
          : tensorOf([g.batch, g.channels, g.inHeight, g.inWidth], -8, 8, `${key}/x`);
        got = (c.op === 'maxpool2d' ? maxPool2dForward64(x, g) : avgPool2dForward64(x, g)).value;
        want = poolExact(x, g, c.op);
        shape = [g.batch, g.channels, g.outHeight, g.outWidth];
      } else {
        throw new Error(`${c.id}: geometry of the wrong op`);
      }
      expect(got.length).toBe(want.length);
      const wrong: string[] = [];
      let count = 0;
      for (let i = 0; i < want.length; i++) {
        if (got[i] === want[i]) continue;
        if (count++ < 8) wrong.push(`y(${unravel(i, shape).join(', ')}): reference64 ${got[i]}, exact ${want[i]}`);
      }
      expect(wrong, `${count} of ${want.length} outputs differ from the exact result`).toEqual([]);
    });
  }
});
