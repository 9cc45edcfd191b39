// The case file format, defined once: raw.ts takes its TypeScript types from it, and
// cases/case.schema.json is generated from it (scripts/write-schemas.ts; a test fails when the
// committed file differs), which the loader validates with (validate.ts, ajv). TypeBox, because
// one definition gives both the static types (Static<...>) and standard JSON Schema for editors,
// users and ajv.
//
// The schemas are built by a function that is given TypeBox's builder, so that this module has no
// run-time dependency on it: only the generator calls it (with TypeBox), and the harness imports
// nothing but its types (CaseSchemas), which the build erases.
//
// Only draft-07 keywords are used (tuples as `items` lists), and the parts used in several places
// are written once under `definitions` and referenced, as editors expect.
import type { Static, TSchemaOptions, Type as TypeBox } from 'typebox';
import { CASE_SCHEMA_ID } from './format.ts';

/** Literal values nested to any depth: the one recursive type, so its TypeScript type is spelled here. */
export type Nested = (number | Nested)[];

/** The case file's schemas, built with `Type` (TypeBox's builder). */
export function caseSchemas(Type: typeof TypeBox) {
  const DIRECTIONS = ['forward', 'backward', 'indices', 'both'] as const;
  const LAYOUTS = ['NCHW', 'NHWC'] as const;
  const OpSchema = Type.Enum(['conv2d', 'maxpool2d', 'avgpool2d']);
  const DirectionSchema = Type.Enum(DIRECTIONS);
  const LayoutSchema = Type.Enum(LAYOUTS);

  const positive = Type.Integer({ minimum: 1 });
  const side = Type.Integer({ minimum: 0 });
  const range = Type.Tuple([Type.Number(), Type.Number()]);

  const definitions = {
    pair: Type.Union([positive, Type.Tuple([positive, positive])], { description: 'One integer for both axes, or [height, width].' }),
    padding: Type.Union([Type.Enum(['VALID', 'SAME_UPPER', 'SAME_LOWER']), side, Type.Tuple([side, side, side, side])], {
      description: 'VALID, SAME_UPPER (extra row/column at the end), SAME_LOWER (at the start), one integer for every side, or [top, left, bottom, right].',
    }),
    shape: Type.Array(side, {
      minItems: 1, maxItems: 4,
      description: 'Sizes >= 0; the geometry allows 0 only for the batch and channel dimensions (x\'s N and C, w\'s O and I, bias, dw and db accordingly).',
    }),
    nested: Type.Array(Type.Union([Type.Number(), Type.Unsafe<Nested>(Type.Ref('#/definitions/nested'))]), {
      description: 'Literal values: a flat list (with `shape`) or nested lists whose nesting gives the shape. .nan, .inf and -.inf are allowed.',
    }),
    range,
  };
  type Definitions = typeof definitions;

  /** A reference to `definitions.<name>`, typed as that definition. */
  function ref<K extends keyof Definitions>(name: K, options?: TSchemaOptions) {
    return Type.Unsafe<Static<Definitions[K]>>(Type.Ref(`#/definitions/${name}`, options));
  }

  const GeneratedTensorSchema = Type.Object({
    shape: ref('shape'),
    values: Type.Optional(ref('nested')),
    uniform: Type.Optional(ref('range', { description: '[low, high): uniform float32 values.' })),
    integers: Type.Optional(ref('range', { description: '[low, high]: uniform integers, exact in float32.' })),
    normal: Type.Optional(ref('range', { description: '[mean, stddev]: Box-Muller normals.' })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295, description: 'Default: a hash of the case id and the tensor name.' })),
  }, { additionalProperties: false });

  const tensorDefinition = Type.Union([ref('nested'), GeneratedTensorSchema], {
    description: 'A tensor in the case\'s layout: literal values, or a shape and a seeded generator (default uniform [-1, 1]).',
  });
  const tensor = () => Type.Unsafe<Static<typeof tensorDefinition>>(Type.Ref('#/definitions/tensor'));

  const AttributesSchema = Type.Object({
    strides: Type.Optional(ref('pair')),
    dilations: Type.Optional(ref('pair')),
    padding: Type.Optional(ref('padding')),
    groups: Type.Optional(Type.Integer({ minimum: 1, description: 'conv2d only.' })),
    kernel: Type.Optional(ref('pair', { description: 'Pooling only: window [height, width].' })),
    ceilMode: Type.Optional(Type.Boolean({ description: 'Pooling only: round the output size up.' })),
    countIncludePad: Type.Optional(Type.Boolean({ description: 'avgpool2d only: explicit padding counts in the divisor.' })),
    propagateNan: Type.Optional(Type.Boolean({ description: 'maxpool2d only: a NaN in a window makes the output NaN (default true) or is skipped.' })),
    storageOrder: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)], {
      description: 'maxpool2d only: the layout of the indices output (ONNX MaxPool storage_order): 0 (default) row-major offsets into x, 1 column-major within each plane.',
    })),
  }, { additionalProperties: false });

  const InputsSchema = Type.Object({
    x: tensor(), w: Type.Optional(tensor()), bias: Type.Optional(tensor()), dy: Type.Optional(tensor()),
  }, { additionalProperties: false });

  const ExpectedSchema = Type.Object({
    y: Type.Optional(tensor()), dx: Type.Optional(tensor()), dw: Type.Optional(tensor()), db: Type.Optional(tensor()),
    indices: Type.Optional(tensor()),
  }, { additionalProperties: false, description: 'Exact expected outputs, compared bit for bit (NaN matches NaN). indices (maxpool2d): flat offsets into x in the case\'s storageOrder.' });

  const CaseSchema = Type.Object({
    name: Type.String({ minLength: 1, description: 'Human name; the case id is the name followed by its geometry.' }),
    op: OpSchema,
    direction: Type.Optional(Type.Enum(DIRECTIONS, {
      default: 'both',
      description: 'The computations to run: forward (for maxpool2d also indices), backward, indices (maxpool2d only: y and its indices), or both (all of the op\'s).',
    })),
    layout: Type.Optional(Type.Enum(LAYOUTS, {
      default: 'NCHW', description: 'Layout of x, dy and expected activations; weights are OIHW with NCHW, HWIO with NHWC.',
    })),
    attributes: Type.Optional(AttributesSchema),
    inputs: InputsSchema,
    expected: Type.Optional(ExpectedSchema),
    tolerance: Type.Optional(Type.Object({
      factor: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Multiplies every error budget of this case.' })),
      expected: Type.Optional(Type.Union([
        Type.Object({
          ulps: Type.Integer({ minimum: 0, maximum: 2 ** 31, description: 'Each output element may be this many float32 ULPs from its expected value.' }),
        }, { additionalProperties: false }),
        Type.Object({
          rtol: Type.Optional(Type.Number({ minimum: 0, description: 'Relative: |got - want| <= atol + rtol * |want|.' })),
          atol: Type.Optional(Type.Number({ minimum: 0, description: 'Absolute: |got - want| <= atol + rtol * |want|.' })),
        }, { additionalProperties: false, minProperties: 1 }),
      ], { description: 'For expected outputs computed elsewhere: compare them within this tolerance instead of bit for bit (non-finite values still exactly; -0 matches 0).' })),
    }, { additionalProperties: false })),
    bench: Type.Optional(Type.Union([
      Type.Boolean(),
      Type.Object({ threshold: Type.Number({ exclusiveMinimum: 0 }) }, { additionalProperties: false }),
    ], { description: 'Time this case in benchmark runs and gate it: true, or { threshold } to override the gate\'s slowdown threshold (0.1 = 10%).' })),
    timeLimitSeconds: Type.Optional(Type.Number({
      exclusiveMinimum: 0, maximum: 86400,
      description: 'Time limit of one kernel call of this case, in seconds (at most a day), instead of the run\'s default.',
    })),
    reject: Type.Optional(Type.String({
      minLength: 1,
      description: 'This entry must be refused by the loader, with a message (field: detail) that matches: /regex/ (flags i, m, s, u) or text it contains. A check of the loader, not bad input.',
    })),
    matrix: Type.Optional(Type.Record(Type.String(), Type.Array(Type.Unknown(), { minItems: 1 }), {
      description: 'Dot paths into this case (e.g. attributes.strides, inputs.x.shape) to lists of values; the case expands into their cross product.',
    })),
  }, { additionalProperties: false });

  // A must-reject entry is anything with a `reject` pattern (it is meant to be invalid); the
  // loader still checks it as a case, and the check passes when that fails as the pattern says.
  const RejectEntrySchema = Type.Object({ reject: Type.String({ minLength: 1 }) }, {
    additionalProperties: true, description: 'A case the loader must refuse, with a message that matches `reject`.',
  });
  const CaseFileSchema = Type.Object({
    cases: Type.Array(Type.Union([
      Type.Unsafe<Static<typeof CaseSchema>>(Type.Ref('#/definitions/case')),
      Type.Unsafe<Static<typeof RejectEntrySchema>>(Type.Ref('#/definitions/rejectEntry')),
    ]), { minItems: 1 }),
  }, { additionalProperties: false });

  /** The whole file's schema as published in cases/case.schema.json; its $id is what the loader's references name. */
  const caseFileJsonSchema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: CASE_SCHEMA_ID,
    title: 'convbench case file',
    description: 'A YAML file of conv2d / pooling cases. Editors: add `# yaml-language-server: $schema=../case.schema.json` at the top.',
    ...CaseFileSchema,
    definitions: { ...definitions, tensor: tensorDefinition, case: CaseSchema, rejectEntry: RejectEntrySchema },
  };

  return {
    OpSchema, DirectionSchema, LayoutSchema, GeneratedTensorSchema, AttributesSchema, InputsSchema, ExpectedSchema, CaseSchema,
    RejectEntrySchema, CaseFileSchema, caseFileJsonSchema,
  };
}

/** The case file's schemas (TypeBox's types): `Static<CaseSchemas['CaseSchema']>` is a case. */
export type CaseSchemas = ReturnType<typeof caseSchemas>;
