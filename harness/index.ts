// The package's public surface: the implementation contract and the geometry records.
export { defineImplementation, type ConvGradients, type Implementation } from './implementation.ts';
export {
  avgPoolDivisor, conv2dGeometry, pool2dGeometry, GeometryError,
  type Conv2dGeometry, type Pool2dGeometry, type ConvAttributes, type PoolAttributes, type Padding,
} from './geometry.ts';
export type { Tensor } from './tensor.ts';
export type { Layout } from './layout.ts';
