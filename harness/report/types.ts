// The run report: reports/<name>.json is the source of truth; Markdown, HTML and JUnit are
// rendered from it alone.
import type { Op, Direction } from '../cases/load.ts';
import type { CheckResult, SubjectKind } from '../check.ts';
import type { Conv2dGeometry, Pool2dGeometry } from '../geometry.ts';
import type { Computation } from '../invoke.ts';
import type { Layout } from '../layout.ts';
import type { AbsentOracle } from '../oracles/oracle.ts';
import type { Disagreement } from '../run.ts';

export const REPORT_FORMAT = 'convbench-report';
export const REPORT_VERSION = 2;

export interface Environment {
  node: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  /** Versions of the packages that matter: engines, tinybench, ... */
  packages: Record<string, string>;
  /** Process settings that change timings (GLIBC_TUNABLES, CI, ...), as they were at start. */
  settings: Record<string, string>;
}

export interface CaseSummary {
  id: string;
  name: string;
  file: string;
  line: number;
  op: Op;
  direction: Direction;
  layout: Layout;
  bench: boolean;
  geometry: Conv2dGeometry | Pool2dGeometry;
}

/** One engine's timing of one computation of one case. */
export type Timing = TimingBase & (
  | { state: 'measured'; samplesMs: number[]; medianMs: number; p99Ms: number; meanMs: number;
      /** Relative margin of error of the mean, in percent (tinybench's rme). */
      rmePercent: number;
      /** GFLOP/s for conv, GB/s for pooling (by the geometry's counts). */
      throughput: number; throughputUnit: 'GFLOP/s' | 'GB/s';
      /** This engine's median over the fastest engine's median on the same computation (>= 1). */
      ratioToFastest: number;
      /** This engine's median over tfjs-cpu's on the same computation, when tfjs-cpu was timed. */
      ratioToTfjsCpu?: number;
      /** Kernels in a host: one call's round trip through the protocol (the samples are the kernel alone). */
      roundTripMs?: number }
  | { state: 'errored'; error: string }
  | { state: 'n/a'; reason: string }
);
interface TimingBase { caseId: string; computation: Computation; engine: string; kind: SubjectKind; threads: number; processes: number }

/** One row of a speed gate: a candidate's time relative to a reference engine, interleaved. */
export type GateRow = MeasuredGateRow | ErroredGateRow;

interface GateRowBase {
  caseId: string;
  computation: Computation;
  candidate: string;
  reference: string;
  /** Slowdown threshold as a fraction (0.1 = 10%). */
  threshold: number;
}

export interface MeasuredGateRow extends GateRowBase {
  /** Per-round ln(candidate / reference), grouped by the process that measured them. */
  logRatios: number[][];
  /**
   * Mean over processes of each one's Hodges-Lehmann estimate of its log ratios (against a
   * baseline: minus the baseline's), and its two-stage bootstrap 95% interval.
   */
  estimate: number;
  low: number;
  high: number;
  /** The baseline's estimate of the ratio for the same pair, when comparing against a baseline report. */
  baseline?: number;
  /** 'new': no baseline row to compare with (recorded only); 'unconfirmed': slower once, not on the re-run. */
  verdict: 'slower' | 'faster' | 'unchanged' | 'unconfirmed' | 'new';
}

/** A pair whose kernel (or reference) threw, hung or crashed while timed, or gave no usable numbers: it fails the gate. */
export interface ErroredGateRow extends GateRowBase {
  verdict: 'errored';
  error: string;
}

export const isMeasured = (row: GateRow): row is MeasuredGateRow => row.verdict !== 'errored';

export interface GateSummary {
  mode: 'baseline' | 'compare';
  baselineName?: string;
  /**
   * Why the baseline's timings may not compare with this run's (another CPU, core count, Node or
   * engine version): one reason per difference. A warning, shown in every report; it does not fail
   * the gate, since the gate judges ratios to a reference engine timed alongside, not absolute times.
   */
  foreignBaseline?: string[];
  /** Cases that passed in the baseline and fail now. */
  regressions: string[];
  /** Failing cases that never passed in the baseline (or are new). */
  stillFailing: string[];
  rows: GateRow[];
  ok: boolean;
}

/** The gate passed: marked ok, with no regression and no row slower or errored (whoever set `ok`). */
export function gatePassed(g: GateSummary): boolean {
  return g.ok && g.regressions.length === 0 && !g.rows.some((x) => x.verdict === 'slower' || x.verdict === 'errored');
}

export interface Report {
  format: typeof REPORT_FORMAT;
  version: typeof REPORT_VERSION;
  name: string;
  createdAt: string;
  environment: Environment;
  implementations: { name: string; layout: Layout; source: string }[];
  oracles: { name: string; versions: Record<string, string>; threads: number }[];
  absentOracles: AbsentOracle[];
  caseErrors: { file: string; line: number; field: string; message: string }[];
  cases: CaseSummary[];
  results: CheckResult[];
  disagreements: Disagreement[];
  timings: Timing[];
  gate?: GateSummary;
  /** Set when this run was one shard of several (`--shard i/n`), or lists the merged shards. */
  shards?: { index: number; count: number }[];
}
