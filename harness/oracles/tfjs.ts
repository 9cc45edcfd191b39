// TensorFlow.js oracles: one per backend present on this machine: 'tfjs-node' (native TensorFlow,
// only when the optional @tensorflow/tfjs-node loads), 'tfjs-wasm' (XNNPACK) and 'tfjs-cpu' (plain
// JS). All share the tfjs-core engine singleton, so the work of every prepare(), call() and
// release() runs in one queue, with its own backend made active first: the benchmark interleaves
// calls of different backends, and may even overlap them.
//
// TF.js computes in NHWC with HWIO filters; tensors are converted here, once, in prepare().
// Backward calls the backprop kernels directly (conv2dTranspose = Conv2DBackpropInput,
// Conv2DBackpropFilter, the depthwise pair, MaxPoolGrad, AvgPoolGrad), which is what tf.grad would
// run: in Node tf.grad has no gradients to run (tfjs-core's gradient registry is filled only by
// the @tensorflow/tfjs union package, and tfjs-core's own ESM gradient modules do not load in Node).
//
// What each backend cannot do, or does differently from our semantics, is declared by
// `unsupported` and verified one by one in tfjs.test.ts.
import type * as TF from '@tensorflow/tfjs-core';
import type { Case, ConvCase, PoolCase } from '../cases/load.ts';
import { packageVersion } from '../environment.ts';
import { conv2dGeometry, type Conv2dGeometry, pool2dGeometry, type Pool2dGeometry } from '../geometry.ts';
import type { Computation, Outputs, Prepared } from '../invoke.ts';
import { hwioToOihw, nchwToNhwc, nhwcToNchw, oihwToHwio } from '../layout.ts';
import type { Tensor } from '../tensor.ts';
import type { AbsentOracle, Oracle } from './oracle.ts';

type Tf = typeof TF;
type T4 = TF.Tensor4D;
/** TF.js backend names, as tf.setBackend knows them. */
export type TfjsBackend = 'tensorflow' | 'wasm' | 'cpu';
type Explicit = [[number, number], [number, number], [number, number], [number, number]];
type Pad = 'valid' | 'same' | Explicit;

/** Oracle (report row) name of each backend. */
export const TFJS_ORACLE_NAMES: Record<TfjsBackend, string> = { tensorflow: 'tfjs-node', wasm: 'tfjs-wasm', cpu: 'tfjs-cpu' };

/**
 * Conv backward on the cpu backend is n/a above this many forward multiply-adds. Its
 * Conv2DBackpropFilter (and the depthwise one) reads every element through a TensorBuffer and runs
 * at ~4-6 M MACs/s (measured, Node 20 on a 2-core x86 VM: [2,16,32,32] x [32,16,3,3] = 9.4 M MACs
 * took 1.8 s for dw alone, a ResNet [1,64,56,56] x [64,64,3,3] layer = 116 M MACs 25 s; its dx and
 * forward run at ~300 M MACs/s). 2 M MACs keeps one backward call under ~0.4 s.
 */
export const CPU_BACKWARD_MAC_LIMIT = 2_000_000;

/**
 * XNNPACK's operators refuse zero channels (xnn_create_* fails with an invalid-parameter status,
 * printed to stderr) and write nothing; where that output is empty anyway, TF.js's result is right
 * by accident, but the engine did not run it.
 */
const XNNPACK_NO_CHANNELS = 'XNNPACK refuses zero channels (its operator is never created; the output is empty, so nothing is computed)';

/** The smallest normal float32: the wasm MaxPoolGrad starts its maximum search here, not at -inf. */
const FLT_MIN = 2 ** -126;

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();

const ones = (a: number, b: number) => a === 1 && b === 1;
const zeroPads = (g: Conv2dGeometry | Pool2dGeometry) => g.padTop === 0 && g.padBottom === 0 && g.padLeft === 0 && g.padRight === 0;
const explicitOf = (g: Conv2dGeometry | Pool2dGeometry): Explicit => [[0, 0], [g.padTop, g.padBottom], [g.padLeft, g.padRight], [0, 0]];
const sameResolution = (a: Conv2dGeometry | Pool2dGeometry, b: Conv2dGeometry | Pool2dGeometry) =>
  a.padTop === b.padTop && a.padBottom === b.padBottom && a.padLeft === b.padLeft && a.padRight === b.padRight &&
  a.outHeight === b.outHeight && a.outWidth === b.outWidth;
const isDepthwise = (g: Conv2dGeometry) => g.groups > 1 && g.groups === g.inChannels;

/** TF.js 'same' is our SAME_UPPER (the odd pad goes last); geometry.ts resolves it, never this file. */
function convIsSame(c: ConvCase): boolean {
  const g = c.geometry;
  return sameResolution(g, conv2dGeometry(c.x.shape, c.w.shape, {
    strides: [g.strideHeight, g.strideWidth], dilations: [g.dilationHeight, g.dilationWidth], padding: 'SAME_UPPER', groups: g.groups,
  }));
}

function poolGeometryWith(c: PoolCase, padding: 'SAME_UPPER' | 'resolved'): Pool2dGeometry | undefined {
  const g = c.geometry;
  try {
    return pool2dGeometry(c.x.shape, {
      kernel: [g.kernelHeight, g.kernelWidth], strides: [g.strideHeight, g.strideWidth], dilations: [g.dilationHeight, g.dilationWidth],
      padding: padding === 'SAME_UPPER' ? 'SAME_UPPER' : [g.padTop, g.padLeft, g.padBottom, g.padRight],
      ceilMode: false, countIncludePad: g.countIncludePad, propagateNan: g.propagateNan,
    });
  } catch {
    return undefined;
  }
}

function poolIsSame(c: PoolCase): boolean {
  const same = poolGeometryWith(c, 'SAME_UPPER');
  return same !== undefined && sameResolution(c.geometry, same);
}

/** Ceil mode that matters: the case's output is larger than floor rounding of the same padding gives. */
function poolNeedsCeil(c: PoolCase): boolean {
  const floor = poolGeometryWith(c, 'resolved');
  return floor === undefined || floor.outHeight !== c.geometry.outHeight || floor.outWidth !== c.geometry.outWidth;
}

function padOf(g: Conv2dGeometry | Pool2dGeometry, same: boolean): Pad {
  return zeroPads(g) ? 'valid' : same ? 'same' : explicitOf(g);
}

/**
 * Whether the wasm conv kernels mispad this case: TF.js passes 'same' to XNNPACK as its TensorFlow
 * SAME flag, and XNNPACK recomputes each axis's total, (out - 1) * stride + effective kernel - in,
 * in unsigned arithmetic without clamping a negative total at 0 (geometry.ts clamps it). Only
 * where padOf gives 'same' (some pad nonzero: never for a 1x1 kernel), and an axis's total is < 0.
 * Measured: the whole output is zeros.
 */
function wasmSameTotalNegative(c: ConvCase): boolean {
  const g = c.geometry;
  if (padOf(g, convIsSame(c)) !== 'same') return false;
  return (g.outHeight - 1) * g.strideHeight + g.effectiveKernelHeight - g.inHeight < 0 ||
    (g.outWidth - 1) * g.strideWidth + g.effectiveKernelWidth - g.inWidth < 0;
}

/** What the max-pool windows of a case hold, for the data-dependent declarations. */
interface MaxWindows {
  /** Some window holds a NaN. */
  nan: boolean;
  /** Some window holds only NaN. */
  allNan: boolean;
  /** Some window's largest non-NaN value is -inf, or it has none. */
  noMax: boolean;
  /**
   * Some window's largest non-NaN value (or none) is below FLT_MIN, and its gradient belongs
   * elsewhere than x's element 0: the wasm MaxPoolGrad starts its search at (FLT_MIN, element 0),
   * so such a window's gradient goes to element 0 when the window covers it, else nowhere.
   */
  wasmMisroutes: boolean;
  /** Some window's maximum, at least FLT_MIN, occurs more than once. */
  tie: boolean;
}

const windowCache = new WeakMap<PoolCase, MaxWindows>();

function maxWindows(c: PoolCase): MaxWindows {
  const cached = windowCache.get(c);
  if (cached) return cached;
  const g = c.geometry;
  const s: MaxWindows = { nan: false, allNan: false, noMax: false, wasmMisroutes: false, tie: false };
  const plane = g.inHeight * g.inWidth;
  for (let p = 0; p < g.batch * g.channels; p++) {
    for (let oy = 0; oy < g.outHeight; oy++) {
      for (let ox = 0; ox < g.outWidth; ox++) {
        // `first`: offset of the first largest non-NaN tap; `firstTap`: of the first tap.
        let max = Number.NEGATIVE_INFINITY, first = -1, count = 0, nans = 0, firstTap = -1;
        for (let ky = 0; ky < g.kernelHeight; ky++) {
          const y = oy * g.strideHeight - g.padTop + ky * g.dilationHeight;
          if (y < 0 || y >= g.inHeight) continue;
          for (let kx = 0; kx < g.kernelWidth; kx++) {
            const x = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth;
            if (x < 0 || x >= g.inWidth) continue;
            const i = p * plane + y * g.inWidth + x;
            const v = c.x.data[i];
            if (firstTap < 0) firstTap = i;
            if (Number.isNaN(v)) nans++;
            else if (first < 0 || v > max) { max = v; first = i; count = 1; } else if (v === max) count++;
          }
        }
        if (nans > 0) s.nan = true;
        if (first < 0) s.allNan = true;
        if (max === Number.NEGATIVE_INFINITY) s.noMax = true;
        // Where reference64 sends the gradient when NaN does not propagate (else NaN rules apply).
        const target = first >= 0 ? first : firstTap;
        if (max < FLT_MIN && target !== 0) s.wasmMisroutes = true;
        if (max >= FLT_MIN && count > 1) s.tie = true;
      }
    }
  }
  windowCache.set(c, s);
  return s;
}

/**
 * Why TF.js cannot express this case on `backend` at all, or undefined: prepare() throws with it.
 * Semantic differences (NaN, count_include_pad, gradient routing) are not here: prepare() runs
 * those, so the semantics probe can see what the engine does.
 */
function inexpressible(backend: TfjsBackend, c: Case, computation: Computation): string | undefined {
  // tf.maxPoolWithArgmax exists, but gives NHWC offsets (not ONNX's NCHW storage orders), has no
  // padding choice beyond 'valid'/'same' and is not on every backend: not used.
  if (computation === 'indices') return 'not adapted: TF.js\'s maxPoolWithArgmax gives NHWC offsets, not ONNX\'s max-pool indices';
  if (c.op === 'conv2d') {
    const g = c.geometry;
    const dilated = !ones(g.dilationHeight, g.dilationWidth);
    // conv2d asserts it in the op, the cpu depthwise kernel in the kernel (TensorFlow's depthwise
    // op documents the same rule); the wasm depthwise kernel (XNNPACK) runs it, and agrees with
    // reference64.
    if (dilated && !ones(g.strideHeight, g.strideWidth) && !(isDepthwise(g) && backend === 'wasm')) {
      return 'TF.js rejects stride > 1 together with dilation > 1';
    }
    if (computation === 'backward') {
      if (backend === 'wasm') {
        return isDepthwise(g) ? 'the wasm backend has no depthwise gradient kernels (DepthwiseConv2dNativeBackpropInput/Filter)'
          : 'the wasm backend has no filter-gradient kernel (Conv2DBackpropFilter)';
      }
      if (dilated) return 'TF.js has no gradient for dilated convolution';
    }
    return undefined;
  }
  const g = c.geometry;
  if (!ones(g.dilationHeight, g.dilationWidth)) return 'TF.js pools have no dilation';
  const ceil = poolNeedsCeil(c);
  if (backend === 'tensorflow') {
    if (ceil) return "the tensorflow backend's pools have no ceil mode";
    if (!zeroPads(g) && !poolIsSame(c)) return "the tensorflow backend's pools take only 'valid' or 'same' padding";
  }
  // Ceil mode: the cpu kernels honour dimRoundingMode 'ceil' (MaxPool, AvgPool, MaxPoolGrad), and
  // size the output as we do whenever ours exceeds floor's (our rule that no window starts in the
  // end padding only ever removes a window that makes ceil equal floor, pads being smaller than
  // the kernel). The wasm kernels pass the ceil-sized output to XNNPACK, which fills it in floor
  // mode; AvgPoolGrad takes no rounding mode on any backend.
  if (ceil && backend === 'wasm') return "the wasm backend's pools have no ceil mode (they ignore dimRoundingMode 'ceil')";
  if (ceil && computation === 'backward' && c.op === 'avgpool2d') {
    return "TF.js's average-pool gradient has no ceil mode (AvgPoolGrad takes no dimRoundingMode)";
  }
  return undefined;
}

/** Whether tap k of some output along one axis reads padding (the extremes decide: i grows with o). */
function tapReadsPadding(k: number, outSize: number, stride: number, pad: number, dilation: number, size: number): boolean {
  const first = -pad + k * dilation;
  return first < 0 || first + (outSize - 1) * stride >= size;
}

/** Whether the window of output o along one axis has a tap in padding (the extremes decide: i grows with k). */
function windowReadsPadding(o: number, kernel: number, stride: number, pad: number, dilation: number, size: number): boolean {
  const first = o * stride - pad;
  return first < 0 || first + (kernel - 1) * dilation >= size;
}

const paddingCache = new WeakMap<ConvCase, { forward: boolean; backward: boolean }>();

/**
 * Whether a non-finite value meets padding where our rule (padding takes part: 0 * w in y, 0 * dy
 * in dw) makes NaN: forward, a +-inf/NaN weight at a tap that some window reads in padding;
 * backward, a +-inf/NaN dy at an output whose window has a tap in padding (dx has no padding taps).
 */
function nonFiniteMeetsPadding(c: ConvCase): { forward: boolean; backward: boolean } {
  const cached = paddingCache.get(c);
  if (cached) return cached;
  const g = c.geometry;
  let forward = false, backward = false;
  const taps = g.kernelHeight * g.kernelWidth;
  for (let i = 0; i < c.w.data.length && !forward; i++) {
    if (Number.isFinite(c.w.data[i])) continue;
    const t = i % taps, ky = Math.floor(t / g.kernelWidth), kx = t % g.kernelWidth; // OIHW
    forward = tapReadsPadding(ky, g.outHeight, g.strideHeight, g.padTop, g.dilationHeight, g.inHeight) ||
      tapReadsPadding(kx, g.outWidth, g.strideWidth, g.padLeft, g.dilationWidth, g.inWidth);
  }
  const positions = g.outHeight * g.outWidth;
  for (let i = 0; i < c.dy.data.length && !backward; i++) {
    if (Number.isFinite(c.dy.data[i])) continue;
    const p = i % positions, oy = Math.floor(p / g.outWidth), ox = p % g.outWidth; // NCHW
    backward = windowReadsPadding(oy, g.kernelHeight, g.strideHeight, g.padTop, g.dilationHeight, g.inHeight) ||
      windowReadsPadding(ox, g.kernelWidth, g.strideWidth, g.padLeft, g.dilationWidth, g.inWidth);
  }
  const found = { forward, backward };
  paddingCache.set(c, found);
  return found;
}

function unsupportedOn(backend: TfjsBackend, c: Case, computation: Computation): string | undefined {
  const cannot = inexpressible(backend, c, computation);
  if (cannot) return cannot;
  if (c.op === 'conv2d') {
    const macs = c.geometry.forwardFlops / 2;
    if (computation === 'backward' && backend === 'cpu' && macs > CPU_BACKWARD_MAC_LIMIT) {
      return `too slow: ${macs} MACs > ${CPU_BACKWARD_MAC_LIMIT} (the cpu filter gradient runs at ~5 M MACs/s)`;
    }
    // XNNPACK's xnn_create_convolution2d_nhwc_f32 refuses 0 input or output channels (invalid
    // parameter, printed to stderr). With no input channels TF.js returns the y it never wrote
    // (measured: stale values, infinities); with no output channels y is empty anyway.
    if (backend === 'wasm' && computation === 'forward' && c.geometry.inChannels === 0) {
      return 'XNNPACK refuses a convolution with no input channels, and TF.js returns y uninitialised instead of the bias';
    }
    if (backend === 'wasm' && computation === 'forward' && c.geometry.outChannels === 0) return XNNPACK_NO_CHANNELS;
    if (backend === 'wasm' && computation === 'forward' && wasmSameTotalNegative(c)) {
      return "gives zeros when an axis's SAME padding total is negative (XNNPACK does not clamp it at 0)";
    }
    // The cpu conv kernels (forward, Conv2DBackpropFilter, the depthwise ones) loop over in-bounds
    // taps only; the wasm forward (XNNPACK) multiplies padding zeros, as we do.
    if (backend === 'cpu' && computation !== 'indices' && nonFiniteMeetsPadding(c)[computation]) {
      return computation === 'forward' ? 'skips padding taps, so a non-finite weight meeting padding stays finite'
        : 'skips padding taps, so a non-finite dy meeting padding leaves dw finite';
    }
    return undefined;
  }
  const g = c.geometry;
  // XNNPACK's pooling operators refuse 0 channels (the max-pool gradient runs the forward too).
  if (backend === 'wasm' && g.channels === 0 && (computation === 'forward' || c.op === 'maxpool2d')) return XNNPACK_NO_CHANNELS;
  if (c.op === 'avgpool2d') {
    if (backend === 'wasm' && computation === 'forward' && c.x.data.some(Number.isNaN)) return 'turns a NaN in an average-pool window into -inf';
    if (zeroPads(g)) return undefined;
    // The cpu and wasm AvgPoolGrad divide every window by kernelHeight * kernelWidth: that is
    // count_include_pad (floor-mode windows never leave the padded input), unlike their forward.
    const gradCountsPadding = computation === 'backward' && backend !== 'tensorflow';
    if (g.countIncludePad && !gradCountsPadding) return 'averages always exclude padding';
    if (!g.countIncludePad && gradCountsPadding) return 'its average-pool gradient divides by the whole window, padding included (its forward excludes it)';
    return undefined;
  }
  const w = maxWindows(c);
  if (backend === 'wasm' && computation === 'forward' && w.nan) return 'mishandles NaN in max-pool windows (the result depends on where the NaN is)';
  if (g.propagateNan && w.nan) return 'ignores NaN in max-pool windows';
  if (backend === 'cpu') {
    if (computation === 'forward' && w.allNan) return 'gives -inf for an all-NaN max-pool window';
    if (computation === 'backward' && w.noMax) return 'drops the gradient of a max-pool window whose maximum is -inf (or that is all NaN)';
  }
  if (backend === 'wasm' && computation === 'backward') {
    if (w.wasmMisroutes) return 'misroutes the gradient of a max-pool window whose maximum is below FLT_MIN (its search starts at FLT_MIN, not -inf)';
    if (w.tie) return 'sends a max-pool gradient to the last of tied maxima, not the first';
  }
  return undefined;
}

/** Raw result of a call: NHWC activations / HWIO weights / [O] bias gradients, as TF.js returned them. */
type Raw = Tensor[];

function isRaw(v: unknown): v is Raw {
  return Array.isArray(v) && v.every((t: unknown) =>
    typeof t === 'object' && t !== null && 'data' in t && t.data instanceof Float32Array && 'shape' in t && Array.isArray(t.shape));
}

/** The tail of the queue of engine work: one oracle's work at a time, whatever the callers interleave. */
let engineQueue: Promise<unknown> = Promise.resolve();

/**
 * Runs `work` with `backend` active and no other TF.js oracle's work in between. Without the queue,
 * two calls awaiting tf.setBackend for different backends would switch the engine back and forth
 * (each resumes to find the other's backend active) or run on the wrong one.
 */
function onBackend<T>(tf: Tf, backend: TfjsBackend, work: () => T): Promise<T> {
  const run = engineQueue.then(async () => {
    if (tf.getBackend() !== backend) await tf.setBackend(backend);
    if (tf.getBackend() !== backend) throw new Error(`TF.js could not activate its ${backend} backend`);
    return work();
  });
  engineQueue = run.catch(() => undefined);
  return run;
}

function download(t: TF.Tensor): Tensor {
  // An empty tensor holds no values, whatever their container: the cpu backend's concat gives a
  // plain [] for a zero-size result.
  if (t.size === 0) return { shape: [...t.shape], data: new Float32Array(0) };
  const data = t.dataSync();
  if (!(data instanceof Float32Array)) throw new Error(`TF.js returned ${t.dtype} data, expected float32`);
  return { shape: [...t.shape], data };
}

class TfjsOracle implements Oracle {
  readonly name: string;
  /** Input tensors of every prepared call, disposed by release(). */
  private readonly held = new Set<TF.Tensor>();

  constructor(private readonly tf: Tf, private readonly backend: TfjsBackend, readonly versions: Record<string, string>, readonly threads: number) {
    this.name = TFJS_ORACLE_NAMES[backend];
  }

  unsupported(c: Case, computation: Computation): string | undefined {
    return unsupportedOn(this.backend, c, computation);
  }

  async prepare(c: Case, computation: Computation): Promise<Prepared> {
    const why = inexpressible(this.backend, c, computation);
    if (why) throw new Error(`${this.name} cannot run "${c.id}" ${computation}: ${why}`);
    const { tf, backend, name } = this;
    const run = await onBackend(tf, backend, () => (c.op === 'conv2d' ? this.conv(c, computation) : this.pool(c, computation)));
    return {
      call: () => onBackend(tf, backend, () => {
        const outs = tf.tidy(run);
        try {
          return outs.map(download);
        } finally {
          for (const t of outs) t.dispose();
        }
      }),
      collect: (raw: unknown): Outputs => {
        if (!isRaw(raw)) throw new Error(`${name}: a call result is not a list of float32 tensors`);
        if (computation === 'forward') return { y: nhwcToNchw(raw[0]) };
        if (c.op !== 'conv2d') return { dx: nhwcToNchw(raw[0]) };
        return { dx: nhwcToNchw(raw[0]), dw: hwioToOihw(raw[1]), db: raw[2] };
      },
    };
  }

  async release(): Promise<void> {
    // Queued too: a call still in the queue may need these tensors.
    await onBackend(this.tf, this.backend, () => {
      for (const t of this.held) t.dispose();
      this.held.clear();
    });
  }

  private keep<T extends TF.Tensor>(t: T): T {
    this.held.add(t);
    return t;
  }

  private t4(t: Tensor): T4 {
    const [a, b, c, d] = t.shape;
    return this.keep(this.tf.tensor4d(t.data, [a, b, c, d], 'float32'));
  }

  /** The work of one conv call, for tf.tidy: [y] or [dx, dw, db], NHWC / HWIO. */
  private conv(c: ConvCase, computation: Computation): () => TF.Tensor[] {
    const { tf } = this;
    const g = c.geometry;
    const strides: [number, number] = [g.strideHeight, g.strideWidth];
    const dilations: [number, number] = [g.dilationHeight, g.dilationWidth];
    const [kH, kW] = [g.kernelHeight, g.kernelWidth];
    const wHwio = oihwToHwio(c.w);
    let pad = padOf(g, convIsSame(c));
    let x = this.t4(nchwToNhwc(c.x));
    // The tensorflow backend's backprop kernels take only VALID / SAME padding: other padding is
    // applied to x here (zeros, as the convolution pads), and dx is cut back out of the padded dx.
    const prePad = computation === 'backward' && this.backend === 'tensorflow' && Array.isArray(pad) ? pad : undefined;
    if (prePad) {
      x = this.keep(tf.pad(x, prePad));
      pad = 'valid';
    }
    const cut = (dx: T4): T4 => (prePad ? tf.slice(dx, [0, g.padTop, g.padLeft, 0], [g.batch, g.inHeight, g.inWidth, g.inChannels]) : dx);
    const bias = computation === 'forward' && c.bias ? this.keep(tf.tensor1d(Float32Array.from(c.bias.data), 'float32')) : undefined;
    const withBias = (y: T4): T4 => (bias ? tf.add(y, bias) : y);

    if (isDepthwise(g)) {
      // TF.js's depthwise filter is [kH, kW, C, multiplier]; its output channel c * multiplier + j
      // is our channel c * (O / C) + j, so HWIO [kH, kW, 1, O] reshapes to it as it is.
      const mult = g.outChannels / g.inChannels;
      const filterShape: [number, number, number, number] = [kH, kW, g.inChannels, mult];
      const w = this.t4({ shape: filterShape, data: wHwio.data });
      if (computation === 'forward') return () => [withBias(tf.depthwiseConv2d(x, w, strides, pad, 'NHWC', dilations))];
      const dy = this.t4(nchwToNhwc(c.dy));
      const attrs = { strides, dilations: [1, 1], pad };
      return () => {
        const dx = tf.engine().runKernel<T4>(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter: w }, { ...attrs, inputShape: [...x.shape] });
        const dw = tf.engine().runKernel<T4>(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...attrs, filterShape });
        return [cut(dx), tf.reshape(dw, [kH, kW, 1, g.outChannels]), tf.sum(dy, [0, 1, 2])];
      };
    }

    // TF.js has no grouped conv2d (1 < groups < channels): it is composed from one conv2d per
    // group on channel slices (sliced once, here), concatenated along channels.
    const groups = g.groups;
    const split = (t: T4): T4[] => (groups === 1 ? [t] : tf.split<T4>(t, groups, 3).map((s) => this.keep(s)));
    const concat = (parts: T4[]): T4 => (parts.length === 1 ? parts[0] : tf.concat<T4>(parts, 3));
    const xs = split(x);
    const ws = split(this.t4(wHwio));
    if (computation === 'forward') return () => [withBias(concat(xs.map((xg, i) => tf.conv2d(xg, ws[i], strides, pad, 'NHWC', dilations))))];
    const dyAll = this.t4(nchwToNhwc(c.dy));
    const dys = split(dyAll);
    const xgShape: [number, number, number, number] = [x.shape[0], x.shape[1], x.shape[2], g.inChannels / groups];
    const filterShape = [kH, kW, g.inChannels / groups, g.outChannels / groups];
    return () => {
      const dx = concat(dys.map((dyg, i) => tf.conv2dTranspose(dyg, ws[i], xgShape, strides, pad)));
      const dw = concat(dys.map((dyg, i) =>
        tf.engine().runKernel<T4>(tf.Conv2DBackpropFilter, { x: xs[i], dy: dyg }, { strides, pad, dataFormat: 'NHWC', filterShape })));
      return [cut(dx), dw, tf.sum(dyAll, [0, 1, 2])];
    };
  }

  /** The work of one pool call: [y] or [dx], NHWC. */
  private pool(c: PoolCase, computation: Computation): () => TF.Tensor[] {
    const { tf } = this;
    const g = c.geometry;
    const filterSize: [number, number] = [g.kernelHeight, g.kernelWidth];
    const strides: [number, number] = [g.strideHeight, g.strideWidth];
    // Ceil mode (reaches here on the cpu backend only): dimRoundingMode 'ceil', which TF.js takes
    // with numeric padding only.
    const rounding = poolNeedsCeil(c) ? 'ceil' : undefined;
    const pad: Pad = rounding ? explicitOf(g) : padOf(g, poolIsSame(c));
    const x = this.t4(nchwToNhwc(c.x));
    const forward = (): T4 => c.op === 'maxpool2d'
      ? tf.maxPool(x, filterSize, strides, pad, rounding)
      : tf.avgPool(x, filterSize, strides, pad, rounding);
    if (computation === 'forward') return () => [forward()];
    const dy = this.t4(nchwToNhwc(c.dy));
    const attrs: TF.NamedAttrMap = rounding ? { filterSize, strides, pad, dimRoundingMode: rounding } : { filterSize, strides, pad };
    if (c.op === 'maxpool2d') {
      // MaxPoolGrad takes the forward output too (the cpu and wasm kernels recompute the argmax
      // from x; TensorFlow uses it): the forward pass is part of the work, as under tf.grad.
      return () => [tf.engine().runKernel<T4>(tf.MaxPoolGrad, { dy, input: x, output: forward() }, attrs)];
    }
    return () => [tf.engine().runKernel<T4>(tf.AvgPoolGrad, { dy, input: x }, attrs)];
  }
}

/** The TF.js oracles that load here, and for each one that does not, why. */
export async function loadTfjsOracles(): Promise<{ oracles: Oracle[]; absent: AbsentOracle[] }> {
  const oracles: Oracle[] = [];
  const absent: AbsentOracle[] = [];
  let tf: Tf;
  try {
    tf = await import('@tensorflow/tfjs-core');
  } catch (e) {
    const reason = `@tensorflow/tfjs-core does not load: ${firstLine(e)}`;
    return { oracles, absent: Object.values(TFJS_ORACLE_NAMES).map((name) => ({ name, reason })) };
  }
  // Prod mode only silences TF.js's console advice ("install tfjs-node to speed things up", ...).
  tf.enableProdMode();
  const versionsOf = (backend: TfjsBackend, pkg: string): Record<string, string> => ({
    '@tensorflow/tfjs-core': packageVersion('@tensorflow/tfjs-core') ?? tf.version_core,
    [pkg]: packageVersion(pkg) ?? 'unknown',
    backend,
  });

  // tfjs-node is optional, so never a type dependency: imported by a name TypeScript does not resolve.
  const nodePkg = '@tensorflow/tfjs-node';
  try {
    const mod: unknown = await import(nodePkg);
    await onBackend(tf, 'tensorflow', () => undefined);
    const versions = versionsOf('tensorflow', nodePkg);
    const listed = typeof mod === 'object' && mod !== null && 'version' in mod ? mod.version : undefined;
    if (typeof listed === 'object' && listed !== null) {
      for (const [k, v] of Object.entries(listed)) if (typeof v === 'string' && !(k in versions)) versions[k] = v;
    }
    // TensorFlow sizes its own intra-op thread pool (one thread per core by default): 0 = engine default.
    oracles.push(new TfjsOracle(tf, 'tensorflow', versions, 0));
  } catch (e) {
    const msg = firstLine(e);
    absent.push({
      name: TFJS_ORACLE_NAMES.tensorflow,
      reason: /Cannot find (package|module) '@tensorflow\/tfjs-node'/.test(msg)
        ? '@tensorflow/tfjs-node is not installed (optional dependency: its install downloads libtensorflow)'
        : `@tensorflow/tfjs-node does not load: ${msg}`,
    });
  }

  try {
    // In Node the wasm backend loads its .wasm files from beside its own bundle (dist/), from
    // disk: no setWasmPaths needed. Its threaded build needs workers, so Node gets 1 thread.
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    await onBackend(tf, 'wasm', () => undefined);
    const versions = versionsOf('wasm', '@tensorflow/tfjs-backend-wasm');
    versions.simd = String(tf.env().getBool('WASM_HAS_SIMD_SUPPORT'));
    oracles.push(new TfjsOracle(tf, 'wasm', versions, wasm.getThreadsCount()));
  } catch (e) {
    absent.push({ name: TFJS_ORACLE_NAMES.wasm, reason: `@tensorflow/tfjs-backend-wasm does not load: ${firstLine(e)}` });
  }

  try {
    await import('@tensorflow/tfjs-backend-cpu');
    await onBackend(tf, 'cpu', () => undefined);
    oracles.push(new TfjsOracle(tf, 'cpu', versionsOf('cpu', '@tensorflow/tfjs-backend-cpu'), 1));
  } catch (e) {
    absent.push({ name: TFJS_ORACLE_NAMES.cpu, reason: `@tensorflow/tfjs-backend-cpu does not load: ${firstLine(e)}` });
  }
  return { oracles, absent };
}
