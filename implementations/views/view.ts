// A strided view over flat storage: the one idea this implementation is built on. After tinygrad's
// `_pool`, convolution and pooling are pad -> window view -> multiply -> sum. `pad` is the only
// copying view op; windows, permute, splitAxis, reshape, broadcast and slice only rewrite
// shape / strides / offset. mulSum and toTensor write dense results; scatterAdd adds into a view.
import { sizeOf, stridesOf, type Tensor } from '../../harness/tensor.ts';

export type Storage = Float32Array | Float64Array;

/** Element (i0, i1, ...) lives at data[offset + sum(ik * strides[k])]. Stride 0 = broadcast axis. */
export interface View<S extends Storage = Storage> {
  data: S;
  shape: number[];
  strides: number[];
  offset: number;
}

/** Where the windows are: output size, kernel, stride, dilation. */
export interface WindowShape {
  outHeight: number; outWidth: number; kernelHeight: number; kernelWidth: number;
  strideHeight: number; strideWidth: number; dilationHeight: number; dilationWidth: number;
}

/** The sliding-window fields of a geometry record (Conv2dGeometry and Pool2dGeometry both fit). */
export interface WindowGeometry extends WindowShape {
  inHeight: number; inWidth: number;
  padTop: number; padLeft: number; padBottom: number; padRight: number;
  effectiveKernelHeight: number; effectiveKernelWidth: number;
}

const fmt = (s: readonly number[]): string => `[${s.join(',')}]`;

/** A dense row-major view of existing storage (no copy). */
export function dense<S extends Storage>(t: { shape: readonly number[]; data: S }): View<S> {
  if (t.data.length !== sizeOf(t.shape)) throw new Error(`dense: ${t.data.length} values do not fill ${fmt(t.shape)}`);
  return { data: t.data, shape: [...t.shape], strides: stridesOf(t.shape), offset: 0 };
}

/** A new dense float64 view filled with `value`. */
export function allocate(shape: readonly number[], value = 0): View<Float64Array> {
  const data = new Float64Array(sizeOf(shape));
  if (value !== 0) data.fill(value);
  return dense({ shape, data });
}

/** One value seen at every index of `shape` (all strides 0). */
export function constant(shape: readonly number[], value: number): View<Float64Array> {
  return { data: Float64Array.of(value), shape: [...shape], strides: shape.map(() => 0), offset: 0 };
}

/** Axis i of the result is axis axes[i] of v. */
export function permute<S extends Storage>(v: View<S>, axes: readonly number[]): View<S> {
  const seen = [...axes].sort((a, b) => a - b);
  if (axes.length !== v.shape.length || seen.some((a, i) => a !== i)) {
    throw new Error(`permute: ${fmt(axes)} is not a permutation of the ${v.shape.length} axes of ${fmt(v.shape)}`);
  }
  return { data: v.data, shape: axes.map((a) => v.shape[a]), strides: axes.map((a) => v.strides[a]), offset: v.offset };
}

/** Splits axis `axis` into `sizes` (row-major): always a view, whatever that axis's stride. */
export function splitAxis<S extends Storage>(v: View<S>, axis: number, sizes: readonly number[]): View<S> {
  if (sizeOf(sizes) !== v.shape[axis]) throw new Error(`splitAxis: ${fmt(sizes)} does not split axis ${axis} of ${fmt(v.shape)}`);
  const inner = stridesOf(sizes).map((s) => s * v.strides[axis]);
  return {
    data: v.data,
    shape: [...v.shape.slice(0, axis), ...sizes, ...v.shape.slice(axis + 1)],
    strides: [...v.strides.slice(0, axis), ...inner, ...v.strides.slice(axis + 1)],
    offset: v.offset,
  };
}

/** New shape for a contiguous (dense row-major) view. */
export function reshape<S extends Storage>(v: View<S>, shape: readonly number[]): View<S> {
  const want = stridesOf(v.shape);
  if (v.shape.some((d, i) => d > 1 && v.strides[i] !== want[i])) throw new Error(`reshape: view of ${fmt(v.shape)} is not contiguous`);
  if (sizeOf(shape) !== sizeOf(v.shape)) throw new Error(`reshape: ${fmt(v.shape)} cannot become ${fmt(shape)}`);
  return { data: v.data, shape: [...shape], strides: stridesOf(shape), offset: v.offset };
}

/** Inserts a new axis of `size` at position `axis`, with stride 0 (every index sees the same data). */
export function broadcast<S extends Storage>(v: View<S>, axis: number, size: number): View<S> {
  return {
    data: v.data,
    shape: [...v.shape.slice(0, axis), size, ...v.shape.slice(axis)],
    strides: [...v.strides.slice(0, axis), 0, ...v.strides.slice(axis)],
    offset: v.offset,
  };
}

/** The sub-view starting at `starts` with extent `sizes`. */
export function slice<S extends Storage>(v: View<S>, starts: readonly number[], sizes: readonly number[]): View<S> {
  v.shape.forEach((d, i) => {
    if (starts[i] < 0 || sizes[i] < 0 || starts[i] + sizes[i] > d) throw new Error(`slice: ${fmt(starts)} + ${fmt(sizes)} exceeds ${fmt(v.shape)}`);
  });
  return { data: v.data, shape: [...sizes], strides: [...v.strides], offset: v.offset + starts.reduce((o, s, i) => o + s * v.strides[i], 0) };
}

/** The only copying view op: a new dense float64 view, `pads[i] = [before, after]` cells of `fill` around axis i. */
export function pad(v: View, pads: readonly (readonly [number, number])[], fill: number): View<Float64Array> {
  if (pads.length !== v.shape.length || pads.some(([b, a]) => b < 0 || a < 0)) throw new Error(`pad: bad pads for ${fmt(v.shape)}`);
  const out = allocate(v.shape.map((d, i) => d + pads[i][0] + pads[i][1]), fill);
  zip(slice(out, pads.map(([b]) => b), v.shape), v, false);
  return out;
}

/**
 * [N, C, H, W] -> [N, C, OH, OW, kH, kW] without copying: window (oy, ox) starts at
 * (oy * strideH, ox * strideW) of v, and tap (ky, kx) is (ky * dilationH, kx * dilationW) further.
 */
export function windows<S extends Storage>(v: View<S>, g: WindowShape): View<S> {
  if (v.shape.length !== 4) throw new Error(`windows: needs a rank-4 view, got ${fmt(v.shape)}`);
  const [n, c, h, w] = v.shape;
  const [sN, sC, sH, sW] = v.strides;
  const lastRow = (g.outHeight - 1) * g.strideHeight + (g.kernelHeight - 1) * g.dilationHeight;
  const lastCol = (g.outWidth - 1) * g.strideWidth + (g.kernelWidth - 1) * g.dilationWidth;
  if (lastRow >= h || lastCol >= w) throw new Error(`windows: the last window reaches (${lastRow}, ${lastCol}), outside ${fmt(v.shape)}`);
  return {
    data: v.data,
    shape: [n, c, g.outHeight, g.outWidth, g.kernelHeight, g.kernelWidth],
    strides: [sN, sC, sH * g.strideHeight, sW * g.strideWidth, sH * g.dilationHeight, sW * g.dilationWidth],
    offset: v.offset,
  };
}

/**
 * Rows / columns to add past the bottom / right padding so that every window fits: ceil mode may
 * produce windows that overhang the padded input. (In floor mode trailing rows may go unused; then
 * this is 0 and the window view simply never reaches them.)
 */
export function overhang(g: WindowGeometry): [number, number] {
  const h = (g.outHeight - 1) * g.strideHeight + g.effectiveKernelHeight - (g.inHeight + g.padTop + g.padBottom);
  const w = (g.outWidth - 1) * g.strideWidth + g.effectiveKernelWidth - (g.inWidth + g.padLeft + g.padRight);
  return [Math.max(h, 0), Math.max(w, 0)];
}

/** [before, after] pads of an [N, C, H, W] view: the geometry's pads plus any overhang. */
function windowPads(g: WindowGeometry): [number, number][] {
  const [oh, ow] = overhang(g);
  return [[0, 0], [0, 0], [g.padTop, g.padBottom + oh], [g.padLeft, g.padRight + ow]];
}

/** Pads an [N, C, H, W] view with `fill` by the geometry's pads plus any overhang, so windows(result, g) is valid. */
export function padForWindows(v: View, g: WindowGeometry, fill: number): View<Float64Array> {
  return pad(v, windowPads(g), fill);
}

/** Zeros of the shape padForWindows would give an [N, C, H, W] input: the target of gradient scatters. */
export function zerosForWindows(shape: readonly number[], g: WindowGeometry): View<Float64Array> {
  return allocate(windowPads(g).map(([b, a], i) => shape[i] + b + a));
}

/** The [N, C, H, W] input region of a view padded by padForWindows (no copy). */
export function cropPadding<S extends Storage>(v: View<S>, g: WindowGeometry): View<S> {
  return slice(v, [0, 0, g.padTop, g.padLeft], [v.shape[0], v.shape[1], g.inHeight, g.inWidth]);
}

/**
 * Multiplies a and b element by element and sums the trailing `reduceAxes` axes: a dense float64
 * view of the leading axes. Sums run in row-major order of the reduced axes.
 */
export function mulSum(a: View, b: View, reduceAxes: number): View<Float64Array> {
  sameShape('mulSum', a, b);
  const keep = a.shape.length - reduceAxes;
  if (reduceAxes < 0 || keep < 0) throw new Error(`mulSum: cannot reduce ${reduceAxes} axes of ${fmt(a.shape)}`);
  const out = allocate(a.shape.slice(0, keep));
  const o = out.data;
  const A = a.data;
  const B = b.data;
  const it = coalesce(a.shape, a.strides, b.strides, keep);
  const n = it.shape[it.shape.length - 1];
  const ia = it.sa[it.sa.length - 1];
  const ib = it.sb[it.sb.length - 1];
  if (reduceAxes === 0) {
    forEachRow(it, a.offset, b.offset, (pa, pb, row) => {
      for (let j = 0, k = row * n; j < n; j++, k++, pa += ia, pb += ib) o[k] = A[pa] * B[pb];
    });
  } else {
    const rowsPerOutput = sizeOf(a.shape.slice(keep)) / n;
    forEachRow(it, a.offset, b.offset, (pa, pb, row) => {
      const k = Math.floor(row / rowsPerOutput);
      let s = o[k];
      for (let j = 0; j < n; j++, pa += ia, pb += ib) s += A[pa] * B[pb];
      o[k] = s;
    });
  }
  return out;
}

/**
 * target[i] += src[i] for every index i, one element at a time in row-major order, so where the
 * target view overlaps itself (windows sharing taps) every contribution is added.
 */
export function scatterAdd(target: View, src: View): void {
  zip(target, src, true);
}

/** A dense float32 copy of any view. */
export function toTensor(v: View): Tensor {
  const out = { shape: [...v.shape], data: new Float32Array(sizeOf(v.shape)) };
  zip(dense(out), v, false);
  return out;
}

function sameShape(op: string, a: View, b: View): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ`);
  }
}

/** target = src (add false) or target += src (add true), element by element. */
function zip(target: View, src: View, add: boolean): void {
  sameShape(add ? 'scatterAdd' : 'copy', target, src);
  const T = target.data;
  const S = src.data;
  const it = coalesce(target.shape, target.strides, src.strides, target.shape.length);
  const n = it.shape[it.shape.length - 1];
  const it0 = it.sa[it.sa.length - 1];
  const is0 = it.sb[it.sb.length - 1];
  forEachRow(it, target.offset, src.offset, add
    ? (pt, ps) => { for (let j = 0; j < n; j++, pt += it0, ps += is0) T[pt] += S[ps]; }
    : (pt, ps) => { for (let j = 0; j < n; j++, pt += it0, ps += is0) T[pt] = S[ps]; });
}

interface Iteration { shape: number[]; sa: number[]; sb: number[] }

/**
 * The same iteration (same element order, same offsets) over fewer, longer axes: drops size-1 axes
 * and merges neighbours that are contiguous in both operands. Axes before `barrier` never merge with
 * axes from it on, and when there are axes from `barrier` on, the innermost axis is one of them.
 */
function coalesce(shape: readonly number[], sa: readonly number[], sb: readonly number[], barrier: number): Iteration {
  const out: Iteration & { side: boolean[] } = { shape: [], sa: [], sb: [], side: [] };
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const last = out.shape.length - 1;
    const side = i >= barrier;
    if (last >= 0 && out.side[last] === side && out.sa[last] === sa[i] * shape[i] && out.sb[last] === sb[i] * shape[i]) {
      out.shape[last] *= shape[i];
      out.sa[last] = sa[i];
      out.sb[last] = sb[i];
    } else {
      out.shape.push(shape[i]); out.sa.push(sa[i]); out.sb.push(sb[i]); out.side.push(side);
    }
  }
  if (out.shape.length === 0 || (barrier < shape.length && !out.side[out.side.length - 1])) {
    out.shape.push(1); out.sa.push(0); out.sb.push(0);
  }
  return { shape: out.shape, sa: out.sa, sb: out.sb };
}

/**
 * Odometer over all axes but the innermost: body(startA, startB, row) once per innermost row, rows
 * numbered in row-major order. The body runs the tight strided loop along the innermost axis.
 */
function forEachRow(it: Iteration, offsetA: number, offsetB: number, body: (pa: number, pb: number, row: number) => void): void {
  const { shape, sa, sb } = it;
  if (shape.some((d) => d === 0)) return;
  const outer = shape.length - 1;
  const idx = new Array<number>(outer).fill(0);
  let pa = offsetA;
  let pb = offsetB;
  for (let row = 0; ; row++) {
    body(pa, pb, row);
    let d = outer - 1;
    for (; d >= 0; d--) {
      pa += sa[d];
      pb += sb[d];
      if (++idx[d] < shape[d]) break;
      pa -= sa[d] * shape[d];
      pb -= sb[d] * shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

/** Calls body(offset, k) for the k-th element (row-major) of the leading rank - `trailing` axes of v. */
export function forEachOuter(v: View, trailing: number, body: (offset: number, k: number) => void): void {
  const shape = [...v.shape.slice(0, v.shape.length - trailing), 1];
  const strides = [...v.strides.slice(0, v.shape.length - trailing), 0];
  forEachRow({ shape, sa: strides, sb: strides }, v.offset, v.offset, (p, _q, k) => body(p, k));
}
