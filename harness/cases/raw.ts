// A case as the case file schema (schema.ts) allows it, before matrix expansion and geometry checks.
// Every type here is taken from the schema, so load.ts can trust them once the validator accepts a case.
import type { Static } from 'typebox';
import type { Layout } from '../layout.ts';
import type {
  AttributesSchema, CaseSchema, DirectionSchema, ExpectedSchema, GeneratedTensorSchema, InputsSchema, LayoutSchema, OpSchema,
} from './schema.ts';

export type { Nested } from './schema.ts';
export type Op = Static<typeof OpSchema>;
export type Direction = Static<typeof DirectionSchema>;
export type RawCase = Static<typeof CaseSchema>;
export type RawAttributes = Static<typeof AttributesSchema>;
export type RawExpected = Static<typeof ExpectedSchema>;
export type OutputName = keyof RawExpected;
export type RawInputs = Static<typeof InputsSchema>;
export type RawTensor = RawInputs['x'];
export type GeneratedTensor = Static<typeof GeneratedTensorSchema>;
/** One integer for both axes, or [height, width]. */
export type RawPair = NonNullable<RawAttributes['strides']>;
export type RawPadding = NonNullable<RawAttributes['padding']>;
export type Range = NonNullable<GeneratedTensor['uniform']>;

// Compile-time: the schema's layouts are layout.ts's (an error here when they differ).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type LayoutsMatch = Assert<Same<Static<typeof LayoutSchema>, Layout>>;
