// The run report's format, defined once: types.ts takes its types from it (Static<...>),
// schema/report.schema.json is generated from it (scripts/write-schemas.ts; a test fails when the
// committed file differs), and parseReport (json.ts) checks a report against that file with a
// validator compiled by ajv. TypeBox, because one definition gives both the TypeScript types and
// standard JSON Schema (draft-07 keywords only) for anyone who reads reports.
//
// The schemas are built by a function that is given TypeBox's builder, so that this module has no
// run-time dependency on it: only the generator calls it (with TypeBox), and the harness imports
// nothing but its types (ReportSchemas), which the build erases. The constants run-time code needs
// are in format.ts.
//
// JSON has no NaN or Infinity, and comparisons and timings can hold them: such a number is written
// as the string "NaN", "Infinity" or "-Infinity" (serializeReport), which the schema allows where a
// number may be non-finite (`num`). The speed gate's numbers must be finite, plain JSON numbers.
import type { TSchemaOptions, Type as TypeBox } from 'typebox';
import { caseSchemas } from '../cases/schema.ts';
import { NON_FINITE, REPORT_FORMAT, REPORT_SCHEMA_ID, REPORT_VERSION } from './format.ts';

/** The report's schemas, built with `Type` (TypeBox's builder). */
export function reportSchemas(Type: typeof TypeBox) {
  const { DirectionSchema, LayoutSchema, OpSchema } = caseSchemas(Type);

  /** A number, or one of NON_FINITE for a non-finite one; a number once read (json.ts turns the strings back). */
  const num = (options?: TSchemaOptions) =>
    Type.Unsafe<number>(Type.Union([Type.Number(), Type.Enum(NON_FINITE)], options));
  const int = (description?: string) => Type.Integer(description === undefined ? {} : { description });
  const str = (description?: string) => Type.String(description === undefined ? {} : { description });
  const strings = Type.Array(Type.String());
  const strRecord = (description?: string) => Type.Record(Type.String(), Type.String(), description === undefined ? {} : { description });

  const ComputationSchema = Type.Enum(['forward', 'backward', 'indices'], { description: 'forward, backward, or indices (max pooling: y and the indices of its maxima).' });
  const SubjectKindSchema = Type.Enum(['implementation', 'oracle']);
  /** An output (y, dx, dw, db, indices) or an input (a breach of the call contract writes one). */
  const TensorNameSchema = Type.Enum(['y', 'dx', 'dw', 'db', 'indices', 'x', 'w', 'bias', 'dy']);

  const EnvironmentSchema = Type.Object({
    node: Type.String(), platform: Type.String(), arch: Type.String(), cpuModel: Type.String(), cores: int(), memoryGiB: num(),
    packages: strRecord('Versions of the packages that matter: engines, tinybench, ...'),
    settings: strRecord('Process settings that change timings (GLIBC_TUNABLES, CI, ...), as they were at start.'),
  }, { description: 'The machine and software the run was made on.' });

  const commonGeometry = {
    batch: int(), inHeight: int(), inWidth: int(), outHeight: int(), outWidth: int(), kernelHeight: int(), kernelWidth: int(),
    strideHeight: int(), strideWidth: int(), dilationHeight: int(), dilationWidth: int(),
    padTop: int(), padLeft: int(), padBottom: int(), padRight: int(),
    effectiveKernelHeight: int('(kernel - 1) * dilation + 1: the rows one window spans.'),
    effectiveKernelWidth: int('(kernel - 1) * dilation + 1: the columns one window spans.'),
    forwardFlops: int('Multiply-adds counted as 2 FLOPs (conv), or one per window tap (pooling).'),
    forwardBytes: int('float32 bytes read and written by one forward call.'),
  };
  const Conv2dGeometrySchema = Type.Object({
    ...commonGeometry, inChannels: int(), outChannels: int(), groups: int(),
    backwardFlops: int('FLOPs of dx and dw.'),
  });
  const Pool2dGeometrySchema = Type.Object({
    ...commonGeometry, channels: int(),
    countIncludePad: Type.Boolean({ description: 'Average pooling: explicit padding counts in the divisor.' }),
    propagateNan: Type.Boolean({ description: 'Max pooling: a NaN in a window makes the output NaN (true) or is skipped (false).' }),
    storageOrder: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)], {
      description: 'Max pooling\'s indices (ONNX storage_order): 0 row-major offsets into x, 1 column-major within each plane. Absent (0) in reports written before the indices computation.',
    })),
    backwardBytes: int('float32 bytes read and written by one backward call (x, dy, dx).'),
  });

  const CaseSummarySchema = Type.Object({
    id: str('Unique: the name followed by the geometry.'), name: Type.String(),
    file: str('The case file, relative to the project when inside it.'), line: int(),
    op: OpSchema, direction: DirectionSchema,
    layout: LayoutSchema,
    bench: Type.Boolean(),
    geometry: Type.Union([Conv2dGeometrySchema, Pool2dGeometrySchema]),
  });

  const MismatchSchema = Type.Object({
    index: int(), coord: Type.Array(Type.Integer(), { description: 'Element coordinates, e.g. (n, c, y, x) for activations.' }),
    got: num(), want: num(), error: num(), budget: num(), ratio: num({ description: 'error / budget: above 1 fails.' }), ulps: num(),
  });

  const TensorComparisonSchema = Type.Object({
    ok: Type.Boolean(), elements: int(), failures: int(),
    maxRatio: num({ description: 'Largest error / budget over the finite elements (0 when all are exact).' }), maxUlps: num(),
    mismatches: Type.Array(MismatchSchema, { description: 'The worst few failing elements, worst first.' }),
    problem: Type.Optional(str('A shape mismatch or missing output, when the comparison could not be made element-wise.')),
    overflowProne: Type.Optional(int('Elements whose float32 partial sums may overflow (sum |term| past the float32 range); absent when none.')),
    overflowed: Type.Optional(int('Of the overflow-prone elements, those where a side was non-finite and so accepted; absent when none.')),
  });

  const TensorCheckSchema = Type.Object({
    tensor: TensorNameSchema,
    against: str('What the result was compared with: expected (exactly, or "expected within <tolerance>"), reference64, an engine, or the call contract.'),
    comparison: TensorComparisonSchema,
  });

  const resultBase = { caseId: Type.String(), subject: str('The implementation or oracle checked.'), kind: SubjectKindSchema, computation: ComputationSchema };
  const CheckResultSchema = Type.Union([
    Type.Object({ ...resultBase, state: Type.Enum(['passed', 'failed']), checks: Type.Array(TensorCheckSchema) }),
    Type.Object({ ...resultBase, state: Type.Enum(['skipped', 'n/a']), reason: Type.String() }),
    Type.Object({ ...resultBase, state: Type.Literal('errored'), error: Type.String(), stack: Type.Optional(strings) }),
  ], { description: 'One subject\'s check of one computation of one case.' });

  const DisagreementSchema = Type.Object({
    caseId: Type.String(), computation: ComputationSchema, tensor: Type.String(), engine: Type.String(),
    agreeing: Type.Array(Type.String(), { description: 'Other engines that agree with reference64 on this tensor.' }),
    disagreeing: Type.Array(Type.String(), { description: 'Other engines that disagree too.' }),
    detail: str('The worst element, formatted, or the shape problem.'),
  }, { description: 'An oracle whose result disagrees with reference64, and what the other engines did.' });

  const timingBase = {
    caseId: Type.String(), computation: ComputationSchema, engine: Type.String(), kind: SubjectKindSchema, threads: int(), processes: int(),
  };
  const MeasuredTimingSchema = Type.Object({
    ...timingBase, state: Type.Literal('measured'),
    samplesMs: Type.Array(num()), medianMs: num(), p99Ms: num(), meanMs: num(),
    rmePercent: num({ description: 'Relative margin of error of the mean, in percent (tinybench\'s rme).' }),
    throughput: num({ description: 'GFLOP/s for conv, GB/s for pooling (by the geometry\'s counts).' }),
    throughputUnit: Type.Enum(['GFLOP/s', 'GB/s']),
    ratioToFastest: num({ description: 'This engine\'s median over the fastest engine\'s median on the same computation (>= 1).' }),
    ratioToTfjsCpu: Type.Optional(num({ description: 'This engine\'s median over tfjs-cpu\'s on the same computation, when tfjs-cpu was timed.' })),
    roundTripMs: Type.Optional(num({ description: 'Kernels in a host: one call\'s round trip through the protocol (the samples are the kernel alone).' })),
  });
  const TimingSchema = Type.Union([
    MeasuredTimingSchema,
    Type.Object({ ...timingBase, state: Type.Literal('errored'), error: Type.String() }),
    Type.Object({ ...timingBase, state: Type.Literal('n/a'), reason: Type.String() }),
  ], { description: 'One engine\'s timing of one computation of one case.' });

  const gateRowBase = {
    caseId: Type.String(), computation: ComputationSchema, candidate: Type.String(), reference: Type.String(),
    threshold: Type.Number({ exclusiveMinimum: 0, description: 'Slowdown threshold as a fraction (0.1 = 10%).' }),
  };
  const MeasuredGateRowSchema = Type.Object({
    ...gateRowBase,
    logRatios: Type.Array(Type.Array(Type.Number(), { minItems: 1 }), {
      minItems: 1, description: 'Per-round ln(candidate / reference), grouped by the process that measured them.',
    }),
    estimate: Type.Number({
      description: 'Mean over processes of each one\'s Hodges-Lehmann estimate of its log ratios (against a baseline: minus the baseline\'s).',
    }),
    low: Type.Number({ description: 'The estimate\'s two-stage bootstrap 95% interval.' }),
    high: Type.Number({ description: 'The estimate\'s two-stage bootstrap 95% interval.' }),
    baseline: Type.Optional(Type.Number({ description: 'The baseline\'s estimate of the ratio for the same pair, when comparing against a baseline report.' })),
    baselineProcesses: Type.Optional(Type.Integer({ minimum: 1, description: 'The processes the baseline measured this pair in (its logRatios entries).' })),
    verdict: Type.Enum(['slower', 'faster', 'unchanged', 'unconfirmed', 'new'], {
      description: '"new": no baseline row to compare with (recorded only); "unconfirmed": slower once, not on the re-run.',
    }),
  });
  const ErroredGateRowSchema = Type.Object({
    ...gateRowBase, verdict: Type.Literal('errored'), error: Type.String(),
  }, { description: 'A pair whose kernel (or reference) threw, hung or crashed while timed, or gave no usable numbers: it fails the gate.' });
  const GateRowSchema = Type.Union([MeasuredGateRowSchema, ErroredGateRowSchema], {
    description: 'One row of a speed gate: a candidate\'s time relative to a reference engine, interleaved.',
  });

  const GateSummarySchema = Type.Object({
    mode: Type.Enum(['baseline', 'compare']),
    baselineName: Type.Optional(Type.String()),
    foreignBaseline: Type.Optional(Type.Array(Type.String(), {
      description: 'Why the baseline\'s timings may not compare with this run\'s (another CPU, core count, Node or engine version): a warning.',
    })),
    regressions: Type.Array(Type.String(), { description: 'Cases that passed in the baseline and fail now.' }),
    stillFailing: Type.Array(Type.String(), { description: 'Failing cases that never passed in the baseline (or are new).' }),
    rows: Type.Array(GateRowSchema),
    ok: Type.Boolean(),
  });

  const ReportSchema = Type.Object({
    format: Type.Literal(REPORT_FORMAT),
    version: Type.Literal(REPORT_VERSION),
    name: Type.String(),
    createdAt: str('ISO 8601 time of the run.'),
    environment: EnvironmentSchema,
    implementations: Type.Array(Type.Object({
      name: Type.String(), layout: LayoutSchema, source: Type.String(),
      threads: Type.Optional(Type.Integer({ minimum: 1, description: 'Threads the kernel computes on, as it declares (`threads` in the contract; 1 when it does not say).' })),
    })),
    oracles: Type.Array(Type.Object({ name: Type.String(), versions: strRecord(), threads: int() })),
    absentOracles: Type.Array(Type.Object({ name: Type.String(), reason: Type.String() }), { description: 'Oracles that could not be loaded, and why.' }),
    caseErrors: Type.Array(Type.Object({ file: Type.String(), line: int(), field: Type.String(), message: Type.String() }), {
      description: 'Problems in case files (the other cases still ran).',
    }),
    rejections: Type.Optional(Type.Array(Type.Object({
      name: Type.String(), file: Type.String(), line: int(), pattern: Type.String(), ok: Type.Boolean(),
      message: str('The loader\'s message when ok; else what went wrong (it loaded, or refused with another message).'),
    }), { description: 'Must-reject entries of the case files (`reject:`): checks of the loader; one not ok fails the run.' })),
    cases: Type.Array(CaseSummarySchema),
    results: Type.Array(CheckResultSchema),
    disagreements: Type.Array(DisagreementSchema),
    timings: Type.Array(TimingSchema),
    gate: Type.Optional(GateSummarySchema),
    phasesMs: Type.Optional(Type.Object({
      loading: num({ description: 'Cases loaded, kernel hosts and oracles started.' }),
      checking: num({ description: 'Every computation checked.' }),
      timing: num({ description: 'The bench cases timed (0 with --no-bench).' }),
    }, { description: "Wall time of a run's phases, ms (absent in merged reports and the API's)." })),
    shards: Type.Optional(Type.Array(Type.Object({ index: int(), count: int() }), {
      description: 'Set when this run was one shard of several (--shard i/n), or lists the merged shards.',
    })),
  });

  /** The schema as published in schema/report.schema.json. */
  const reportJsonSchema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: REPORT_SCHEMA_ID,
    title: 'convbench report',
    description: `reports/<name>.json: a convbench run, the source of its Markdown, HTML and JUnit renderings. Numbers that JSON cannot hold are the strings ${NON_FINITE.map((s) => `"${s}"`).join(', ')}. Readers keep fields they do not know.`,
    ...ReportSchema,
  };

  return {
    ComputationSchema, SubjectKindSchema, TensorNameSchema, EnvironmentSchema, Conv2dGeometrySchema, Pool2dGeometrySchema,
    CaseSummarySchema, MismatchSchema, TensorComparisonSchema, TensorCheckSchema, CheckResultSchema, DisagreementSchema,
    MeasuredTimingSchema, TimingSchema, MeasuredGateRowSchema, ErroredGateRowSchema, GateRowSchema, GateSummarySchema, ReportSchema,
    reportJsonSchema,
  };
}

/** The report's schemas (TypeBox's types): `Static<ReportSchemas['ReportSchema']>` is a report. */
export type ReportSchemas = ReturnType<typeof reportSchemas>;
