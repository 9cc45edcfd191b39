// The run report: reports/<name>.json is the source of truth; Markdown, HTML and JUnit are
// rendered from it alone. Its types are those of its schema (schema.ts; imported as types only, so
// the build erases the import), so they cannot drift apart; the records it shares with the rest of
// the harness are checked below to be the same types.
import type { Static } from 'typebox';
import type { CheckResult, SubjectKind, TensorCheck } from '../check.ts';
import type { Mismatch, TensorComparison } from '../compare.ts';
import type { Conv2dGeometry, Pool2dGeometry } from '../geometry.ts';
import type { Computation } from '../invoke.ts';
import type { Layout } from '../layout.ts';
import type { AbsentOracle } from '../oracles/oracle.ts';
import type { Disagreement } from '../run.ts';
import type { ReportSchemas } from './schema.ts';

export { REPORT_FORMAT, REPORT_VERSION } from './format.ts';

type S = ReportSchemas;

export type Report = Static<S['ReportSchema']>;
export type Environment = Static<S['EnvironmentSchema']>;
export type CaseSummary = Static<S['CaseSummarySchema']>;
/** One engine's timing of one computation of one case. */
export type Timing = Static<S['TimingSchema']>;
/** One row of a speed gate: a candidate's time relative to a reference engine, interleaved. */
export type GateRow = Static<S['GateRowSchema']>;
export type MeasuredGateRow = Static<S['MeasuredGateRowSchema']>;
/** A pair whose kernel (or reference) threw, hung or crashed while timed, or gave no usable numbers: it fails the gate. */
export type ErroredGateRow = Static<S['ErroredGateRowSchema']>;
export type GateSummary = Static<S['GateSummarySchema']>;

export const isMeasured = (row: GateRow): row is MeasuredGateRow => row.verdict !== 'errored';

/** The gate passed: marked ok, with no regression and no row slower or errored (whoever set `ok`). */
export function gatePassed(g: GateSummary): boolean {
  return g.ok && g.regressions.length === 0 && !g.rows.some((x) => x.verdict === 'slower' || x.verdict === 'errored');
}

// Compile-time: the schema's records are the harness's own types (an error here names the one that drifted).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type SchemaMatchesHarness = [
  Assert<Same<Static<S['CheckResultSchema']>, CheckResult>>,
  Assert<Same<Static<S['TensorCheckSchema']>, TensorCheck>>,
  Assert<Same<Static<S['TensorComparisonSchema']>, TensorComparison>>,
  Assert<Same<Static<S['MismatchSchema']>, Mismatch>>,
  Assert<Same<Static<S['DisagreementSchema']>, Disagreement>>,
  Assert<Same<Report['absentOracles'][number], AbsentOracle>>,
  Assert<Same<Static<S['Conv2dGeometrySchema']>, Conv2dGeometry>>,
  // storageOrder is optional in reports: those written before the indices computation lack it (0).
  Assert<Same<Static<S['Pool2dGeometrySchema']>, Omit<Pool2dGeometry, 'storageOrder'> & Partial<Pick<Pool2dGeometry, 'storageOrder'>>>>,
  Assert<Same<Static<S['ComputationSchema']>, Computation>>,
  Assert<Same<Static<S['SubjectKindSchema']>, SubjectKind>>,
  Assert<Same<Report['implementations'][number]['layout'], Layout>>,
];
