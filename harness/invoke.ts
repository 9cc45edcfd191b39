// What one computation of a case sends to a kernel and expects back: the contract method, its input
// tensors converted once to the kernel's layout, and the output shapes in that layout.
import type { Case, OutputName } from './cases/load.ts';
import { convOutputShape, poolOutputShape } from './geometry.ts';
import type { ContractOp, Frame } from './host/protocol.ts';
import {
  activationFromNchw, activationShapeFromNchw, activationToNchw, type Layout, weightShapeFromOihw, weightsFromOihw, weightsToOihw,
} from './layout.ts';
import type { Tensor } from './tensor.ts';

/**
 * The computations of a case: forward and backward of every op, and `indices` of max pooling
 * (maxPool2dWithIndices: y and, per output, the offset into x of its window's maximum).
 */
export const COMPUTATIONS = ['forward', 'backward', 'indices'] as const;
export type Computation = (typeof COMPUTATIONS)[number];
export type InputName = 'x' | 'w' | 'bias' | 'dy';
export type Outputs = Partial<Record<OutputName, Tensor>>;

/** The outputs of each computation, in the contract method's order (none: the op has no such computation). */
export const OUTPUTS: Record<Computation, Record<Case['op'], OutputName[]>> = {
  forward: { conv2d: ['y'], maxpool2d: ['y'], avgpool2d: ['y'] },
  backward: { conv2d: ['dx', 'dw', 'db'], maxpool2d: ['dx'], avgpool2d: ['dx'] },
  indices: { conv2d: [], maxpool2d: ['y', 'indices'], avgpool2d: [] },
};

/** The inputs of each computation, in the contract method's order (conv2d's bias may be absent). */
export const INPUTS: Record<Computation, Record<Case['op'], InputName[]>> = {
  forward: { conv2d: ['x', 'w', 'bias'], maxpool2d: ['x'], avgpool2d: ['x'] },
  backward: { conv2d: ['x', 'w', 'dy'], maxpool2d: ['x', 'dy'], avgpool2d: ['x', 'dy'] },
  indices: { conv2d: [], maxpool2d: ['x'], avgpool2d: [] },
};

/**
 * Indices travel as float32 integers, exact up to 2^24: every offset into an x of at most 2^24
 * elements (the default tensor bound, --max-tensor-elements). Past it the computation is n/a.
 */
export const MAX_INDEXED_ELEMENTS = 2 ** 24;

/** Why a case's indices cannot be exchanged exactly, or undefined. */
export function indicesUnrepresentable(c: Case): string | undefined {
  return c.x.data.length > MAX_INDEXED_ELEMENTS
    ? `x has ${c.x.data.length} elements, more than 2^24: float32 cannot hold every index exactly`
    : undefined;
}

/** A call an engine has made ready: `call()` does only the work and returns its raw result. */
export interface Prepared {
  call(): Promise<unknown>;
  /** Converts a raw result back to canonical named outputs; throws if it is not tensors. */
  collect(raw: unknown): Outputs;
  /**
   * Engines that run elsewhere (a kernel host) time themselves: per-call times measured around
   * the kernel alone, so that the round trip never counts as kernel time.
   */
  measure?(options: { warmup: number; iterations: number; minMs: number }): Promise<number[]>;
  /**
   * With measure: the kernel's own time in its last call(), measured in the host, when that call
   * was warm (the host had computed the same case before) and the time is possible; else undefined.
   */
  lastKernelMs?(): number | undefined;
}

/** The op and computation a contract method computes (methodOf's inverse). */
export function computationOf(method: ContractOp): { op: Case['op']; computation: Computation } {
  if (method === 'maxPool2dWithIndices') return { op: 'maxpool2d', computation: 'indices' };
  const base = method.replace(/Backward$/, '');
  return { op: base === 'conv2d' ? 'conv2d' : base === 'maxPool2d' ? 'maxpool2d' : 'avgpool2d', computation: method.endsWith('Backward') ? 'backward' : 'forward' };
}

/**
 * The contract method a computation of an op calls. Total, for callers that walk every pair: an op
 * without an indices computation (conv2d, avgpool2d; computationsOf never gives it) answers its
 * forward method.
 */
export function methodOf(op: Case['op'], computation: Computation): ContractOp {
  const base = op === 'conv2d' ? 'conv2d' : op === 'maxpool2d' ? 'maxPool2d' : 'avgPool2d';
  if (computation === 'indices') return op === 'maxpool2d' ? 'maxPool2dWithIndices' : base;
  return computation === 'forward' ? base : `${base}Backward`;
}

/** Whether an op has a computation (only max pooling has `indices`). */
export const opHas = (op: Case['op'], computation: Computation): boolean => OUTPUTS[computation][op].length > 0;

const isWeight = (name: string): boolean => name === 'w' || name === 'dw';

/** A canonical (NCHW / OIHW) tensor in `layout`. */
export function toLayout(name: string, t: Tensor, layout: Layout): Tensor {
  return isWeight(name) ? weightsFromOihw(t, layout) : name === 'bias' || name === 'db' ? t : activationFromNchw(t, layout);
}
/** A tensor in `layout` back to canonical NCHW / OIHW. */
export function fromLayout(name: string, t: Tensor, layout: Layout): Tensor {
  return isWeight(name) ? weightsToOihw(t, layout) : name === 'bias' || name === 'db' ? t : activationToNchw(t, layout);
}

/** The inputs of a computation, in contract order, canonical. */
export function canonicalInputs(c: Case, computation: Computation): { name: InputName; tensor: Tensor }[] {
  const tensors: Record<InputName, Tensor | undefined> = { x: c.x, dy: c.dy, w: c.op === 'conv2d' ? c.w : undefined, bias: c.op === 'conv2d' ? c.bias : undefined };
  return INPUTS[computation][c.op].flatMap((name) => {
    const tensor = tensors[name];
    return tensor ? [{ name, tensor }] : [];
  });
}

/** The canonical shape of each output of a computation. */
export function outputShapes(c: Case, computation: Computation): { name: OutputName; shape: number[] }[] {
  if (c.op === 'conv2d') {
    const g = c.geometry;
    if (computation === 'forward') return [{ name: 'y', shape: convOutputShape(g) }];
    return [{ name: 'dx', shape: [...c.x.shape] }, { name: 'dw', shape: [...c.w.shape] }, { name: 'db', shape: [g.outChannels] }];
  }
  if (computation === 'indices') return [{ name: 'y', shape: poolOutputShape(c.geometry) }, { name: 'indices', shape: poolOutputShape(c.geometry) }];
  return computation === 'forward' ? [{ name: 'y', shape: poolOutputShape(c.geometry) }] : [{ name: 'dx', shape: [...c.x.shape] }];
}

/** A canonical shape as it is in `layout`. */
export function shapeIn(name: string, shape: readonly number[], layout: Layout): number[] {
  return isWeight(name) ? weightShapeFromOihw(shape, layout) : activationShapeFromNchw(shape, layout);
}

/** The frames a kernel in `layout` receives for a computation (the case's own arrays when NCHW). */
export function framesOf(c: Case, computation: Computation, layout: Layout): Frame[] {
  return canonicalInputs(c, computation).map(({ name, tensor }) => ({ name, ...toLayout(name, tensor, layout) }));
}
