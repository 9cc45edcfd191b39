// The public implementation contract (docs/architecture.md "Implementation contract").
import type { Conv2dGeometry, Pool2dGeometry } from './geometry.ts';
import { isRecord } from './guards.ts';
import { CONTRACT_OPS, type ContractOp, isContractOp } from './host/protocol.ts';
import type { Layout } from './layout.ts';
import type { Tensor } from './tensor.ts';

type MaybePromise<T> = T | Promise<T>;

export interface ConvGradients { dx: Tensor; dw: Tensor; db: Tensor }

/**
 * maxPool2dWithIndices's result: y, and per output element the index of its window's maximum (the
 * tap maxPool2dBackward sends the gradient to) as a float32 integer, ONNX MaxPool's `Indices` in
 * `g.storageOrder`: 0, the flat offset into the NCHW x, ((n * C + c) * H + h) * W + w; 1,
 * column-major within the plane, ((n * C + c) * W + w) * H + h. Offsets are always of the NCHW
 * x, whatever the kernel's layout (an NHWC kernel returns the indices tensor itself in NHWC).
 */
export interface MaxPoolWithIndices { y: Tensor; indices: Tensor }

export interface Implementation {
  name: string;
  /** x/y layout; weights are OIHW for NCHW, HWIO for NHWC. */
  layout: Layout;
  /** Threads the kernel computes on (default 1), recorded in the report beside its timings. */
  threads?: number;
  conv2d?(x: Tensor, w: Tensor, bias: Tensor | undefined, g: Conv2dGeometry): MaybePromise<Tensor>;
  conv2dBackward?(x: Tensor, w: Tensor, dy: Tensor, g: Conv2dGeometry): MaybePromise<ConvGradients>;
  maxPool2d?(x: Tensor, g: Pool2dGeometry): MaybePromise<Tensor>;
  maxPool2dBackward?(x: Tensor, dy: Tensor, g: Pool2dGeometry): MaybePromise<Tensor>;
  /** Optional: y and the indices of its maxima (MaxPoolWithIndices), the `indices` computation of max-pool cases. */
  maxPool2dWithIndices?(x: Tensor, g: Pool2dGeometry): MaybePromise<MaxPoolWithIndices>;
  avgPool2d?(x: Tensor, g: Pool2dGeometry): MaybePromise<Tensor>;
  avgPool2dBackward?(x: Tensor, dy: Tensor, g: Pool2dGeometry): MaybePromise<Tensor>;
  /**
   * Whether the kernel takes a computation, asked in its host before the call: `true`, or why not
   * (a non-empty string; reported "n/a for <name>: <reason>", never called, never timed). `g` is
   * the record the op receives; `op` is the contract op, so one direction can be declined.
   */
  supports?(g: Conv2dGeometry | Pool2dGeometry, op: ContractOp): MaybePromise<true | string>;
}

/** Identity at run time; gives a user's module type checking (an unknown property, such as a misspelt op, is an error). */
export function defineImplementation(impl: Implementation): Implementation {
  return impl;
}

const OPS = CONTRACT_OPS;

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/**
 * The contract op a name nearly is (another case, or a letter or two off: one for conv2d), or
 * undefined. Only names of a 2-D op count: a library's conv1d, conv3d or maxPool is its own business.
 */
export function nearMissOf(name: string): ContractOp | undefined {
  if (isContractOp(name) || !/2d/i.test(name)) return undefined;
  let best: { op: ContractOp; d: number } | undefined;
  for (const op of OPS) {
    const d = editDistance(name.toLowerCase(), op.toLowerCase());
    if (d <= (op.length > 6 ? 2 : 1) && (!best || d < best.d)) best = { op, d };
  }
  return best?.op;
}

/** Every property name of an object and of its prototypes (a class's methods), Object.prototype's aside. */
function propertyNames(value: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = value; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) names.add(k);
  }
  return [...names];
}

/** Checks that a loaded module's value satisfies the contract; returns why not, or undefined. */
export function implementationProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'the default export is not an object';
  if (typeof value.name !== 'string' || value.name === '') return 'it has no string "name"';
  if (value.layout !== 'NCHW' && value.layout !== 'NHWC') return `its "layout" must be 'NCHW' or 'NHWC', got ${JSON.stringify(value.layout)}`;
  for (const op of OPS) {
    if (value[op] !== undefined && typeof value[op] !== 'function') return `"${op}" is not a function`;
  }
  if (value.supports !== undefined && typeof value.supports !== 'function') return '"supports" is not a function';
  if (value.threads !== undefined && !(typeof value.threads === 'number' && Number.isInteger(value.threads) && value.threads >= 1 && value.threads <= 1024)) {
    return `"threads" must be an integer from 1 to 1024, got ${JSON.stringify(value.threads)?.slice(0, 40)}`;
  }
  for (const key of propertyNames(value)) {
    const op = nearMissOf(key);
    if (op && typeof value[key] === 'function') return `"${key}" is not a contract op; did you mean "${op}"?`;
  }
  if (!OPS.some((op) => typeof value[op] === 'function')) return `it implements none of ${OPS.join(', ')}`;
  return undefined;
}

export function isImplementation(value: unknown): value is Implementation {
  return implementationProblem(value) === undefined;
}
