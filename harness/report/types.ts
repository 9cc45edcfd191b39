// The run report: reports/<name>.json is the source of truth; Markdown, HTML and JUnit are
// rendered from it alone. Its types are those of its schema (schema.ts), so they cannot drift apart;
// the records it shares with the rest of the harness are checked below to be the same types.
import type { Static } from 'typebox';
import type { CheckResult, SubjectKind, TensorCheck } from '../check.ts';
import type { Mismatch, TensorComparison } from '../compare.ts';
import type { Conv2dGeometry, Pool2dGeometry } from '../geometry.ts';
import type { Computation } from '../invoke.ts';
import type { Layout } from '../layout.ts';
import type { AbsentOracle } from '../oracles/oracle.ts';
import type { Disagreement } from '../run.ts';
import type {
  CaseSummarySchema, CheckResultSchema, ComputationSchema, Conv2dGeometrySchema, DisagreementSchema, EnvironmentSchema,
  ErroredGateRowSchema, GateRowSchema, GateSummarySchema, MeasuredGateRowSchema, MismatchSchema, Pool2dGeometrySchema,
  ReportSchema, SubjectKindSchema, TensorCheckSchema, TensorComparisonSchema, TimingSchema,
} from './schema.ts';

export { REPORT_FORMAT, REPORT_VERSION } from './schema.ts';

export type Report = Static<typeof ReportSchema>;
export type Environment = Static<typeof EnvironmentSchema>;
export type CaseSummary = Static<typeof CaseSummarySchema>;
/** One engine's timing of one computation of one case. */
export type Timing = Static<typeof TimingSchema>;
/** One row of a speed gate: a candidate's time relative to a reference engine, interleaved. */
export type GateRow = Static<typeof GateRowSchema>;
export type MeasuredGateRow = Static<typeof MeasuredGateRowSchema>;
/** A pair whose kernel (or reference) threw, hung or crashed while timed, or gave no usable numbers: it fails the gate. */
export type ErroredGateRow = Static<typeof ErroredGateRowSchema>;
export type GateSummary = Static<typeof GateSummarySchema>;

export const isMeasured = (row: GateRow): row is MeasuredGateRow => row.verdict !== 'errored';

/** The gate passed: marked ok, with no regression and no row slower or errored (whoever set `ok`). */
export function gatePassed(g: GateSummary): boolean {
  return g.ok && g.regressions.length === 0 && !g.rows.some((x) => x.verdict === 'slower' || x.verdict === 'errored');
}

// Compile-time: the schema's records are the harness's own types (an error here names the one that drifted).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type SchemaMatchesHarness = [
  Assert<Same<Static<typeof CheckResultSchema>, CheckResult>>,
  Assert<Same<Static<typeof TensorCheckSchema>, TensorCheck>>,
  Assert<Same<Static<typeof TensorComparisonSchema>, TensorComparison>>,
  Assert<Same<Static<typeof MismatchSchema>, Mismatch>>,
  Assert<Same<Static<typeof DisagreementSchema>, Disagreement>>,
  Assert<Same<Report['absentOracles'][number], AbsentOracle>>,
  Assert<Same<Static<typeof Conv2dGeometrySchema>, Conv2dGeometry>>,
  Assert<Same<Static<typeof Pool2dGeometrySchema>, Pool2dGeometry>>,
  Assert<Same<Static<typeof ComputationSchema>, Computation>>,
  Assert<Same<Static<typeof SubjectKindSchema>, SubjectKind>>,
  Assert<Same<Report['implementations'][number]['layout'], Layout>>,
];
