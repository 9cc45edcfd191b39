// One harness session: select implementations, cases and oracles; run the differential checks and
// the timings; assemble the report. The CLI commands are thin layers over this.
import { existsSync } from 'node:fs';
import { implementationEngine, oracleEngine, type Engine, timeComputation, DEFAULT_BENCH, type BenchOptions } from './bench.ts';
import { type Case, type CaseError, type CaseLimits, loadCases, type Op, type Rejection } from './cases/load.ts';
import { fnv1a } from './cases/generate.ts';
import { computationsOf } from './check.ts';
import { environment } from './environment.ts';
import { DEFAULT_LIMITS, type HostLimits } from './host/host.ts';
import type { RemoteImplementation } from './host/remote.ts';
import { startImplementations } from './implementations.ts';
import { loadOracles } from './oracles/load.ts';
import type { AbsentOracle, Oracle } from './oracles/oracle.ts';
import { type Progress, progress } from './progress.ts';
import { REPORT_FORMAT, REPORT_VERSION, type Report, type Timing } from './report/types.ts';
import { runSuite, wanted } from './run.ts';

export class UsageError extends Error {}

export interface Selection {
  cases: string[];
  impls: string[];
  oracles?: string[];
  /** `--op` (repeatable): only cases of these ops (none: every op). */
  ops?: readonly string[];
  /** `--case`: a case is selected when its id matches any of these (none: every case). */
  casePatterns?: readonly string[];
  /** `--exclude`: a case whose id matches any of these is left out. */
  excludePatterns?: readonly string[];
  shard?: { index: number; count: number };
  ortThreads?: number;
  /** Time limit per call and memory cap of every kernel host. */
  limits?: HostLimits;
  /** Bounds on case files (defaults in cases/load.ts). */
  caseLimits?: Partial<CaseLimits>;
}

export interface Inputs {
  cases: Case[];
  caseErrors: CaseError[];
  /** The case files' must-reject entries, as the loader judged them (not filtered by the selection). */
  rejections: Rejection[];
  implementations: RemoteImplementation[];
  oracles: Oracle[];
  absent: AbsentOracle[];
}

const OPS: Op[] = ['conv2d', 'maxpool2d', 'avgpool2d'];

/**
 * `--case` / `--exclude`: a glob over ids (* and ?) when it has wildcards, else a substring of the
 * id. Two wildcards on ids need no glob library (ids have no path separators to treat specially).
 */
export function caseMatcher(pattern: string): (id: string) => boolean {
  if (!/[*?]/.test(pattern)) return (id) => id.includes(pattern);
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return (id) => re.test(id);
}

/** A case id is selected when it matches some `--case` (or there is none) and no `--exclude`. */
export function selectionMatcher(include: readonly string[] = [], exclude: readonly string[] = []): (id: string) => boolean {
  const inc = include.map(caseMatcher);
  const exc = exclude.map(caseMatcher);
  return (id) => (inc.length === 0 || inc.some((m) => m(id))) && !exc.some((m) => m(id));
}

/** `--shard i/n` (1-based): a case belongs to shard fnv1a(id) mod n, stable as the corpus grows. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = m ? Number(m[1]) : Number.NaN;
  const count = m ? Number(m[2]) : Number.NaN;
  if (!(count >= 1 && index >= 1 && index <= count)) throw new UsageError(`--shard must be i/n with 1 <= i <= n, got "${text}"`);
  return { index, count };
}
export const inShard = (id: string, shard: { index: number; count: number }): boolean => fnv1a(id) % shard.count === shard.index - 1;

/** Names the reports use for engines and references; an implementation may not take one. */
const RESERVED = ['reference64', 'expected', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu', 'ort', 'none'];

/**
 * Starts the implementations' hosts. No name may be an engine's; implementations that share a
 * name (two builds of one kernel, as in `compare head.ts base.ts`) are labelled by their source,
 * "mine (./head.ts)", and by their position when that is the same too.
 */
export async function selectImplementations(specs: string[], limits: HostLimits = DEFAULT_LIMITS): Promise<RemoteImplementation[]> {
  const out = await startImplementations(specs, limits);
  const reserved = out.find((impl) => RESERVED.includes(impl.name));
  if (reserved) {
    for (const impl of out) impl.kill();
    throw new UsageError(`${reserved.source}: the implementation is named "${reserved.name}", the name of an engine or reference; rename it`);
  }
  const named = (name: string) => out.filter((o) => o.name === name);
  for (const group of [...new Set(out.map((o) => o.name))].map(named).filter((g) => g.length > 1)) {
    for (const [k, impl] of group.entries()) {
      const sameSource = group.filter((o) => o.source === impl.source).length > 1;
      impl.relabel(`${impl.name} (${impl.source}${sameSource ? ` #${k + 1}` : ''})`);
    }
  }
  return out;
}

/** The cases a selection's case files hold, their errors and must-reject entries. */
export interface SelectedCases { cases: Case[]; caseErrors: CaseError[]; rejections: Rejection[] }

/** The cases a selection matches, and the case files' errors and must-reject entries; nothing is started. */
export function selectCases(sel: Selection): SelectedCases {
  const badOp = (sel.ops ?? []).find((o) => !OPS.some((op) => op === o));
  if (badOp !== undefined) throw new UsageError(`--op: unknown op "${badOp}" (one of ${OPS.join(', ')})`);
  const ops = sel.ops?.length ? sel.ops : OPS;
  const missing = sel.cases.find((p) => !existsSync(p));
  if (missing) throw new UsageError(`--cases: ${missing}: no such file or folder`);
  const loaded = loadCases(sel.cases, sel.caseLimits);
  if (loaded.files.length === 0 && loaded.errors.length === 0) throw new UsageError(`no case files (*.yaml) in ${sel.cases.join(', ')}`);
  const matches = selectionMatcher(sel.casePatterns, sel.excludePatterns);
  const cases = loaded.cases.filter((c) => ops.includes(c.op) && matches(c.id) && (!sel.shard || inShard(c.id, sel.shard)));
  if (cases.length === 0 && loaded.errors.length === 0) {
    const filters = [
      ...(sel.casePatterns ?? []).map((p) => `--case ${JSON.stringify(p)}`), ...(sel.excludePatterns ?? []).map((p) => `--exclude ${JSON.stringify(p)}`),
      ...(sel.ops ?? []).map((o) => `--op ${o}`), sel.shard ? `--shard ${sel.shard.index}/${sel.shard.count}` : '',
    ].filter(Boolean);
    throw new UsageError(`no case matches ${filters.join(' ') || 'the selection'} (of ${loaded.cases.length} loaded); nothing was run`);
  }
  return { cases, caseErrors: loaded.errors, rejections: loaded.rejections };
}

/**
 * Starts what a selection needs: its cases (`selected`, when the caller already chose them), the
 * implementations' hosts and the oracles. If anything fails after a host started, every host is
 * ended before the error goes on.
 */
export async function loadInputs(sel: Selection, selected: SelectedCases = selectCases(sel)): Promise<Inputs> {
  const { cases, caseErrors, rejections } = selected;
  const implementations = await selectImplementations(sel.impls, sel.limits);
  try {
    const idle = implementations.find((impl) => cases.length > 0 && cases.every((c) => computationsOf(c).every((k) => impl.unavailable(c, k) !== undefined)));
    if (idle) throw new UsageError(`${idle.source}: ${idle.name} implements none of the selected computations (it has ${idle.hello.ops.join(', ') || 'no ops'}); nothing was run`);
    const { oracles, absent } = await chosenOracles(sel);
    return { cases, caseErrors, rejections, implementations, oracles, absent };
  } catch (e) {
    for (const impl of implementations) impl.kill();
    throw e;
  }
}

/** The oracles a selection names (all present when it names none; none for `--oracle none`). */
async function chosenOracles(sel: Selection): Promise<{ oracles: Oracle[]; absent: AbsentOracle[] }> {
  if (sel.oracles?.length === 1 && sel.oracles[0] === 'none') return { oracles: [], absent: [] };
  const found = await loadOracles({ ortThreads: sel.ortThreads });
  const asked = sel.oracles;
  const known = [...found.oracles.map((o) => o.name), ...found.absent.map((a) => a.name)];
  const unknown = asked?.find((w) => !known.includes(w));
  const oracles = found.oracles.filter((o) => !asked || asked.includes(o.name));
  // What was loaded and not chosen (or everything, on an error) is freed at once.
  await Promise.all(found.oracles.filter((o) => unknown !== undefined || !oracles.includes(o)).map((o) => o.release()));
  if (unknown !== undefined) throw new UsageError(`--oracle: unknown oracle "${unknown}" (known: ${known.join(', ')}, or none)`);
  // Asked for by name, an oracle that is not here is an error: a run without it would look checked.
  const missing = found.absent.find((a) => asked?.includes(a.name));
  if (missing) {
    await Promise.all(oracles.map((o) => o.release()));
    throw new UsageError(`--oracle ${missing.name}: not available here: ${missing.reason}`);
  }
  return { oracles, absent: asked ? [] : found.absent };
}

export function enginesOf(inputs: Inputs): Engine[] {
  return [...inputs.implementations.map(implementationEngine), ...inputs.oracles.map(oracleEngine)];
}

/** Times every engine on every bench case's computations: the oracles here, each kernel in its host. */
export async function timeAll(inputs: Inputs, options: BenchOptions = DEFAULT_BENCH, showProgress = true): Promise<Timing[]> {
  const engines = enginesOf(inputs);
  const work = inputs.cases.filter((c) => c.bench).flatMap((c) => computationsOf(c).map((computation) => ({ c, computation })))
    .filter(({ c, computation }) => wanted(inputs.implementations, c, computation));
  const bar = showProgress ? progress('timing') : SILENT;
  const timings: Timing[] = [];
  for (const [i, { c, computation }] of work.entries()) {
    bar.update(i, work.length, `${c.id} ${computation}`);
    timings.push(...(await timeComputation(c, computation, engines, options)));
  }
  bar.update(work.length, work.length, '');
  bar.done();
  return timings;
}

const SILENT: Progress = { update() {}, done() {} };

export async function checkAll(inputs: Inputs): Promise<Pick<Report, 'results' | 'disagreements'>> {
  const bar = progress('checking');
  const out = await runSuite({
    cases: inputs.cases, implementations: inputs.implementations, oracles: inputs.oracles,
    onProgress: (done, total, label) => bar.update(done, total, label),
  });
  bar.done();
  return out;
}

export function buildReport(name: string, inputs: Inputs, parts: Pick<Report, 'results' | 'disagreements' | 'timings'> & Partial<Pick<Report, 'gate' | 'shards' | 'phasesMs'>>): Report {
  return {
    format: REPORT_FORMAT, version: REPORT_VERSION, name, createdAt: new Date().toISOString(), environment: environment(),
    implementations: inputs.implementations.map((impl) => ({ name: impl.name, layout: impl.layout, source: impl.source, threads: impl.threads })),
    oracles: inputs.oracles.map((o) => ({ name: o.name, versions: o.versions, threads: o.threads })),
    absentOracles: inputs.absent,
    caseErrors: inputs.caseErrors.map((e) => ({ file: e.file, line: e.line, field: e.field, message: e.message })),
    rejections: inputs.rejections.map((x) => ({ ...x })),
    cases: inputs.cases.map((c) => ({ id: c.id, name: c.name, file: c.file, line: c.line, op: c.op, direction: c.direction, layout: c.layout, bench: c.bench, geometry: c.geometry })),
    ...parts,
  };
}

/** Frees the oracles and ends every kernel host. */
export async function releaseAll(inputs: Inputs): Promise<void> {
  await Promise.all([...inputs.oracles.map((o) => o.release()), ...inputs.implementations.map((i) => i.close())]);
}
