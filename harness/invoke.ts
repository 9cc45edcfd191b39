// Calling one computation of an implementation on a case: inputs converted to its layout once
// (before any timing), outputs converted back to NCHW / OIHW and checked for shape.
import type { Case, OutputName } from './cases/load.ts';
import { isRecord } from './guards.ts';
import type { Implementation } from './implementation.ts';
import { activationFromNchw, activationToNchw, weightsFromOihw, weightsToOihw } from './layout.ts';
import type { Tensor } from './tensor.ts';

export const COMPUTATIONS = ['forward', 'backward'] as const;
export type Computation = (typeof COMPUTATIONS)[number];
export type Outputs = Partial<Record<OutputName, Tensor>>;

export const OUTPUTS: Record<Computation, Record<Case['op'], OutputName[]>> = {
  forward: { conv2d: ['y'], maxpool2d: ['y'], avgpool2d: ['y'] },
  backward: { conv2d: ['dx', 'dw', 'db'], maxpool2d: ['dx'], avgpool2d: ['dx'] },
};

/** The contract method a computation of an op calls. */
export function methodOf(op: Case['op'], computation: Computation): keyof Implementation {
  const base = op === 'conv2d' ? 'conv2d' : op === 'maxpool2d' ? 'maxPool2d' : 'avgPool2d';
  return computation === 'forward' ? base : `${base}Backward`;
}

export interface Prepared {
  /** Calls the kernel on inputs already in its layout; returns its raw result. */
  call(): Promise<unknown>;
  /** Converts a raw result back to canonical named outputs; throws if it is not tensors. */
  collect(raw: unknown): Outputs;
}

function asTensor(v: unknown, what: string): Tensor {
  if (typeof v === 'object' && v !== null && 'data' in v && 'shape' in v && v.data instanceof Float32Array && Array.isArray(v.shape)) {
    return { shape: v.shape.map(Number), data: v.data };
  }
  throw new Error(`${what} is not a tensor { shape: number[], data: Float32Array }`);
}

/** Undefined when the implementation lacks the method (the case is then skipped for it). */
export function prepare(impl: Implementation, c: Case, computation: Computation): Prepared | undefined {
  const layout = impl.layout;
  const act = (t: Tensor) => activationFromNchw(t, layout);
  const back = (v: unknown, what: string) => activationToNchw(asTensor(v, what), layout);
  const x = act(c.x);
  const dy = act(c.dy);
  if (c.op === 'conv2d') {
    const w = weightsFromOihw(c.w, layout);
    const g = c.geometry;
    if (computation === 'forward') {
      const f = impl.conv2d;
      return f && { call: async () => f.call(impl, x, w, c.bias, g), collect: (r) => ({ y: back(r, 'conv2d result') }) };
    }
    const f = impl.conv2dBackward;
    return f && {
      call: async () => f.call(impl, x, w, dy, g),
      collect: (r) => {
        if (!isRecord(r)) throw new Error('conv2dBackward result is not { dx, dw, db }');
        return { dx: back(r.dx, 'dx'), dw: weightsToOihw(asTensor(r.dw, 'dw'), layout), db: asTensor(r.db, 'db') };
      },
    };
  }
  const g = c.geometry;
  const forward = c.op === 'maxpool2d' ? impl.maxPool2d : impl.avgPool2d;
  const backward = c.op === 'maxpool2d' ? impl.maxPool2dBackward : impl.avgPool2dBackward;
  if (computation === 'forward') {
    return forward && { call: async () => forward.call(impl, x, g), collect: (r) => ({ y: back(r, `${c.op} result`) }) };
  }
  return backward && { call: async () => backward.call(impl, x, dy, g), collect: (r) => ({ dx: back(r, `${c.op} backward result`) }) };
}
