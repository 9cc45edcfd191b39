// The public implementation contract (DESIGN.md "The implementation contract").
import type { Conv2dGeometry, Pool2dGeometry } from './geometry.ts';
import { isRecord } from './guards.ts';
import { CONTRACT_OPS } from './host/protocol.ts';
import type { Layout } from './layout.ts';
import type { Tensor } from './tensor.ts';

type MaybePromise<T> = T | Promise<T>;

export interface ConvGradients { dx: Tensor; dw: Tensor; db: Tensor }

export interface Implementation {
  name: string;
  /** x/y layout; weights are OIHW for NCHW, HWIO for NHWC. */
  layout: Layout;
  conv2d?(x: Tensor, w: Tensor, bias: Tensor | undefined, g: Conv2dGeometry): MaybePromise<Tensor>;
  conv2dBackward?(x: Tensor, w: Tensor, dy: Tensor, g: Conv2dGeometry): MaybePromise<ConvGradients>;
  maxPool2d?(x: Tensor, g: Pool2dGeometry): MaybePromise<Tensor>;
  maxPool2dBackward?(x: Tensor, dy: Tensor, g: Pool2dGeometry): MaybePromise<Tensor>;
  avgPool2d?(x: Tensor, g: Pool2dGeometry): MaybePromise<Tensor>;
  avgPool2dBackward?(x: Tensor, dy: Tensor, g: Pool2dGeometry): MaybePromise<Tensor>;
}

/** Identity at run time; gives a user's module type checking. */
export function defineImplementation<T extends Implementation>(impl: T): T {
  return impl;
}

const OPS = CONTRACT_OPS;

/** Checks that a loaded module's value satisfies the contract; returns why not, or undefined. */
export function implementationProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'the default export is not an object';
  if (typeof value.name !== 'string' || value.name === '') return 'it has no string "name"';
  if (value.layout !== 'NCHW' && value.layout !== 'NHWC') return `its "layout" must be 'NCHW' or 'NHWC', got ${JSON.stringify(value.layout)}`;
  for (const op of OPS) {
    if (value[op] !== undefined && typeof value[op] !== 'function') return `"${op}" is not a function`;
  }
  if (!OPS.some((op) => typeof value[op] === 'function')) return `it implements none of ${OPS.join(', ')}`;
  return undefined;
}

export function isImplementation(value: unknown): value is Implementation {
  return implementationProblem(value) === undefined;
}
