// reference64's backward against central finite differences of reference64's own float64 forward,
// on every backward case of the bundled corpus (docs/architecture.md "Oracles").
//
// The loss is L = sum(dy * f(inputs)); each checked element e of x, w or bias gets
//   D = (L(e = e+) - L(e = e-)) / (e+ - e-),   e+ = fround(e + h), e- = fround(e - h)
// (the inputs are float32 tensors, so the step actually taken, e+ - e-, is what D divides by).
//
// What is evaluated. L is reference64's forward on a crop of the case: the input channel and the
// rows and columns of the outputs that read e (conv dx, pooling dx), or the one input and output
// channel pair that w[o, c, .., ..] and bias[o] reach (conv dw, db). Every term left out of the crop
// does not depend on e, so it cancels exactly in L(e+) - L(e-); the crop makes a derivative cost a
// few hundred multiply-adds instead of a whole forward. Conv crops are built by conv2dGeometry
// (explicit pads); pooling crops are the case's record with the crop's sizes and pads, the bottom and
// right pads clipped to the case's own, so a ceil-mode window keeps its divisor (its overhang never
// counts, with or without countIncludePad).
//
// Which elements. A tensor of up to 200 elements is checked in full; a larger one on 200 elements
// drawn by mulberry32 seeded with fnv1a(case id / tensor), the same every run; for dw and db, fewer
// when one forward of the crop is large (2^21 multiply-adds of forwards per tensor at most).
// reference64's backward of the largest bench cases takes about a minute, so a case whose backward
// is more than 2^20 multiply-adds (or window taps) is checked on a reduced copy: batch 1, at most
// 2 groups of at most 2 input and 3 output channels (pooling: 3 channels), the case's own data and
// the same spatial geometry (sizes, kernel, strides, dilations, pads, ceil mode and divisor rule).
//
// Max pooling is piecewise linear: an element is checked where, in every window that reads it, it
// stays the unique maximum, or stays below the maximum of the other taps, for both e+ and e-
// (a margin larger than the step); elsewhere it is skipped as "near a kink" (ties, values closer than
// h). NaN and infinite elements have no derivative: skipped as "non-finite". An output that is the
// same non-finite value at e+ and e- (a window holding NaN or +inf elsewhere) is constant and left out
// of the sum. An element that no output reads has D = 0 exactly and its gradient must be exactly 0.
//
// Tolerance. conv and average pooling are linear in each input, max pooling is linear in e within
// the margin, so the central difference has no truncation error (the O(h^2 f''') term is 0) and
// does not care that e+ - e- is not exactly 2h; D differs from the derivative g only by float64
// rounding. With u = 2^-53, gamma(n) = n u / (1 - n u), for each crop output o: A_o >= sum|terms of
// y_o| (a bound taken from the data, not from reference64: conv M |w_o|_1 + |b_o|, average M kH kW
// (divisor >= 1), max M, with M the largest |input| of the crop at e+ and e-), r the most roundings
// of one output (conv kH kW + 1, average kH kW + 1, max 0), m the outputs summed:
//   |L^(e+-) - L(e+-)| <= E  = gamma(r + m + 1) sum_o |dy_o| A_o            (y_o, then dy*y, then the sum)
//   |D^ - g|           <= 2E / |e+ - e-| + 3u |D^|                          (the subtraction, the division)
// reference64's own gradient has error <= gamma(n_b) S_b with S_b = sum |terms of the gradient| and
// n_b <= m (each output reads e at most once); as A_o >= |e+-| |coefficient of e in y_o|,
// sum_o |dy_o| (A_o(e+) + A_o(e-)) >= |e+ - e-| S_b, so 2E / |e+ - e-| bounds that error too. Hence
//   budget = 2 (4E / |e+ - e-| + 3u |D^|)
// the outer 2 for the second-order terms the first-order bounds drop. The step makes this small
// against |g|: A_o / |e+ - e-| must not be large, so for conv and average pooling h is the power of
// two at or above the largest |value| of the tensor (1 for an all-zero tensor); no truncation error
// means a large step costs nothing, and the relative budget is about u (r + m) sum|dy| |w|_1 / |g|,
// around 1e-12 here. For max pooling the step must stay inside the margin, so h is that power of two
// times 2^-16: A_o / |e+ - e-| is then at most 2^15, the relative budget stays around 1e-10 and ties
// up to 2^-16 of the tensor's magnitude apart are skipped. A wrong gradient is off by O(|g|).
import { afterAll, describe, expect, it } from 'vitest';
import { fnv1a, mulberry32 } from '../cases/generate.ts';
import { type Case, type ConvCase, hasBackward, loadCases, type PoolCase } from '../cases/load.ts';
import { conv2dGeometry, type Pool2dGeometry } from '../geometry.ts';
import { type Tensor, unravel } from '../tensor.ts';
import {
  avgPool2dBackward64, avgPool2dForward64, conv2dBackward64, conv2dForward64, maxPool2dBackward64, maxPool2dForward64,
} from './reference64.ts';

const U = 2 ** -53;
const gamma = (n: number): number => (n * U) / (1 - n * U);
/** Elements checked per tensor at most. */
const PER_TENSOR = 200;
/** Multiply-adds (window taps for pooling) of reference64's backward past which a case is reduced. */
const COST_LIMIT = 2 ** 20;
/** Multiply-adds of crop forwards spent on one dw or db tensor at most. */
const EVAL_BUDGET = 2 ** 21;
/** Max pooling: the step is this fraction of the tensor's magnitude. */
const MAX_POOL_STEP = 2 ** -16;

type Skip = 'non-finite' | 'near a kink';
type Outcome = { kind: 'checked'; fd: number; budget: number } | { kind: 'skipped'; why: Skip };
interface Tally {
  checked: number; skipped: Record<Skip, number>;
  /** Largest error / budget, and budget / |gradient| of each nonzero gradient checked. */
  worst: number; relative: number[];
  /** CPU milliseconds: reference64's backward, then each tensor's differences. */
  ms: Record<string, number>;
}
const newTally = (): Tally => ({ checked: 0, skipped: { 'non-finite': 0, 'near a kink': 0 }, worst: 0, relative: [], ms: {} });

/** What reference64's forward gives on a crop, and what bounds its rounding. */
interface Crop {
  /** The crop's outputs (reference64's forward) with the checked element set to v. */
  outputs(v: number): Float64Array;
  /** dy over the crop's outputs. */
  dy: Float32Array;
  /** A bound on sum |terms| of output o, valid at both e+ and e-. */
  bound(o: number): number;
  /** The most roundings of one output. */
  rounds: number;
}

const EMPTY = new Float32Array(0);
/** CPU time of this process (the machine may be shared: wall time says little). */
const cpuMs = (): number => process.cpuUsage().user / 1000;
const ZERO: Outcome = { kind: 'checked', fd: 0, budget: 0 };

/** The central difference over a crop, with its budget (see the header). */
function difference(crop: Crop, plus: number, minus: number): Outcome {
  const yp = crop.outputs(plus);
  const ym = crop.outputs(minus);
  let lp = 0, lm = 0, abs = 0, terms = 0;
  for (let o = 0; o < yp.length; o++) {
    if (!(Number.isFinite(yp[o]) && Number.isFinite(ym[o])) && Object.is(yp[o], ym[o])) continue; // constant: cancels
    lp += crop.dy[o] * yp[o];
    lm += crop.dy[o] * ym[o];
    abs += Math.abs(crop.dy[o]) * crop.bound(o);
    terms++;
  }
  const step = plus - minus;
  const fd = (lp - lm) / step;
  const e = gamma(crop.rounds + terms + 1) * abs;
  return { kind: 'checked', fd, budget: 2 * ((4 * e) / Math.abs(step) + 3 * U * Math.abs(fd)) };
}

/** The power of two at or above the largest finite |value| (1 when there is none but 0); per tensor, cached. */
const magnitudes = new WeakMap<Float32Array, number>();
function magnitude(data: Float32Array): number {
  const known = magnitudes.get(data);
  if (known !== undefined) return known;
  const h = powerOfTwoAbove(data);
  magnitudes.set(data, h);
  return h;
}
function powerOfTwoAbove(data: Float32Array): number {
  let m = 0;
  for (let i = 0; i < data.length; i++) if (Number.isFinite(data[i])) m = Math.max(m, Math.abs(data[i]));
  return m === 0 ? 1 : 2 ** Math.ceil(Math.log2(m));
}

/** e+ and e- as float32 values: halved until neither overflows. */
function stepAround(v: number, h: number): { plus: number; minus: number } {
  for (let k = 0; k < 300; k++, h /= 2) {
    const plus = Math.fround(v + h), minus = Math.fround(v - h);
    if (Number.isFinite(plus) && Number.isFinite(minus) && plus !== minus) return { plus, minus };
  }
  throw new Error(`no float32 step around ${v}`);
}

const allFinite = (data: ArrayLike<number>): boolean => {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return false;
  return true;
};
const maxAbs = (data: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < data.length; i++) if (Number.isFinite(data[i])) m = Math.max(m, Math.abs(data[i]));
  return m;
};
const l1 = (data: ArrayLike<number>, from = 0, to = data.length): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += Math.abs(data[i]);
  return s;
};

/**
 * Along one axis: the outputs [lo, hi] whose window spans input index i, and the input rows
 * [start, end] those windows cover with the padding before and after them; undefined when no
 * window spans i.
 */
interface Reach { lo: number; hi: number; start: number; end: number; before: number; after: number }
function reach(i: number, kernel: number, stride: number, pad: number, dilation: number, inSize: number, outSize: number): Reach | undefined {
  const extent = (kernel - 1) * dilation;
  const lo = Math.max(0, Math.ceil((i + pad - extent) / stride));
  const hi = Math.min(outSize - 1, Math.floor((i + pad) / stride));
  if (lo > hi) return undefined;
  const first = lo * stride - pad, last = hi * stride - pad + extent;
  const start = Math.max(0, first), end = Math.min(inSize - 1, last);
  return { lo, hi, start, end, before: start - first, after: last - end };
}

/** Rows [r0, r1] x columns [c0, c1] of one plane of an NCHW tensor, as a [1, 1, h, w] tensor. */
function cropPlane(t: Tensor, plane: number, r0: number, r1: number, c0: number, c1: number): Tensor {
  const [, , H, W] = t.shape;
  const h = r1 - r0 + 1, w = c1 - c0 + 1;
  const data = new Float32Array(h * w);
  for (let r = 0; r < h; r++) data.set(t.data.subarray(plane * H * W + (r0 + r) * W + c0, plane * H * W + (r0 + r) * W + c0 + w), r * w);
  return { shape: [1, 1, h, w], data };
}

/** Stacks [1, 1, h, w] crops along the channel axis (or the batch axis). */
function stack(parts: Tensor[], axis: 0 | 1): Tensor {
  const [, , h, w] = parts[0].shape;
  const data = new Float32Array(parts.length * h * w);
  parts.forEach((p, i) => data.set(p.data, i * h * w));
  return { shape: axis === 0 ? [parts.length, 1, h, w] : [1, parts.length, h, w], data };
}

// ---- conv2d ----

function convDx(c: ConvCase, i: number): Outcome {
  const g = c.geometry;
  const v0 = c.x.data[i];
  if (!Number.isFinite(v0)) return { kind: 'skipped', why: 'non-finite' };
  const [n, ch, iy, ix] = unravel(i, c.x.shape);
  const rows = reach(iy, g.kernelHeight, g.strideHeight, g.padTop, g.dilationHeight, g.inHeight, g.outHeight);
  const cols = reach(ix, g.kernelWidth, g.strideWidth, g.padLeft, g.dilationWidth, g.inWidth, g.outWidth);
  if (!rows || !cols) return ZERO;
  const cg = g.inChannels / g.groups, og = g.outChannels / g.groups, group = Math.floor(ch / cg);
  const x = cropPlane(c.x, n * g.inChannels + ch, rows.start, rows.end, cols.start, cols.end);
  const taps = g.kernelHeight * g.kernelWidth;
  const w: Tensor = { shape: [og, 1, g.kernelHeight, g.kernelWidth], data: new Float32Array(og * taps) };
  for (let k = 0; k < og; k++) w.data.set(c.w.data.subarray(((group * og + k) * cg + ch - group * cg) * taps, ((group * og + k) * cg + ch - group * cg + 1) * taps), k * taps);
  const bias = c.bias ? { shape: [og], data: c.bias.data.slice(group * og, (group + 1) * og) } : undefined;
  const geometry = conv2dGeometry(x.shape, w.shape, {
    strides: [g.strideHeight, g.strideWidth], dilations: [g.dilationHeight, g.dilationWidth],
    padding: [rows.before, cols.before, rows.after, cols.after], groups: 1,
  });
  const oh = rows.hi - rows.lo + 1, ow = cols.hi - cols.lo + 1;
  if (geometry.outHeight !== oh || geometry.outWidth !== ow) throw new Error(`dx crop of ${c.id} at ${i}: ${geometry.outHeight}x${geometry.outWidth}, want ${oh}x${ow}`);
  const dy = stack(Array.from({ length: og }, (_, k) => cropPlane(c.dy, n * g.outChannels + group * og + k, rows.lo, rows.hi, cols.lo, cols.hi)), 1);
  if (![x.data, w.data, bias?.data ?? [], dy.data].every(allFinite)) return { kind: 'skipped', why: 'non-finite' };
  const k = (iy - rows.start) * (cols.end - cols.start + 1) + (ix - cols.start);
  const { plus, minus } = stepAround(v0, magnitude(c.x.data));
  const m = Math.max(maxAbs(x.data), Math.abs(plus), Math.abs(minus));
  const wl1 = Array.from({ length: og }, (_, o) => l1(w.data, o * taps, (o + 1) * taps));
  return difference({
    outputs: (v) => { x.data[k] = v; const y = conv2dForward64(x, w, bias, geometry).value; x.data[k] = v0; return y; },
    dy: dy.data,
    bound: (o) => { const och = Math.floor(o / (oh * ow)); return m * wl1[och] + (bias ? Math.abs(bias.data[och]) : 0); },
    rounds: taps + 1,
  }, plus, minus);
}

/** One input channel of every batch item, [N, 1, H, W]. */
function channelOf(t: Tensor, channels: number, ch: number): Tensor {
  const [N, , H, W] = t.shape;
  return stack(Array.from({ length: N }, (_, n) => cropPlane(t, n * channels + ch, 0, H - 1, 0, W - 1)), 0);
}

/** The conv of one input channel with one output channel's kernel slice, over the whole batch and plane. */
function channelPair(c: ConvCase, o: number, cc: number, cache: Map<number, Tensor>) {
  const g = c.geometry;
  const cg = g.inChannels / g.groups, og = g.outChannels / g.groups;
  const ch = Math.floor(o / og) * cg + cc;
  let x = cache.get(ch);
  if (!x) { x = channelOf(c.x, g.inChannels, ch); cache.set(ch, x); }
  const taps = g.kernelHeight * g.kernelWidth;
  const w: Tensor = { shape: [1, 1, g.kernelHeight, g.kernelWidth], data: c.w.data.slice((o * cg + cc) * taps, (o * cg + cc + 1) * taps) };
  const geometry = conv2dGeometry(x.shape, w.shape, {
    strides: [g.strideHeight, g.strideWidth], dilations: [g.dilationHeight, g.dilationWidth],
    padding: [g.padTop, g.padLeft, g.padBottom, g.padRight], groups: 1,
  });
  if (geometry.outHeight !== g.outHeight || geometry.outWidth !== g.outWidth) throw new Error(`channel crop of ${c.id}: output ${geometry.outHeight}x${geometry.outWidth}`);
  const dy = channelOf(c.dy, g.outChannels, o);
  return { x, w, geometry, dy, taps };
}

function convDw(c: ConvCase, i: number, cache: Map<number, Tensor>): Outcome {
  const v0 = c.w.data[i];
  if (!Number.isFinite(v0)) return { kind: 'skipped', why: 'non-finite' };
  const [o, cc, ky, kx] = unravel(i, c.w.shape);
  const { x, w, geometry, dy, taps } = channelPair(c, o, cc, cache);
  const bias = c.bias ? { shape: [1], data: c.bias.data.slice(o, o + 1) } : undefined;
  if (![x.data, w.data, bias?.data ?? [], dy.data].every(allFinite)) return { kind: 'skipped', why: 'non-finite' };
  const k = ky * c.geometry.kernelWidth + kx;
  const { plus, minus } = stepAround(v0, magnitude(c.w.data));
  const a = maxAbs(x.data) * (l1(w.data) - Math.abs(v0) + Math.max(Math.abs(plus), Math.abs(minus))) + (bias ? Math.abs(bias.data[0]) : 0);
  return difference({
    outputs: (v) => { w.data[k] = v; const y = conv2dForward64(x, w, bias, geometry).value; w.data[k] = v0; return y; },
    dy: dy.data, bound: () => a, rounds: taps + 1,
  }, plus, minus);
}

function convDb(c: ConvCase, o: number, cache: Map<number, Tensor>): Outcome {
  const v0 = c.bias ? c.bias.data[o] : 0; // no bias: the derivative at bias 0
  if (!Number.isFinite(v0)) return { kind: 'skipped', why: 'non-finite' };
  const { x, w, geometry, dy, taps } = channelPair(c, o, 0, cache);
  const bias = { shape: [1], data: new Float32Array([v0]) };
  if (![x.data, w.data, dy.data].every(allFinite)) return { kind: 'skipped', why: 'non-finite' };
  const { plus, minus } = stepAround(v0, magnitude(c.bias?.data ?? EMPTY));
  const a = maxAbs(x.data) * l1(w.data) + Math.max(Math.abs(plus), Math.abs(minus));
  return difference({
    outputs: (v) => { bias.data[0] = v; return conv2dForward64(x, w, bias, geometry).value; },
    dy: dy.data, bound: () => a, rounds: taps + 1,
  }, plus, minus);
}

// ---- pooling ----

/** Input offsets (within the plane) that window (oy, ox) reads, by the definition: in-bounds taps. */
function windowReads(g: Pool2dGeometry, oy: number, ox: number): number[] {
  const reads: number[] = [];
  for (let ky = 0; ky < g.kernelHeight; ky++) {
    const r = oy * g.strideHeight - g.padTop + ky * g.dilationHeight;
    if (r < 0 || r >= g.inHeight) continue;
    for (let kx = 0; kx < g.kernelWidth; kx++) {
      const q = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth;
      if (q >= 0 && q < g.inWidth) reads.push(r * g.inWidth + q);
    }
  }
  return reads;
}

/**
 * Max pooling: whether x[i] keeps its place in every window that reads it, at e+ and e- alike
 * (the unique maximum, or below the other taps' maximum). A window whose output is NaN whatever
 * x[i] is (NaN elsewhere, propagated) sets no condition.
 */
function awayFromKinks(c: PoolCase, plane: number, offset: number, rows: Reach, cols: Reach, plus: number, minus: number): boolean {
  const g = c.geometry;
  const base = plane * g.inHeight * g.inWidth;
  for (let oy = rows.lo; oy <= rows.hi; oy++)
    for (let ox = cols.lo; ox <= cols.hi; ox++) {
      const reads = windowReads(g, oy, ox);
      if (!reads.includes(offset)) continue;
      const others = reads.filter((t) => t !== offset).map((t) => c.x.data[base + t]);
      if (g.propagateNan && others.some(Number.isNaN)) continue;
      const max = Math.max(Number.NEGATIVE_INFINITY, ...others.filter((v) => !Number.isNaN(v)));
      if (!(minus > max || plus < max)) return false;
    }
  return true;
}

function poolDx(c: PoolCase, i: number): Outcome {
  const g = c.geometry;
  const v0 = c.x.data[i];
  if (!Number.isFinite(v0)) return { kind: 'skipped', why: 'non-finite' };
  const [n, ch, iy, ix] = unravel(i, c.x.shape);
  const plane = n * g.channels + ch;
  const rows = reach(iy, g.kernelHeight, g.strideHeight, g.padTop, g.dilationHeight, g.inHeight, g.outHeight);
  const cols = reach(ix, g.kernelWidth, g.strideWidth, g.padLeft, g.dilationWidth, g.inWidth, g.outWidth);
  if (!rows || !cols) return ZERO;
  const x = cropPlane(c.x, plane, rows.start, rows.end, cols.start, cols.end);
  const dy = cropPlane(c.dy, plane, rows.lo, rows.hi, cols.lo, cols.hi);
  const geometry: Pool2dGeometry = {
    ...g, batch: 1, channels: 1,
    inHeight: rows.end - rows.start + 1, inWidth: cols.end - cols.start + 1,
    outHeight: rows.hi - rows.lo + 1, outWidth: cols.hi - cols.lo + 1,
    padTop: rows.before, padLeft: cols.before,
    padBottom: Math.min(rows.after, g.padBottom), padRight: Math.min(cols.after, g.padRight),
  };
  if (!allFinite(dy.data)) return { kind: 'skipped', why: 'non-finite' };
  const k = (iy - rows.start) * geometry.inWidth + (ix - cols.start);
  const taps = g.kernelHeight * g.kernelWidth;
  if (c.op === 'maxpool2d') {
    const { plus, minus } = stepAround(v0, magnitude(c.x.data) * MAX_POOL_STEP);
    if (!awayFromKinks(c, plane, iy * g.inWidth + ix, rows, cols, plus, minus)) return { kind: 'skipped', why: 'near a kink' };
    const m = Math.max(maxAbs(x.data), Math.abs(plus), Math.abs(minus));
    return difference({
      outputs: (v) => { x.data[k] = v; const y = maxPool2dForward64(x, geometry).value; x.data[k] = v0; return y; },
      dy: dy.data, bound: () => m, rounds: 0,
    }, plus, minus);
  }
  if (!allFinite(x.data)) return { kind: 'skipped', why: 'non-finite' };
  const { plus, minus } = stepAround(v0, magnitude(c.x.data));
  const m = Math.max(maxAbs(x.data), Math.abs(plus), Math.abs(minus));
  return difference({
    outputs: (v) => { x.data[k] = v; const y = avgPool2dForward64(x, geometry).value; x.data[k] = v0; return y; },
    dy: dy.data, bound: () => m * taps, rounds: taps + 1,
  }, plus, minus);
}

// ---- cases ----

/** Multiply-adds (conv: dx and dw) or window taps (pooling) of reference64's backward. */
function backwardCost(c: Case): number {
  const g = c.geometry;
  return c.op === 'conv2d' ? c.geometry.backwardFlops / 2 : c.geometry.batch * c.geometry.channels * g.outHeight * g.outWidth * g.kernelHeight * g.kernelWidth;
}

/** Planes [from, from + count) of every one of `batch` items of an NCHW tensor with `channels` channels. */
function planes(t: Tensor, batch: number, pick: number[]): Tensor {
  const [, C, H, W] = t.shape;
  const data = new Float32Array(batch * pick.length * H * W);
  for (let n = 0; n < batch; n++) pick.forEach((p, j) => data.set(t.data.subarray((n * C + p) * H * W, (n * C + p + 1) * H * W), (n * pick.length + j) * H * W));
  return { shape: [batch, pick.length, H, W], data };
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

/** The case itself, or when its backward is too slow for reference64, batch 1 and fewer channels of it. */
function subject(c: Case): Case {
  if (backwardCost(c) <= COST_LIMIT) return c;
  const g = c.geometry;
  if (c.op !== 'conv2d') {
    const channels = Math.min(c.geometry.channels, 3);
    const pick = range(channels);
    return { ...c, id: `${c.id} (reduced: batch 1, ${channels} channels)`, geometry: { ...c.geometry, batch: 1, channels }, x: planes(c.x, 1, pick), dy: planes(c.dy, 1, pick) };
  }
  const cg0 = c.geometry.inChannels / c.geometry.groups, og0 = c.geometry.outChannels / c.geometry.groups;
  const groups = Math.min(c.geometry.groups, 2), cg = Math.min(cg0, 2), og = Math.min(og0, 3);
  const ins = range(groups).flatMap((j) => range(cg, j * cg0));
  const outs = range(groups).flatMap((j) => range(og, j * og0));
  const taps = g.kernelHeight * g.kernelWidth;
  const w: Tensor = { shape: [outs.length, cg, g.kernelHeight, g.kernelWidth], data: new Float32Array(outs.length * cg * taps) };
  outs.forEach((o, k) => w.data.set(c.w.data.subarray(o * cg0 * taps, (o * cg0 + cg) * taps), k * cg * taps));
  const x = planes(c.x, 1, ins);
  const geometry = conv2dGeometry(x.shape, w.shape, {
    strides: [g.strideHeight, g.strideWidth], dilations: [g.dilationHeight, g.dilationWidth],
    padding: [g.padTop, g.padLeft, g.padBottom, g.padRight], groups,
  });
  if (geometry.outHeight !== g.outHeight || geometry.outWidth !== g.outWidth) throw new Error(`reduced ${c.id}: output ${geometry.outHeight}x${geometry.outWidth}`);
  return {
    ...c, id: `${c.id} (reduced: batch 1, ${groups} groups of ${cg} -> ${og} channels)`, geometry, x, w,
    bias: c.bias ? { shape: [outs.length], data: Float32Array.from(outs, (o) => c.bias?.data[o] ?? 0) } : undefined,
    dy: planes(c.dy, 1, outs),
  };
}

/** All of 0..n-1 when n <= limit, else `limit` of them drawn by a generator seeded with `key`. */
function sample(n: number, limit: number, key: string): number[] {
  if (n <= limit) return range(n);
  const next = mulberry32(fnv1a(key));
  const picked = new Set<number>();
  while (picked.size < limit) picked.add(next() % n);
  return [...picked].sort((a, b) => a - b);
}

interface Failure { tensor: string; at: number[]; fd: number; ref: number; budget: number }

/** Checks one tensor's sampled elements against reference64's gradient. */
function checkTensor(name: string, c: Case, ref: Float64Array, shape: number[], limit: number, outcome: (i: number) => Outcome, tally: Tally, failures: Failure[]): void {
  const t0 = cpuMs();
  for (const i of sample(ref.length, limit, `${c.id}/${name}`)) {
    const r = outcome(i);
    if (r.kind === 'skipped') { tally.skipped[r.why]++; continue; }
    tally.checked++;
    const error = Math.abs(r.fd - ref[i]);
    const ratio = error === 0 ? 0 : error / r.budget; // NaN when either is NaN
    if (!(ratio <= 1)) failures.push({ tensor: name, at: unravel(i, shape), fd: r.fd, ref: ref[i], budget: r.budget });
    else tally.worst = Math.max(tally.worst, ratio);
    if (ref[i] !== 0) tally.relative.push(r.budget / Math.abs(ref[i]));
  }
  tally.ms[name] = cpuMs() - t0;
}

function checkCase(original: Case, tally: Tally): Failure[] {
  const c = subject(original);
  const failures: Failure[] = [];
  if (c.op === 'conv2d') {
    const t0 = cpuMs();
    const ref = conv2dBackward64(c.x, c.w, c.dy, c.geometry);
    tally.ms.reference = cpuMs() - t0;
    const cache = new Map<number, Tensor>();
    const g = c.geometry;
    const evalCost = g.batch * g.outHeight * g.outWidth * g.kernelHeight * g.kernelWidth; // one crop forward, dw and db
    const limit = Math.min(PER_TENSOR, Math.max(8, Math.floor(EVAL_BUDGET / (2 * evalCost))));
    checkTensor('dx', c, ref.dx.value, c.x.shape, PER_TENSOR, (i) => convDx(c, i), tally, failures);
    checkTensor('dw', c, ref.dw.value, c.w.shape, limit, (i) => convDw(c, i, cache), tally, failures);
    checkTensor('db', c, ref.db.value, [g.outChannels], limit, (i) => convDb(c, i, cache), tally, failures);
  } else {
    const ref = c.op === 'maxpool2d' ? maxPool2dBackward64(c.x, c.dy, c.geometry) : avgPool2dBackward64(c.x, c.dy, c.geometry);
    checkTensor('dx', c, ref.value, c.x.shape, PER_TENSOR, (i) => poolDx(c, i), tally, failures);
  }
  return failures;
}

const loaded = loadCases(['cases']);
/** A zero-size batch or channel dimension: no element to perturb; its gradients are empty sums (below). */
const zeroSize = (c: Case): boolean => c.x.data.length === 0 || (c.op === 'conv2d' && c.w.data.length === 0);
const backward = loaded.cases.filter(hasBackward).filter((c) => !zeroSize(c));
const tallies = new Map<string, Tally>();

afterAll(() => {
  if (!process.env.CONVBENCH_FD_SUMMARY) return;
  const total = newTally();
  const quantile = (v: number[], q: number) => (v.length ? [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(q * v.length))] : 0);
  const ms = (t: Tally) => Object.entries(t.ms).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ');
  for (const [id, t] of tallies) {
    console.log(`${t.checked} checked, ${t.skipped['near a kink']} near a kink, ${t.skipped['non-finite']} non-finite; ` +
      `worst error/budget ${t.worst.toExponential(2)}; budget/|g| median ${quantile(t.relative, 0.5).toExponential(1)}, max ${quantile(t.relative, 1).toExponential(1)}; cpu ms ${ms(t)}: ${id}`);
    total.checked += t.checked; total.skipped['near a kink'] += t.skipped['near a kink']; total.skipped['non-finite'] += t.skipped['non-finite'];
    total.worst = Math.max(total.worst, t.worst);
    total.relative.push(...t.relative);
    for (const [k, v] of Object.entries(t.ms)) total.ms[k] = (total.ms[k] ?? 0) + v;
  }
  console.log(`total: ${tallies.size} cases, ${total.checked} elements checked, ${total.skipped['near a kink']} skipped near a kink, ` +
    `${total.skipped['non-finite']} skipped non-finite; worst error/budget ${total.worst.toExponential(2)}; budget/|g| median ` +
    `${quantile(total.relative, 0.5).toExponential(1)}, 99% ${quantile(total.relative, 0.99).toExponential(1)}, max ${quantile(total.relative, 1).toExponential(1)}; cpu ms ${ms(total)}`);
});

it('the bundled corpus loads and has backward cases of every op', () => {
  expect(loaded.errors.map((e) => e.message)).toEqual([]);
  expect(new Set(backward.map((c) => c.op))).toEqual(new Set(['conv2d', 'maxpool2d', 'avgpool2d']));
});

describe('reference64 backward = central differences of reference64 forward', () => {
  for (const c of backward) {
    it(c.id, () => {
      const tally = newTally();
      const failures = checkCase(c, tally);
      tallies.set(c.id, tally);
      const shown = failures.slice(0, 8).map((f) => `${f.tensor}(${f.at.join(', ')}): reference64 ${f.ref}, central difference ${f.fd}, budget ${f.budget.toExponential(2)}`);
      expect(shown, `${failures.length} elements disagree`).toEqual([]);
    });
  }
});

it('skips leave the check its power: only max pooling skips, and checks most of its elements', () => {
  const byOp = (op: Case['op']) => backward.filter((c) => c.op === op).map((c) => tallies.get(c.id) ?? newTally());
  for (const op of ['conv2d', 'avgpool2d'] as const) {
    expect(byOp(op).every((t) => t.checked > 0 && t.skipped['near a kink'] === 0)).toBe(true);
  }
  const max = byOp('maxpool2d');
  const checked = max.reduce((n, t) => n + t.checked, 0);
  const skipped = max.reduce((n, t) => n + t.skipped['near a kink'] + t.skipped['non-finite'], 0);
  expect(checked).toBeGreaterThan(4 * skipped);
});

// cases/README.md "Zero-size batch and channels": an empty sum is +0. With N = 0, dw and db are zeros; with
// O = 0, dx is zeros; with C = 0 (y is the bias), db is the sum of dy. Checked exactly.
describe('zero-size cases: reference64 gives the declared empty sums', () => {
  const cases = loaded.cases.filter(hasBackward).filter(zeroSize);
  it('the corpus has them, for conv and pooling', () => expect(new Set(cases.map((c) => c.op)).size).toBeGreaterThanOrEqual(2));
  for (const c of cases) {
    it(c.id, () => {
      const zeros = (v: Float64Array) => v.every((e) => Object.is(e, 0));
      if (c.op !== 'conv2d') {
        const dx = c.op === 'maxpool2d' ? maxPool2dBackward64(c.x, c.dy, c.geometry) : avgPool2dBackward64(c.x, c.dy, c.geometry);
        expect(dx.value.length).toBe(0);
        return;
      }
      const g = c.geometry;
      const { dx, dw, db } = conv2dBackward64(c.x, c.w, c.dy, g);
      expect(zeros(dx.value) && zeros(dw.value)).toBe(true);
      const plane = g.outHeight * g.outWidth;
      const want = new Float64Array(g.outChannels);
      for (let o = 0; o < g.outChannels; o++)
        for (let n = 0; n < g.batch; n++) for (let p = 0; p < plane; p++) want[o] += c.dy.data[(n * g.outChannels + o) * plane + p];
      expect(Array.from(db.value)).toEqual(Array.from(want));
    });
  }
});
