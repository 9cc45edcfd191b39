// A case as cases/case.schema.json allows it, before matrix expansion and geometry checks.
// Keep in step with the schema: load.ts trusts these types once ajv has accepted a case.
import type { Layout } from '../layout.ts';
import type { Direction, Op, OutputName } from './load.ts';

/** One integer for both axes, or [height, width]. */
export type RawPair = number | [number, number];
export type RawPadding = 'VALID' | 'SAME_UPPER' | 'SAME_LOWER' | number | [number, number, number, number];
/** Literal values: a flat list or nested lists (non-finite numbers allowed). */
export type Nested = (number | Nested)[];
export type Range = [number, number];

export interface GeneratedTensor {
  shape: number[];
  values?: Nested;
  uniform?: Range;
  integers?: Range;
  normal?: Range;
  seed?: number;
}
export type RawTensor = Nested | GeneratedTensor;

export interface RawAttributes {
  strides?: RawPair;
  dilations?: RawPair;
  padding?: RawPadding;
  groups?: number;
  kernel?: RawPair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  propagateNan?: boolean;
}

export type RawExpected = { [K in OutputName]?: RawTensor };

export interface RawCase {
  name: string;
  op: Op;
  direction?: Direction;
  layout?: Layout;
  attributes?: RawAttributes;
  inputs: { x: RawTensor; w?: RawTensor; bias?: RawTensor; dy?: RawTensor };
  expected?: RawExpected;
  tolerance?: { factor?: number };
  bench?: boolean | { threshold: number };
  /** Time limit of one kernel call, in seconds (0 < t <= 86400). */
  timeLimitSeconds?: number;
  /** Dot paths to lists of values; any values (the expanded case is validated again). */
  matrix?: Record<string, unknown[]>;
}
