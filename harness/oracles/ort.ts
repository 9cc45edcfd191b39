// ONNX Runtime (onnxruntime-node, CPU) as an oracle. Each computation is a small graph built in
// memory (onnx-model.ts), one session per distinct graph, reused across cases. onnxruntime-node has
// no training API, so the backward computations are composed from forward ops:
//   conv dx  = ConvTranspose(dy, w) with the forward's strides, dilations, groups and pads, plus
//              output_padding where the forward dropped trailing rows/columns;
//   conv dw  = Conv of x^T (per group: [C/G, G*N, H, W]) with dy^T ([O, N, OH, OW]) as weights,
//              stride = forward dilation, dilation = forward stride, group = G, then Slice + Transpose;
//   conv db  = ReduceSum(dy, axes 0, 2, 3);
//   max dx   = ScatterElements(zeros, MaxPool's Indices, dy, reduction add);
//   indices  = MaxPool's Indices (storage_order from the geometry), Cast to float32 (exact below 2^24);
//   avg dx   = depthwise ConvTranspose (ones) of dy / divisor, the divisor per output window
//              precomputed in JS with avgPoolDivisor at prepare() time (a graph constant).
// What ORT does differently (measured on 1.30; see ort.test.ts) is declared in `unsupported`; which
// MaxPool kernel runs depends on the CPU's NCHWc block, measured at load (measureNchwcBlock).
import type * as OrtModule from 'onnxruntime-node';
import type { Case, ConvCase, OutputName, PoolCase } from '../cases/load.ts';
import { isRecord } from '../guards.ts';
import {
  avgPoolDivisor, convOutputShape, type Conv2dGeometry, type Pool2dGeometry, pool2dGeometry, poolOutputShape,
} from '../geometry.ts';
import { type Computation, indicesUnrepresentable, OUTPUTS, type Outputs, type Prepared } from '../invoke.ts';
import type { Tensor } from '../tensor.ts';
import { GraphBuilder } from './onnx-model.ts';
import type { AbsentOracle, Oracle } from './oracle.ts';

type Ort = typeof OrtModule;
type Session = OrtModule.InferenceSession;
type OrtTensor = OrtModule.Tensor;

/** Opset 19: AveragePool dilations (19), ScatterElements reduction 'add' (16+), ReduceSum axes input (13+). */
export const OPSET = 19;
/** TensorProto.DataType FLOAT, Cast's `to`. */
const FLOAT = 1;

/** Why ORT cannot take a case, or computes a different thing; short lowercase sentences. */
export const REASONS = {
  poolPadNotBelowKernel: 'pooling pads must be smaller than the kernel itself, not just its dilated extent',
  maxNanMlas: 'MLAS max pooling (no dilation, or channels a multiple of the NCHWc block) neither propagates nor skips NaN: depending on the kernel a NaN is skipped or resets the running maximum',
  maxMinusInfMlas: 'MLAS max pooling (no dilation, or channels a multiple of the NCHWc block) starts at -FLT_MAX: a window of only -inf may yield -FLT_MAX',
  maxNanFirstTap: 'the scalar max-pool loop (dilation without NCHWc, and the Indices behind the gradient) propagates a NaN only at a window\'s first tap and skips any other',
  convNoInputChannels: 'not run: a Conv with no input channels per group loops forever in ORT 1.30 when it has padding or a stride > 1 (measured), so no such Conv is sent to it',
  convBackwardZeroBatch: 'not run: the filter gradient is a Conv over the batch, which with a batch of 0 has no input channels per group and loops forever in ORT 1.30 when the forward has padding or a dilation > 1 (measured), so no such Conv is sent to it',
  avgBackwardNoChannels: 'not run: the average-pool gradient is a ConvTranspose with one group per channel, and with group 0 (no channels) ORT 1.30 kills the process (SIGFPE, measured)',
  poolNoChannels: 'ORT 1.30\'s pools refuse zero channels: MaxPool and AveragePool fail in the NCHWc transformer ("invalid channel count") or in their shape check (only a batch may be 0)',
  convBackwardNoOutputChannels: 'dx is a ConvTranspose of dy, and with no (dy) input channels ORT 1.30 leaves dx uninitialised instead of zeros (NaN or stale values, measured)',
} as const;

/**
 * Why ORT must not be given this computation at all, or undefined: it would never return (a Conv
 * with no input channels per group, which loops forever with padding or a stride > 1; no such Conv
 * is sent, whatever its attributes, since ORT runs in the harness process, with no time limit) or
 * would kill the process (a ConvTranspose of group 0). prepare() refuses it, so the semantics
 * probe does too.
 */
export function ortCannotRun(c: Case, computation: Computation): string | undefined {
  if (c.op !== 'conv2d') return c.op === 'avgpool2d' && computation === 'backward' && c.geometry.channels === 0 ? REASONS.avgBackwardNoChannels : undefined;
  const g = c.geometry;
  if (computation === 'forward' && g.inChannels === 0) return REASONS.convNoInputChannels;
  // The dw Conv takes x^T [C/G, G*N, H, W] in G groups: N input channels per group.
  if (computation === 'backward' && g.batch === 0) return REASONS.convBackwardZeroBatch;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Graphs

interface GraphSpec {
  model: Uint8Array;
  /** Graph input names, fed from the case: x, w, bias, dy. */
  inputs: ('x' | 'w' | 'bias' | 'dy')[];
  outputs: OutputName[];
}

const pair = (h: number, w: number): [number, number] => [h, w];

function convAttributes(g: Conv2dGeometry) {
  return {
    kernel_shape: pair(g.kernelHeight, g.kernelWidth),
    strides: pair(g.strideHeight, g.strideWidth),
    dilations: pair(g.dilationHeight, g.dilationWidth),
    pads: [g.padTop, g.padLeft, g.padBottom, g.padRight],
    group: g.groups,
  };
}

/**
 * Pads and output_padding of a ConvTranspose that maps an `out`-long gradient back onto exactly
 * `input` positions: the forward windows cover `full` positions from -pad0; crop pad0 at the
 * start, and at the end crop the excess or append the rows the forward never read.
 */
function transposeAxis(input: number, out: number, stride: number, effectiveKernel: number, pad0: number) {
  const full = stride * (out - 1) + effectiveKernel;
  return { pad0, pad1: Math.max(0, full - pad0 - input), outputPadding: Math.max(0, pad0 + input - full) };
}

function transposeAttributes(
  g: Conv2dGeometry | Pool2dGeometry, inHeight: number, inWidth: number, group: number,
) {
  const h = transposeAxis(inHeight, g.outHeight, g.strideHeight, g.effectiveKernelHeight, g.padTop);
  const w = transposeAxis(inWidth, g.outWidth, g.strideWidth, g.effectiveKernelWidth, g.padLeft);
  return {
    kernel_shape: pair(g.kernelHeight, g.kernelWidth),
    strides: pair(g.strideHeight, g.strideWidth),
    dilations: pair(g.dilationHeight, g.dilationWidth),
    pads: [h.pad0, w.pad0, h.pad1, w.pad1],
    output_padding: pair(h.outputPadding, w.outputPadding),
    group,
  };
}

/** 1 when the case's (ceil-mode) output size differs from the floor-mode size of the same pads. */
export function ceilModeFlag(g: Pool2dGeometry): 0 | 1 {
  const floor = pool2dGeometry([g.batch, g.channels, g.inHeight, g.inWidth], {
    kernel: [g.kernelHeight, g.kernelWidth],
    strides: [g.strideHeight, g.strideWidth],
    dilations: [g.dilationHeight, g.dilationWidth],
    padding: [g.padTop, g.padLeft, g.padBottom, g.padRight],
    ceilMode: false,
  });
  return floor.outHeight !== g.outHeight || floor.outWidth !== g.outWidth ? 1 : 0;
}

function poolAttributes(g: Pool2dGeometry) {
  return {
    kernel_shape: pair(g.kernelHeight, g.kernelWidth),
    strides: pair(g.strideHeight, g.strideWidth),
    dilations: pair(g.dilationHeight, g.dilationWidth),
    pads: [g.padTop, g.padLeft, g.padBottom, g.padRight],
    ceil_mode: ceilModeFlag(g),
  };
}

function convGraph(c: ConvCase, computation: Computation): GraphSpec {
  const g = c.geometry;
  const b = new GraphBuilder(`conv2d_${computation}`);
  const x = b.input('x', c.x.shape);
  const w = b.input('w', c.w.shape);
  if (computation === 'forward') {
    const inputs = c.bias ? [x, w, b.input('bias', c.bias.shape)] : [x, w];
    b.node('Conv', inputs, convAttributes(g), ['y']);
    b.output('y');
    return { model: b.toBytes(OPSET), inputs: c.bias ? ['x', 'w', 'bias'] : ['x', 'w'], outputs: ['y'] };
  }
  const dy = b.input('dy', convOutputShape(g));
  // dx: the transposed convolution of dy with the same weights.
  b.node('ConvTranspose', [dy, w], transposeAttributes(g, g.inHeight, g.inWidth, g.groups), ['dx']);
  // dw: batch becomes the reduction ("channel") axis. x -> [C/G, G*N, H, W], dy -> [O, N, OH, OW].
  const cg = g.inChannels / g.groups;
  // allowzero: a 0 in the shape is a size of 0 (zero-size batch or channels), not "copy this dimension".
  const x5 = b.op('Reshape', [x, b.int64s([g.batch, g.groups, cg, g.inHeight, g.inWidth])], { allowzero: 1 });
  const xt5 = b.op('Transpose', [x5], { perm: [2, 1, 0, 3, 4] });
  const xt = b.op('Reshape', [xt5, b.int64s([cg, g.groups * g.batch, g.inHeight, g.inWidth])], { allowzero: 1 });
  const dyt = b.op('Transpose', [dy], { perm: [1, 0, 2, 3] });
  // End pads just large enough for kernel-size outputs (never negative: the Slice trims the rest).
  const endPad = (kernel: number, dilation: number, out: number, stride: number, input: number, pad0: number) =>
    Math.max(0, (kernel - 1) * dilation + (out - 1) * stride + 1 - input - pad0);
  const z = b.op('Conv', [xt, dyt], {
    kernel_shape: pair(g.outHeight, g.outWidth),
    strides: pair(g.dilationHeight, g.dilationWidth),
    dilations: pair(g.strideHeight, g.strideWidth),
    pads: [
      g.padTop, g.padLeft,
      endPad(g.kernelHeight, g.dilationHeight, g.outHeight, g.strideHeight, g.inHeight, g.padTop),
      endPad(g.kernelWidth, g.dilationWidth, g.outWidth, g.strideWidth, g.inWidth, g.padLeft),
    ],
    group: g.groups,
  });
  const zs = b.op('Slice', [z, b.int64s([0, 0]), b.int64s([g.kernelHeight, g.kernelWidth]), b.int64s([2, 3])]);
  b.node('Transpose', [zs], { perm: [1, 0, 2, 3] }, ['dw']);
  // db: sum over batch and positions.
  b.node('ReduceSum', [dy, b.int64s([0, 2, 3])], { keepdims: 0 }, ['db']);
  for (const name of ['dx', 'dw', 'db']) b.output(name);
  return { model: b.toBytes(OPSET), inputs: ['x', 'w', 'dy'], outputs: ['dx', 'dw', 'db'] };
}

function poolGraph(c: PoolCase, computation: Computation): GraphSpec {
  const g = c.geometry;
  const b = new GraphBuilder(`${c.op}_${computation}`);
  if (computation === 'indices') {
    if (c.op !== 'maxpool2d') throw new Error(`ort: ${c.op} has no indices computation`);
    const x = b.input('x', c.x.shape);
    const [, indices] = b.node('MaxPool', [x], { ...poolAttributes(g), storage_order: g.storageOrder }, ['y', 'indices_int64']);
    b.node('Cast', [indices], { to: FLOAT }, ['indices']);
    b.output('y');
    b.output('indices');
    return { model: b.toBytes(OPSET), inputs: ['x'], outputs: ['y', 'indices'] };
  }
  if (computation === 'forward') {
    const x = b.input('x', c.x.shape);
    const attrs = c.op === 'maxpool2d' ? poolAttributes(g) : { ...poolAttributes(g), count_include_pad: g.countIncludePad ? 1 : 0 };
    b.node(c.op === 'maxpool2d' ? 'MaxPool' : 'AveragePool', [x], attrs, ['y']);
    b.output('y');
    return { model: b.toBytes(OPSET), inputs: ['x'], outputs: ['y'] };
  }
  const dy = b.input('dy', poolOutputShape(g));
  const size = g.batch * g.channels * g.inHeight * g.inWidth;
  if (c.op === 'maxpool2d') {
    // Indices are flat offsets into the whole NCHW x (storage_order 0).
    const x = b.input('x', c.x.shape);
    const [, indices] = b.node('MaxPool', [x], { ...poolAttributes(g), storage_order: 0 }, 2);
    const flat = b.int64s([-1]);
    const zeros = b.op('ConstantOfShape', [b.int64s([size])]);
    const sum = b.op('ScatterElements', [zeros, b.op('Reshape', [indices, flat]), b.op('Reshape', [dy, flat])], { axis: 0, reduction: 'add' });
    b.node('Reshape', [sum, b.int64s(c.x.shape)], { allowzero: 1 }, ['dx']);
    b.output('dx');
    return { model: b.toBytes(OPSET), inputs: ['x', 'dy'], outputs: ['dx'] };
  }
  // Average pooling: dy / divisor, spread over each window by a depthwise transposed conv of ones.
  const divisors = new Float32Array(g.outHeight * g.outWidth);
  for (let oy = 0; oy < g.outHeight; oy++)
    for (let ox = 0; ox < g.outWidth; ox++) {
      divisors[oy * g.outWidth + ox] = avgPoolDivisor(g, oy * g.strideHeight - g.padTop, ox * g.strideWidth - g.padLeft);
    }
  const share = b.op('Div', [dy, b.floats(divisors, [1, 1, g.outHeight, g.outWidth])]);
  const ones = b.floats(new Float32Array(g.channels * g.kernelHeight * g.kernelWidth).fill(1), [g.channels, 1, g.kernelHeight, g.kernelWidth]);
  b.node('ConvTranspose', [share, ones], transposeAttributes(g, g.inHeight, g.inWidth, g.channels), ['dx']);
  b.output('dx');
  return { model: b.toBytes(OPSET), inputs: ['dy'], outputs: ['dx'] };
}

export function buildGraph(c: Case, computation: Computation): GraphSpec {
  return c.op === 'conv2d' ? convGraph(c, computation) : poolGraph(c, computation);
}

/** One graph per op, computation, geometry (every attribute is in it) and bias presence. */
export function graphKey(c: Case, computation: Computation): string {
  return JSON.stringify([c.op, computation, c.geometry, c.op === 'conv2d' && c.bias !== undefined]);
}

// ---------------------------------------------------------------------------------------------
// Semantics

/** In-bounds taps of pooling window (oy, ox), as offsets within one channel plane. */
function windowTaps(g: Pool2dGeometry, oy: number, ox: number): number[] {
  const taps: number[] = [];
  for (let ky = 0; ky < g.kernelHeight; ky++) {
    const iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight;
    if (iy < 0 || iy >= g.inHeight) continue;
    for (let kx = 0; kx < g.kernelWidth; kx++) {
      const ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth;
      if (ix >= 0 && ix < g.inWidth) taps.push(iy * g.inWidth + ix);
    }
  }
  return taps;
}

interface MaxWindowScan {
  /** Some window holds a NaN. */
  nan: boolean;
  /** Some window holds nothing but -inf (MLAS may then yield -FLT_MAX). */
  allMinusInf: boolean;
  /**
   * Some window where the scalar loop's first-tap rule differs from ours: with propagateNan a
   * NaN not at the window's first tap, without it a NaN at the first tap of a window that is not
   * all NaN.
   */
  firstTapDiffers: boolean;
}

function scanMaxWindows(x: Tensor, g: Pool2dGeometry): MaxWindowScan {
  const scan = { nan: false, allMinusInf: false, firstTapDiffers: false };
  if (x.data.every((v) => v > Number.NEGATIVE_INFINITY)) return scan;
  const plane = g.inHeight * g.inWidth;
  for (let oy = 0; oy < g.outHeight; oy++)
    for (let ox = 0; ox < g.outWidth; ox++) {
      const taps = windowTaps(g, oy, ox);
      for (let p = 0; p < g.batch * g.channels; p++) {
        let nans = 0, minusInfs = 0;
        for (const t of taps) {
          const v = x.data[p * plane + t];
          if (Number.isNaN(v)) nans++;
          else if (v === Number.NEGATIVE_INFINITY) minusInfs++;
        }
        const firstNan = Number.isNaN(x.data[p * plane + taps[0]]);
        scan.nan ||= nans > 0;
        scan.allMinusInf ||= minusInfs === taps.length;
        scan.firstTapDiffers ||= g.propagateNan ? nans > 0 && !firstNan : firstNan && nans < taps.length;
      }
    }
  return scan;
}

/**
 * Why ORT cannot take the case or computes a different thing, or undefined. `nchwcBlock` is the
 * channel multiple at which the NCHWc transformer hands a MaxPool without Indices to MLAS
 * (measureNchwcBlock; 0: never).
 */
export function ortUnsupported(c: Case, computation: Computation, nchwcBlock: number): string | undefined {
  const cannot = ortCannotRun(c, computation);
  if (cannot) return cannot;
  if (c.op === 'conv2d') return computation === 'backward' && c.geometry.outChannels === 0 ? REASONS.convBackwardNoOutputChannels : undefined;
  if (c.geometry.channels === 0) return REASONS.poolNoChannels;
  if (computation === 'indices') {
    const unrepresentable = indicesUnrepresentable(c);
    if (unrepresentable) return unrepresentable;
  }
  const g = c.geometry;
  // AveragePool is used only forward (its backward is a ConvTranspose); MaxPool both ways.
  const usesPoolOp = c.op === 'maxpool2d' || computation === 'forward';
  const padTooLarge = Math.max(g.padTop, g.padBottom) >= g.kernelHeight || Math.max(g.padLeft, g.padRight) >= g.kernelWidth;
  if (usesPoolOp && padTooLarge) return REASONS.poolPadNotBelowKernel;
  if (c.op === 'avgpool2d') return undefined;
  const { nan, allMinusInf, firstTapDiffers } = scanMaxWindows(c.x, g);
  // The forward (no Indices) runs MLAS kernels, which start at -FLT_MAX, without dilation (vector,
  // generic or global kernel) and, dilated or not, in NCHWc when the channel count is a multiple of
  // the SIMD block. Otherwise (dilation, and Indices for the backward) a scalar loop takes the
  // window's first in-bounds tap (row-major), then each strictly greater one. The indices
  // computation asks for MaxPool's Indices output, so it always runs that scalar loop.
  const undilated = g.dilationHeight === 1 && g.dilationWidth === 1;
  const nchwc = nchwcBlock > 0 && g.channels % nchwcBlock === 0;
  if (computation === 'forward' && (undilated || nchwc)) {
    if (nan) return REASONS.maxNanMlas;
    if (allMinusInf) return REASONS.maxMinusInfMlas;
    return undefined;
  }
  return firstTapDiffers ? REASONS.maxNanFirstTap : undefined;
}

// ---------------------------------------------------------------------------------------------
// The oracle

function isOrtTensorLike(v: unknown): v is { data: unknown; dims: readonly number[] } {
  return typeof v === 'object' && v !== null && 'data' in v && 'dims' in v && Array.isArray(v.dims);
}

function sessionOptions(threads: number): OrtModule.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // 'all' includes the NCHWc layout transformer (see measureNchwcBlock).
    graphOptimizationLevel: 'all',
    // Quiet: failures reach the caller as exceptions; warnings (e.g. ONNX shape inference
    // disagreeing with the kernel's ceil-mode output size) are noise here.
    logSeverityLevel: 4,
  };
}

/** Channel counts tried by measureNchwcBlock, ascending (MLAS's block is 8 with AVX2, 16 with AVX-512). */
export const NCHWC_CANDIDATES = [1, 2, 4, 8, 16, 32, 64];

/**
 * The smallest channel count (of NCHWC_CANDIDATES) at which a dilated MaxPool forward leaves the
 * scalar loop for MLAS (the NCHWc transformer takes any MaxPool without Indices whose channel
 * count is a multiple of the CPU's SIMD block), or 0. Measured: per channel, windows [-inf, -inf]
 * and [NaN, 1] give -inf and NaN in the scalar loop, -FLT_MAX and (on 1.30) 1 in MLAS. A scalar
 * loop that no longer does so gives 1 (every forward treated as MLAS: declared n/a, never wrong).
 */
export async function measureNchwcBlock(ort: Ort, threads: number): Promise<number> {
  for (const channels of NCHWC_CANDIDATES) {
    const b = new GraphBuilder('nchwc_probe');
    b.node('MaxPool', [b.input('x', [1, channels, 2, 3])], { kernel_shape: [1, 2], dilations: [1, 2] }, ['y']);
    b.output('y');
    const x = new Float32Array(channels * 6);
    for (let c = 0; c < channels; c++) x.set([-Infinity, 0, -Infinity, Number.NaN, 0, 1], c * 6);
    const session = await ort.InferenceSession.create(b.toBytes(OPSET), sessionOptions(threads));
    try {
      const y = (await session.run({ x: new ort.Tensor('float32', x, [1, channels, 2, 3]) })).y.data;
      if (!(y instanceof Float32Array)) throw new Error('ort: NCHWc probe output is not float32');
      const scalar = (v: number, i: number) => (i % 2 === 0 ? v === Number.NEGATIVE_INFINITY : Number.isNaN(v));
      if (!Array.from(y).every(scalar)) return channels;
    } finally {
      await session.release();
    }
  }
  return 0;
}

export class OrtOracle implements Oracle {
  readonly name = 'ort';
  readonly versions: Record<string, string>;
  private readonly sessions = new Map<string, Promise<Session>>();

  /**
   * @param nchwcBlock the channel multiple at which a MaxPool forward runs in MLAS whatever its
   *   dilation (measureNchwcBlock; 0: never)
   */
  constructor(private readonly ort: Ort, readonly threads: number, version: string, readonly nchwcBlock: number) {
    this.versions = { 'onnxruntime-node': version, opset: String(OPSET) };
  }

  /** Distinct graphs (sessions) built so far. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  unsupported(c: Case, computation: Computation): string | undefined {
    return ortUnsupported(c, computation, this.nchwcBlock);
  }

  private session(c: Case, computation: Computation): { session: Promise<Session>; spec: GraphSpec } {
    const spec = buildGraph(c, computation);
    const key = graphKey(c, computation);
    let session = this.sessions.get(key);
    if (!session) {
      session = this.ort.InferenceSession.create(spec.model, sessionOptions(this.threads));
      this.sessions.set(key, session);
      // A session that fails to build is not cached: the error goes to this caller only.
      const mine = session;
      session.catch(() => { if (this.sessions.get(key) === mine) this.sessions.delete(key); });
    }
    return { session, spec };
  }

  async prepare(c: Case, computation: Computation): Promise<Prepared> {
    const cannot = ortCannotRun(c, computation);
    if (cannot) throw new Error(`ort cannot run "${c.id}" ${computation}: ${cannot}`);
    const { session: pending, spec } = this.session(c, computation);
    const session = await pending;
    const source: Record<GraphSpec['inputs'][number], Tensor | undefined> = {
      x: c.x, dy: c.dy, w: c.op === 'conv2d' ? c.w : undefined, bias: c.op === 'conv2d' ? c.bias : undefined,
    };
    const feeds: Record<string, OrtTensor> = {};
    for (const name of spec.inputs) {
      const t = source[name];
      if (!t) throw new Error(`ort: case has no input ${name}`);
      feeds[name] = new this.ort.Tensor('float32', Float32Array.from(t.data), t.shape);
    }
    const names = OUTPUTS[computation][c.op];
    return {
      call: () => session.run(feeds),
      collect: (raw: unknown): Outputs => {
        if (!isRecord(raw)) throw new Error('ort: session result is not a map of tensors');
        const out: Outputs = {};
        for (const name of names) {
          const v = raw[name];
          if (!isOrtTensorLike(v) || !(v.data instanceof Float32Array)) throw new Error(`ort: output ${name} is not a float32 tensor`);
          out[name] = { shape: v.dims.map(Number), data: v.data };
        }
        return out;
      },
    };
  }

  async release(): Promise<void> {
    const pending = [...this.sessions.values()];
    this.sessions.clear();
    for (const p of pending) {
      const s = await p.catch(() => undefined);
      await s?.release();
    }
  }
}

export async function loadOrtOracle(options: { threads?: number } = {}): Promise<{ oracles: Oracle[]; absent: AbsentOracle[] }> {
  const threads = options.threads ?? 1;
  let ort: Ort;
  let nchwcBlock: number;
  try {
    ort = await import('onnxruntime-node');
    // A tiny session proves that the native library loads and takes our models.
    const b = new GraphBuilder('probe');
    b.node('Relu', [b.input('x', [1])], {}, ['y']);
    b.output('y');
    await (await ort.InferenceSession.create(b.toBytes(OPSET))).release();
    nchwcBlock = await measureNchwcBlock(ort, threads);
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    // An optional dependency: npm leaves it out when its install script's CUDA download fails.
    const reason = /Cannot find (package|module) 'onnxruntime-node'/.test(message)
      ? 'onnxruntime-node is not installed (optional dependency: its install script downloads CUDA files; install it with ONNXRUNTIME_NODE_INSTALL=skip to use only the CPU library it ships)'
      : `onnxruntime-node did not load: ${message}`;
    return { oracles: [], absent: [{ name: 'ort', reason }] };
  }
  const version = ort.env.versions.node ?? ort.env.versions.common ?? 'unknown';
  return { oracles: [new OrtOracle(ort, threads, version, nchwcBlock)], absent: [] };
}
