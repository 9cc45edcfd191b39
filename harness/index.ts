// The package's public surface (docs/architecture.md "Package layout and public surface"): the
// implementation contract, the geometry records, and runConformance for programs. Only re-exports.
export { defineImplementation, type ConvGradients, type Implementation, type MaxPoolWithIndices } from './implementation.ts';
export {
  avgPoolDivisor, conv2dGeometry, maxPoolIndex, pool2dGeometry, GeometryError,
  type Conv2dGeometry, type Pool2dGeometry, type ConvAttributes, type PoolAttributes, type Padding,
} from './geometry.ts';
export type { Tensor } from './tensor.ts';
export type { Layout } from './layout.ts';
export { runConformance, type ConformanceOptions, type SelectOptions } from './api.ts';
export type { Report } from './report/types.ts';
export type { Op } from './cases/load.ts';
export type { ContractOp } from './host/protocol.ts';
