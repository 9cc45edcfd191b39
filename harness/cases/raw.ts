// A case as the case file schema (schema.ts) allows it, before matrix expansion and geometry checks.
// Every type here is taken from the schema, so load.ts can trust them once the validator accepts a case.
// The imports are of types only: the build erases them, and nothing here loads TypeBox at run time.
import type { Static } from 'typebox';
import type { Layout } from '../layout.ts';
import type { CaseSchemas } from './schema.ts';

export type { Nested } from './schema.ts';
type S = CaseSchemas;
export type Op = Static<S['OpSchema']>;
export type Direction = Static<S['DirectionSchema']>;
export type RawCase = Static<S['CaseSchema']>;
export type RawAttributes = Static<S['AttributesSchema']>;
export type RawExpected = Static<S['ExpectedSchema']>;
export type OutputName = keyof RawExpected;
/** `tolerance.expected`: ulps, or rtol and atol, for expected outputs computed elsewhere. */
export type ExpectedTolerance = NonNullable<NonNullable<RawCase['tolerance']>['expected']>;
export type RawInputs = Static<S['InputsSchema']>;
export type RawTensor = RawInputs['x'];
export type GeneratedTensor = Static<S['GeneratedTensorSchema']>;
/** One integer for both axes, or [height, width]. */
export type RawPair = NonNullable<RawAttributes['strides']>;
export type RawPadding = NonNullable<RawAttributes['padding']>;
export type Range = NonNullable<GeneratedTensor['uniform']>;

// Compile-time: the schema's layouts are layout.ts's (an error here when they differ).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type LayoutsMatch = Assert<Same<Static<S['LayoutSchema']>, Layout>>;
