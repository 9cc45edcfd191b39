// reports/<name>.json: writing it, and reading it back (a baseline, a shard to merge) with a
// structural check that names the file and the first problem on one line.
//
// JSON has no NaN or Infinity, and comparisons hold them (got, want, ratio, maxRatio, ulps): they
// are written as the strings "NaN", "Infinity" and "-Infinity" and read back as numbers. A field
// that holds a string is never a number in a Report, so a string field whose text happens to be
// "NaN" is restored to that string by the check below.
import type { Direction, Op, OutputName } from '../cases/load.ts';
import type { CheckResult, SubjectKind, TensorCheck } from '../check.ts';
import type { Mismatch, TensorComparison } from '../compare.ts';
import type { Conv2dGeometry, Pool2dGeometry } from '../geometry.ts';
import { isRecord } from '../guards.ts';
import type { Computation, InputName } from '../invoke.ts';
import type { Layout } from '../layout.ts';
import type { AbsentOracle } from '../oracles/oracle.ts';
import type { Disagreement } from '../run.ts';
import {
  type CaseSummary, type Environment, type GateRow, type GateSummary, type Report, REPORT_FORMAT, REPORT_VERSION,
  type Timing,
} from './types.ts';

/** A file that is not a readable convbench report. The message is one line: `<source>: <problem>`. */
export class ReportFormatError extends Error {
  /** `new ReportFormatError(source, problem)`, or one argument: the whole message (it should name the source). */
  constructor(readonly source: string, readonly problem?: string) {
    super(oneLine(problem === undefined ? source : `${source}: ${problem}`));
    this.name = 'ReportFormatError';
  }
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

const NON_FINITE = new Map<string, number>([
  ['NaN', Number.NaN], ['Infinity', Number.POSITIVE_INFINITY], ['-Infinity', Number.NEGATIVE_INFINITY],
]);

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return NON_FINITE.get(value) ?? value;
  return value;
}

export function serializeReport(r: Report): string {
  return `${JSON.stringify(r, replacer, 2)}\n`;
}

/** Parses and checks a report; throws ReportFormatError naming `source` (a file name) and the problem. */
export function parseReport(text: string, source: string): Report {
  let value: unknown;
  try {
    value = JSON.parse(text, reviver);
  } catch (e) {
    throw new ReportFormatError(source, `not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const fail = (problem: string): never => { throw new ReportFormatError(source, problem); };
  if (!isRecord(value)) return fail(`not a convbench report (the top level is ${describe(value)}, not an object)`);
  if (value.format === undefined) return fail(`not a convbench report (no "format": "${REPORT_FORMAT}")`);
  if (value.format !== REPORT_FORMAT) return fail(`not a convbench report ("format" is ${describe(value.format)}, want "${REPORT_FORMAT}")`);
  if (value.version !== REPORT_VERSION) {
    return fail(value.version === undefined ? `report has no "version" (this convbench reads version ${REPORT_VERSION})`
      : typeof value.version === 'number' && value.version < REPORT_VERSION
        ? `report version ${value.version} was written by an older convbench (this one reads version ${REPORT_VERSION}): record it again`
        : `unsupported report version ${describe(value.version)} (this convbench reads version ${REPORT_VERSION})`);
  }
  for (const key of REQUIRED_ARRAYS) {
    if (!Array.isArray(value[key])) {
      return fail(value[key] === undefined ? `missing "${key}" (an array)` : `"${key}" is ${describe(value[key])}, not an array`);
    }
  }
  try {
    return report(value);
  } catch (e) {
    if (e instanceof Problem) return fail(`${e.at}: ${e.message}`);
    throw e;
  }
}

const REQUIRED_ARRAYS = [
  'implementations', 'oracles', 'absentOracles', 'caseErrors', 'cases', 'results', 'disagreements', 'timings',
] as const;

// ---- The structural check: one decoder per type, building the typed value from the checked parts.
// Fields it does not know are kept as they are, so a newer writer's additions survive a round trip.

type Obj = Record<string, unknown>;

class Problem extends Error {
  constructor(readonly at: string, message: string) { super(message); }
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number') return String(v);
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}..."` : s;
}

function object(v: unknown, at: string): Obj {
  if (!isRecord(v)) throw new Problem(at, `expected an object, got ${describe(v)}`);
  return v;
}

function str(v: unknown, at: string): string {
  // The reviver turned the strings "NaN", "Infinity", "-Infinity" into numbers; where a string is
  // expected they were strings (JSON cannot hold the numbers), so turn them back.
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') throw new Problem(at, `expected a string, got ${describe(v)}`);
  return v;
}

function num(v: unknown, at: string): number {
  if (typeof v !== 'number') throw new Problem(at, `expected a number, got ${describe(v)}`);
  return v;
}

function bool(v: unknown, at: string): boolean {
  if (typeof v !== 'boolean') throw new Problem(at, `expected true or false, got ${describe(v)}`);
  return v;
}

function oneOf<const T extends readonly string[]>(v: unknown, values: T, at: string): T[number] {
  const found = values.find((x) => x === v);
  if (found === undefined) throw new Problem(at, `expected one of ${values.map((x) => `"${x}"`).join(', ')}, got ${describe(v)}`);
  return found;
}

function array<T>(v: unknown, at: string, item: (v: unknown, at: string) => T): T[] {
  if (!Array.isArray(v)) throw new Problem(at, `expected an array, got ${describe(v)}`);
  return v.map((x, i) => item(x, `${at}[${i}]`));
}

function strings(v: unknown, at: string): string[] {
  return array(v, at, str);
}

function numbers(v: unknown, at: string): number[] {
  return array(v, at, num);
}

function stringRecord(v: unknown, at: string): Record<string, string> {
  const o = object(v, at);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(o)) out[k] = str(x, `${at}.${k}`);
  return out;
}

/** `{ key: value }` when the field is present, `{}` when it is absent. */
function optional<K extends string, T>(o: Obj, key: K, at: string, dec: (v: unknown, at: string) => T): Partial<Record<K, T>> {
  const v = o[key];
  if (v === undefined) return {};
  const out: Partial<Record<K, T>> = {};
  out[key] = dec(v, at ? `${at}.${key}` : key);
  return out;
}

/**
 * Every value of the union T, checked by the compiler in both directions: a value T lacks, or a
 * member of T the list lacks (a new state, verdict, ...), is a compile error here.
 */
function every<T extends string>() {
  return <const A extends readonly T[]>(values: A & ([Exclude<T, A[number]>] extends [never] ? unknown : { missing: Exclude<T, A[number]> })): A => values;
}

const COMPUTATIONS = every<Computation>()(['forward', 'backward']);
const KINDS = every<SubjectKind>()(['implementation', 'oracle']);
const OPS = every<Op>()(['conv2d', 'maxpool2d', 'avgpool2d']);
const DIRECTIONS = every<Direction>()(['forward', 'backward', 'both']);
const LAYOUTS = every<Layout>()(['NCHW', 'NHWC']);
const OUTPUT_NAMES = every<OutputName | InputName>()(['y', 'dx', 'dw', 'db', 'x', 'w', 'bias', 'dy']);
const RESULT_STATES = every<CheckResult['state']>()(['passed', 'failed', 'skipped', 'n/a', 'errored']);
const TIMING_STATES = every<Timing['state']>()(['measured', 'errored', 'n/a']);
const UNITS = every<Extract<Timing, { state: 'measured' }>['throughputUnit']>()(['GFLOP/s', 'GB/s']);
const VERDICTS = every<GateRow['verdict']>()(['slower', 'faster', 'unchanged', 'unconfirmed', 'new', 'errored']);
const GATE_MODES = every<GateSummary['mode']>()(['baseline', 'compare']);

function environment(v: unknown, at: string): Environment {
  const o = object(v, at);
  return {
    ...o,
    node: str(o.node, `${at}.node`), platform: str(o.platform, `${at}.platform`), arch: str(o.arch, `${at}.arch`),
    cpuModel: str(o.cpuModel, `${at}.cpuModel`), cores: num(o.cores, `${at}.cores`), memoryGiB: num(o.memoryGiB, `${at}.memoryGiB`),
    packages: stringRecord(o.packages, `${at}.packages`), settings: stringRecord(o.settings, `${at}.settings`),
  };
}

/**
 * Geometry records grow with the harness (more counts, more flags): checked loosely, as an object of
 * numbers and flags that has the counts reports use.
 */
function isGeometry(v: unknown, op: string): v is Conv2dGeometry | Pool2dGeometry {
  if (!isRecord(v)) return false;
  if (!Object.values(v).every((x) => typeof x === 'number' || typeof x === 'boolean')) return false;
  const counts = ['batch', 'inHeight', 'inWidth', 'outHeight', 'outWidth', 'kernelHeight', 'kernelWidth', 'forwardFlops', 'forwardBytes'];
  const own = op === 'conv2d' ? ['inChannels', 'outChannels', 'groups', 'backwardFlops'] : ['channels'];
  return [...counts, ...own].every((k) => typeof v[k] === 'number');
}

function caseSummary(v: unknown, at: string): CaseSummary {
  const o = object(v, at);
  const op = oneOf(o.op, OPS, `${at}.op`);
  const geometry = o.geometry;
  if (!isGeometry(geometry, op)) throw new Problem(`${at}.geometry`, `expected a ${op} geometry record, got ${describe(geometry)}`);
  return {
    ...o,
    id: str(o.id, `${at}.id`), name: str(o.name, `${at}.name`), file: str(o.file, `${at}.file`), line: num(o.line, `${at}.line`),
    op, direction: oneOf(o.direction, DIRECTIONS, `${at}.direction`), layout: oneOf(o.layout, LAYOUTS, `${at}.layout`),
    bench: bool(o.bench, `${at}.bench`), geometry,
  };
}

function mismatch(v: unknown, at: string): Mismatch {
  const o = object(v, at);
  return {
    ...o,
    index: num(o.index, `${at}.index`), coord: numbers(o.coord, `${at}.coord`), got: num(o.got, `${at}.got`),
    want: num(o.want, `${at}.want`), error: num(o.error, `${at}.error`), budget: num(o.budget, `${at}.budget`),
    ratio: num(o.ratio, `${at}.ratio`), ulps: num(o.ulps, `${at}.ulps`),
  };
}

function comparison(v: unknown, at: string): TensorComparison {
  const o = object(v, at);
  return {
    ...o,
    ok: bool(o.ok, `${at}.ok`), elements: num(o.elements, `${at}.elements`), failures: num(o.failures, `${at}.failures`),
    maxRatio: num(o.maxRatio, `${at}.maxRatio`), maxUlps: num(o.maxUlps, `${at}.maxUlps`),
    mismatches: array(o.mismatches, `${at}.mismatches`, mismatch),
    ...optional(o, 'problem', at, str),
  };
}

function tensorCheck(v: unknown, at: string): TensorCheck {
  const o = object(v, at);
  return {
    ...o,
    tensor: oneOf(o.tensor, OUTPUT_NAMES, `${at}.tensor`), against: str(o.against, `${at}.against`),
    comparison: comparison(o.comparison, `${at}.comparison`),
  };
}

function checkResult(v: unknown, at: string): CheckResult {
  const o = object(v, at);
  const base = {
    ...o,
    caseId: str(o.caseId, `${at}.caseId`), subject: str(o.subject, `${at}.subject`), kind: oneOf(o.kind, KINDS, `${at}.kind`),
    computation: oneOf(o.computation, COMPUTATIONS, `${at}.computation`),
  };
  const state = oneOf(o.state, RESULT_STATES, `${at}.state`);
  switch (state) {
    case 'passed': case 'failed': return { ...base, state, checks: array(o.checks, `${at}.checks`, tensorCheck) };
    case 'skipped': case 'n/a': return { ...base, state, reason: str(o.reason, `${at}.reason`) };
    case 'errored': return { ...base, state, error: str(o.error, `${at}.error`) };
  }
}

function disagreement(v: unknown, at: string): Disagreement {
  const o = object(v, at);
  return {
    ...o,
    caseId: str(o.caseId, `${at}.caseId`), computation: oneOf(o.computation, COMPUTATIONS, `${at}.computation`),
    tensor: str(o.tensor, `${at}.tensor`), engine: str(o.engine, `${at}.engine`),
    agreeing: strings(o.agreeing, `${at}.agreeing`), disagreeing: strings(o.disagreeing, `${at}.disagreeing`),
    detail: str(o.detail, `${at}.detail`),
  };
}

function timing(v: unknown, at: string): Timing {
  const o = object(v, at);
  const base = {
    ...o,
    caseId: str(o.caseId, `${at}.caseId`), computation: oneOf(o.computation, COMPUTATIONS, `${at}.computation`),
    engine: str(o.engine, `${at}.engine`), kind: oneOf(o.kind, KINDS, `${at}.kind`),
    threads: num(o.threads, `${at}.threads`), processes: num(o.processes, `${at}.processes`),
  };
  const state = oneOf(o.state, TIMING_STATES, `${at}.state`);
  switch (state) {
    case 'measured': return {
      ...base, state,
      samplesMs: numbers(o.samplesMs, `${at}.samplesMs`), medianMs: num(o.medianMs, `${at}.medianMs`),
      p99Ms: num(o.p99Ms, `${at}.p99Ms`), meanMs: num(o.meanMs, `${at}.meanMs`), rmePercent: num(o.rmePercent, `${at}.rmePercent`),
      throughput: num(o.throughput, `${at}.throughput`), throughputUnit: oneOf(o.throughputUnit, UNITS, `${at}.throughputUnit`),
      ratioToFastest: num(o.ratioToFastest, `${at}.ratioToFastest`), ...optional(o, 'ratioToTfjsCpu', at, num),
    };
    case 'errored': return { ...base, state, error: str(o.error, `${at}.error`) };
    case 'n/a': return { ...base, state, reason: str(o.reason, `${at}.reason`) };
  }
}

/**
 * A number the gate decides with: finite, or the report is refused. Written as JSON, NaN and the
 * infinities are the strings "NaN", "Infinity", "-Infinity" (the reviver reads them back as numbers)
 * and a plain JSON.stringify writes them as null; all of these, and strings, stop here.
 */
function finite(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Problem(at, `expected a finite number, got ${describe(v)}`);
  return v;
}

/** Rounds by process: at least one process, each with at least one finite round. */
function rounds(v: unknown, at: string): number[][] {
  const out = array(v, at, (p, pat) => array(p, pat, finite));
  if (out.length === 0) throw new Problem(at, 'no processes (an empty array)');
  const empty = out.findIndex((p) => p.length === 0);
  if (empty >= 0) throw new Problem(`${at}[${empty}]`, 'a process with no rounds (an empty array)');
  return out;
}

function gateRow(v: unknown, at: string): GateRow {
  const o = object(v, at);
  const id = {
    caseId: str(o.caseId, `${at}.caseId`), computation: oneOf(o.computation, COMPUTATIONS, `${at}.computation`),
    candidate: str(o.candidate, `${at}.candidate`), reference: str(o.reference, `${at}.reference`),
  };
  try {
    const verdict = oneOf(o.verdict, VERDICTS, `${at}.verdict`);
    const threshold = finite(o.threshold, `${at}.threshold`);
    if (!(threshold > 0)) throw new Problem(`${at}.threshold`, `expected a positive fraction, got ${threshold}`);
    if (verdict === 'errored') return { ...o, ...id, threshold, verdict, error: str(o.error, `${at}.error`) };
    return {
      ...o, ...id, threshold, verdict,
      logRatios: rounds(o.logRatios, `${at}.logRatios`), estimate: finite(o.estimate, `${at}.estimate`),
      low: finite(o.low, `${at}.low`), high: finite(o.high, `${at}.high`), ...optional(o, 'baseline', at, finite),
    };
  } catch (e) {
    // Named by what it gates, so a bad baseline row can be found without counting.
    if (e instanceof Problem) {
      throw new Problem(e.at, `${e.message}, in the row of case ${JSON.stringify(id.caseId)} ${id.computation}, candidate ${JSON.stringify(id.candidate)} vs ${JSON.stringify(id.reference)}`);
    }
    throw e;
  }
}

function gate(v: unknown, at: string): GateSummary {
  const o = object(v, at);
  return {
    ...o,
    mode: oneOf(o.mode, GATE_MODES, `${at}.mode`), ...optional(o, 'baselineName', at, str),
    ...optional(o, 'foreignBaseline', at, strings),
    regressions: strings(o.regressions, `${at}.regressions`), stillFailing: strings(o.stillFailing, `${at}.stillFailing`),
    rows: array(o.rows, `${at}.rows`, gateRow), ok: bool(o.ok, `${at}.ok`),
  };
}

function implementation(v: unknown, at: string): Report['implementations'][number] {
  const o = object(v, at);
  return { ...o, name: str(o.name, `${at}.name`), layout: oneOf(o.layout, LAYOUTS, `${at}.layout`), source: str(o.source, `${at}.source`) };
}

function oracle(v: unknown, at: string): Report['oracles'][number] {
  const o = object(v, at);
  return { ...o, name: str(o.name, `${at}.name`), versions: stringRecord(o.versions, `${at}.versions`), threads: num(o.threads, `${at}.threads`) };
}

function absentOracle(v: unknown, at: string): AbsentOracle {
  const o = object(v, at);
  return { ...o, name: str(o.name, `${at}.name`), reason: str(o.reason, `${at}.reason`) };
}

function caseError(v: unknown, at: string): Report['caseErrors'][number] {
  const o = object(v, at);
  return {
    ...o,
    file: str(o.file, `${at}.file`), line: num(o.line, `${at}.line`), field: str(o.field, `${at}.field`), message: str(o.message, `${at}.message`),
  };
}

function shard(v: unknown, at: string): { index: number; count: number } {
  const o = object(v, at);
  return { ...o, index: num(o.index, `${at}.index`), count: num(o.count, `${at}.count`) };
}

function report(o: Obj): Report {
  return {
    ...o,
    format: REPORT_FORMAT, version: REPORT_VERSION,
    name: str(o.name, 'name'), createdAt: str(o.createdAt, 'createdAt'), environment: environment(o.environment, 'environment'),
    implementations: array(o.implementations, 'implementations', implementation),
    oracles: array(o.oracles, 'oracles', oracle),
    absentOracles: array(o.absentOracles, 'absentOracles', absentOracle),
    caseErrors: array(o.caseErrors, 'caseErrors', caseError),
    cases: array(o.cases, 'cases', caseSummary),
    results: array(o.results, 'results', checkResult),
    disagreements: array(o.disagreements, 'disagreements', disagreement),
    timings: array(o.timings, 'timings', timing),
    ...optional(o, 'gate', '', gate),
    ...optional(o, 'shards', '', (v, at) => array(v, at, shard)),
  };
}
