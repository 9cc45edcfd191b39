// The fast conv: picks a kernel per geometry and splits it across both cores when that pays.
//   depthwise (groups = input channels)            -> direct loops (depthwise.ts; with SIMD and
//                                                     stride-1 columns, asm/depthwise.as)
//   with WebAssembly SIMD (wasm.ts), everything else -> im2col + the float32 SIMD GEMM (conv-gemm.ts);
//     measured 5-10x faster than Winograd's scalar float64 GEMM on the 3x3 stride-1 bench case
//   without it:
//   3x3, stride 1, undilated, ungrouped, finite    -> Winograd F(4x4, 3x3) in float64 (winograd.ts);
//     backward too: dx as the Winograd conv of dy with the flipped filter, dw in the Winograd domain
//   anything else                                  -> im2col + packed GEMM (conv-gemm.ts)
// When threaded, inputs are copied into shared memory and outputs copied out of it; nothing is
// cached between calls except scratch space.
import { type Conv2dGeometry, convOutputShape } from '../../harness/geometry.ts';
import type { ConvGradients } from '../../harness/implementation.ts';
import type { Tensor } from '../../harness/tensor.ts';
import { type Job, runJob } from './conv-jobs.ts';
import { helperLoaded, runShared, THREADS, worthThreads } from './threads.ts';
import { simd } from './wasm.ts';
import { filtersFromGrad, tilesOf, transformedLength, transformFilters, type WinogradPlan } from './winograd.ts';

export { THREADS };

/** Bump allocator over one growing buffer, reset per call; shared when a helper thread reads it. */
class Arena {
  private buffer: ArrayBufferLike = new ArrayBuffer(0);
  private used = 0;
  constructor(private readonly shared: boolean) {}
  reset(): void { this.used = 0; }
  private take(bytes: number): [ArrayBufferLike, number] {
    const at = Math.ceil(this.used / 8) * 8;
    if (at + bytes > this.buffer.byteLength) {
      // Views already handed out keep the old buffer alive; later calls get one big enough for all.
      const size = Math.max(2 * this.buffer.byteLength, at + bytes);
      this.buffer = this.shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size);
      this.used = 0;
      return this.take(bytes);
    }
    this.used = at + bytes;
    return [this.buffer, at];
  }
  f32(n: number): Float32Array { const [b, at] = this.take(4 * n); return new Float32Array(b, at, n); }
  f64(n: number): Float64Array { const [b, at] = this.take(8 * n); return new Float64Array(b, at, n); }
  copy(data: Float32Array): Float32Array { const v = this.f32(data.length); v.set(data); return v; }
}

// The helper thread starts with this module, not at the first call that wants it: it takes 0.1 s
// or more to load, and the calls made meanwhile ran on one thread at half speed while it competed
// for the other core (measured in the kernel host: 28-38 ms against 11-14 ms threaded once loaded).
helperLoaded();

const sharedArena = new Arena(true);
const localArena = new Arena(false);

/**
 * Whether threads pay is measured, per geometry and direction: the first calls alternate between
 * one thread and two (once the helper has loaded), then whichever had the better best-of-three
 * time is kept. The first call each way is a warm-up and not counted: the helper's first jobs run
 * its WebAssembly before V8 has optimised it (in the kernel host the first threaded calls of the
 * ResNet 3x3 forward took 34-43 ms against 13-17 ms on one thread, and the trial kept one thread;
 * warm, two threads measured 1.5-1.8x faster on a quiet machine). On a machine whose cores are busy
 * with other work a second thread can lose.
 */
const TRIALS = 3;
interface Trial { single: number[]; shared: number[] }
const trials = new Map<string, Trial>();

function pickThreads(keyOf: () => string, macs: number): { threaded: boolean; trial: number[] | undefined } {
  if (!worthThreads(macs) || !helperLoaded()) return { threaded: false, trial: undefined };
  const key = keyOf();
  let t = trials.get(key);
  if (!t) { t = { single: [], shared: [] }; trials.set(key, t); }
  if (t.single.length <= TRIALS || t.shared.length <= TRIALS) {
    const threaded = t.shared.length <= t.single.length;
    return { threaded, trial: threaded ? t.shared : t.single };
  }
  return { threaded: Math.min(...t.shared.slice(1)) < Math.min(...t.single.slice(1)), trial: undefined };
}

/** Everything a call needs: whether it is threaded, where its buffers live, how to run a job. */
function session(key: () => string, macs: number) {
  const { threaded, trial } = pickThreads(key, macs);
  const start = performance.now();
  const arena = threaded ? sharedArena : localArena;
  arena.reset();
  return {
    arena,
    input: (t: Float32Array) => (threaded ? arena.copy(t) : t),
    output: (n: number) => (threaded ? arena.f32(n) : new Float32Array(n)),
    result: (t: Float32Array) => (threaded ? t.slice() : t),
    run: (job: Job, chunks: number) => (threaded ? runShared(job, chunks) : runJob(job, 0, 1, 0)),
    done: () => { trial?.push(performance.now() - start); },
  };
}

/** The trials' key, made only for calls that may be threaded (small calls skip the JSON). */
const keyOf = (direction: string, g: Conv2dGeometry) => () => `${direction} ${JSON.stringify(g)}`;

const macsOf = (g: Conv2dGeometry) => g.forwardFlops / 2;

/** Numbers the GEMM jobs, so each thread copies a job's inputs into its wasm memory once, not per chunk. */
let calls = 0;

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return false;
  return true;
}

/**
 * One input channel per group: depthwise, and with SIMD also a single-channel conv (LeNet's first
 * layer: a 25-deep GEMM packs more than it multiplies; the direct kernel measured 2x faster).
 */
const isDepthwise = (g: Conv2dGeometry) => g.groups === g.inChannels && (g.groups > 1 || (simd !== undefined && g.strideWidth === 1));

/** Winograd's shape test (without SIMD only): 3x3, stride 1, no dilation, one group, and enough work to amortise the transforms. */
function winogradShape(g: Conv2dGeometry): boolean {
  return !simd && g.kernelHeight === 3 && g.kernelWidth === 3 && g.strideHeight === 1 && g.strideWidth === 1 &&
    g.dilationHeight === 1 && g.dilationWidth === 1 && g.groups === 1 &&
    g.inChannels >= 8 && g.outChannels >= 8 && g.outHeight * g.outWidth >= 64;
}

/**
 * Where no tap of a 3x3 window reads a non-zero value in any channel, the exact sum is 0 (plus the
 * bias), with a zero error budget; Winograd's float64 cancellation could leave a residue there.
 * Those outputs are set exactly.
 */
function fixEmptyWindows(src: Float32Array, p: WinogradPlan, bias: Float32Array | undefined, dst: Float32Array): void {
  const H = p.inHeight, W = p.inWidth, plane = H * W, OH = p.outHeight, OW = p.outWidth;
  const live = new Uint8Array(plane);
  for (let n = 0; n < p.batch; n++) {
    live.fill(0);
    for (let c = 0; c < p.inChannels; c++) {
      const at = (n * p.inChannels + c) * plane;
      for (let i = 0; i < plane; i++) if (src[at + i] !== 0) live[i] = 1;
    }
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        let any = false;
        for (let ky = 0; ky < 3 && !any; ky++) {
          const iy = oy - p.padTop + ky;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < 3; kx++) {
            const ix = ox - p.padLeft + kx;
            if (ix >= 0 && ix < W && live[iy * W + ix]) { any = true; break; }
          }
        }
        if (any) continue;
        for (let o = 0; o < p.outChannels; o++) dst[((n * p.outChannels + o) * OH + oy) * OW + ox] = bias ? bias[o] : 0;
      }
  }
}

export function conv2d(x: Tensor, w: Tensor, bias: Tensor | undefined, g: Conv2dGeometry): Tensor {
  const s = session(keyOf('forward', g), macsOf(g));
  const shape = convOutputShape(g);
  const y = s.output(shape[0] * shape[1] * shape[2] * shape[3]);
  const xs = s.input(x.data), ws = s.input(w.data), bs = bias ? s.input(bias.data) : undefined;
  if (isDepthwise(g)) {
    s.run({ kind: 'depthwise', x: xs, w: ws, bias: bs, y, g }, Math.min(16, g.inChannels));
  } else if (winogradShape(g) && allFinite(x.data) && allFinite(w.data)) {
    const plan: WinogradPlan = {
      batch: g.batch, inChannels: g.inChannels, inHeight: g.inHeight, inWidth: g.inWidth,
      outChannels: g.outChannels, outHeight: g.outHeight, outWidth: g.outWidth, padTop: g.padTop, padLeft: g.padLeft,
    };
    const u = s.arena.f64(transformedLength(g.outChannels, g.inChannels));
    transformFilters(w.data, g.outChannels, g.inChannels, 0, g.inChannels * 9, 9, 3, 1, u);
    s.run({ kind: 'winograd', src: xs, u, bias: bs, dst: y, plan }, 16);
    fixEmptyWindows(x.data, plan, bias?.data, y);
  } else {
    s.run({ kind: 'gemm', x: xs, w: ws, bias: bs, y, g, call: ++calls }, 16);
  }
  const out = { shape, data: s.result(y) };
  s.done();
  return out;
}

function biasGradient(dy: Float32Array, g: Conv2dGeometry): Float32Array {
  const P = g.outHeight * g.outWidth, db = new Float32Array(g.outChannels);
  for (let o = 0; o < g.outChannels; o++) {
    let sum = 0;
    for (let n = 0; n < g.batch; n++)
      for (let i = (n * g.outChannels + o) * P, end = i + P; i < end; i++) sum += dy[i];
    db[o] = sum;
  }
  return db;
}

export function conv2dBackward(x: Tensor, w: Tensor, dy: Tensor, g: Conv2dGeometry): ConvGradients {
  const s = session(keyOf('backward', g), macsOf(g));
  const dx = s.output(x.data.length), dw = s.output(w.data.length);
  const xs = s.input(x.data), ws = s.input(w.data), dys = s.input(dy.data);
  const smallPads = Math.max(g.padTop, g.padLeft, g.padBottom, g.padRight) <= 2;
  if (isDepthwise(g)) {
    s.run({ kind: 'depthwiseBackward', x: xs, w: ws, dy: dys, dx, dw, g }, Math.min(16, g.inChannels));
  } else if (winogradShape(g) && smallPads && allFinite(x.data) && allFinite(w.data) && allFinite(dy.data)) {
    // dx: dy convolved with the filter flipped and its channels swapped, padded by 2 - pad.
    const dxPlan: WinogradPlan = {
      batch: g.batch, inChannels: g.outChannels, inHeight: g.outHeight, inWidth: g.outWidth,
      outChannels: g.inChannels, outHeight: g.inHeight, outWidth: g.inWidth, padTop: 2 - g.padTop, padLeft: 2 - g.padLeft,
    };
    const u = s.arena.f64(transformedLength(g.inChannels, g.outChannels));
    transformFilters(w.data, g.inChannels, g.outChannels, 8, 9, g.inChannels * 9, -3, -1, u);
    s.run({ kind: 'winograd', src: dys, u, bias: undefined, dst: dx, plan: dxPlan }, 16);
    fixEmptyWindows(dy.data, dxPlan, undefined, dx);
    // dw: accumulated per thread in the Winograd domain, summed, then transformed back.
    const plan: WinogradPlan = {
      batch: g.batch, inChannels: g.inChannels, inHeight: g.inHeight, inWidth: g.inWidth,
      outChannels: g.outChannels, outHeight: g.outHeight, outWidth: g.outWidth, padTop: g.padTop, padLeft: g.padLeft,
    };
    const partLength = transformedLength(g.outChannels, g.inChannels);
    const parts = THREADS > 1 ? 2 : 1; // one dU per thread
    const dU = s.arena.f64(parts * partLength);
    dU.fill(0);
    s.run({ kind: 'winogradFilterGrad', x: xs, dy: dys, plan, dU, partLength }, 16);
    for (let k = 1; k < parts; k++) for (let i = 0; i < partLength; i++) dU[i] += dU[k * partLength + i];
    filtersFromGrad(dU, g.outChannels, g.inChannels, dw);
  } else {
    s.run({ kind: 'gemmBackward', x: xs, w: ws, dy: dys, dx, dw, g, call: ++calls }, Math.min(4, g.inChannels / g.groups));
  }
  const grads = {
    dx: { shape: [...x.shape], data: s.result(dx) },
    dw: { shape: [...w.shape], data: s.result(dw) },
    db: { shape: [g.outChannels], data: biasGradient(dy.data, g) },
  };
  s.done();
  return grads;
}
