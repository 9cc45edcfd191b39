// One harness session: select implementations, cases and oracles; run the differential checks and
// the timings; assemble the report. The CLI commands are thin layers over this.
import { existsSync } from 'node:fs';
import { implementationEngine, oracleEngine, type Engine, timeComputation, DEFAULT_BENCH, type BenchOptions } from './bench.ts';
import { type Case, type CaseError, loadCases, type Op } from './cases/load.ts';
import { fnv1a } from './cases/generate.ts';
import { computationsOf } from './check.ts';
import { environment } from './environment.ts';
import type { Implementation } from './implementation.ts';
import { BUILT_IN, loadImplementation } from './implementations.ts';
import { loadOracles } from './oracles/load.ts';
import type { AbsentOracle, Oracle } from './oracles/oracle.ts';
import { progress } from './progress.ts';
import { REPORT_FORMAT, REPORT_VERSION, type Report, type Timing } from './report/types.ts';
import { runSuite } from './run.ts';

export class UsageError extends Error {}

export interface Selection {
  cases: string[];
  impls: string[];
  oracles?: string[];
  op?: string;
  casePattern?: string;
  shard?: { index: number; count: number };
  ortThreads?: number;
}

export interface Inputs {
  cases: Case[];
  caseErrors: CaseError[];
  implementations: { impl: Implementation; source: string }[];
  oracles: Oracle[];
  absent: AbsentOracle[];
}

const OPS: Op[] = ['conv2d', 'maxpool2d', 'avgpool2d'];

/** `--case`: a glob over ids (* and ?) when it has wildcards, else a substring of the id. */
export function caseMatcher(pattern: string | undefined): (id: string) => boolean {
  if (!pattern) return () => true;
  if (!/[*?]/.test(pattern)) return (id) => id.includes(pattern);
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return (id) => re.test(id);
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

export async function selectImplementations(names: string[]): Promise<{ impl: Implementation; source: string }[]> {
  if (names.length === 0) return BUILT_IN.map((impl) => ({ impl, source: 'built-in' }));
  const out: { impl: Implementation; source: string }[] = [];
  for (const n of names) {
    const builtIn = BUILT_IN.find((i) => i.name === n);
    if (builtIn) out.push({ impl: builtIn, source: 'built-in' });
    else if (/[./\\]/.test(n)) out.push({ impl: await loadImplementation(n), source: n });
    else throw new UsageError(`--impl: unknown implementation "${n}" (built-in: ${BUILT_IN.map((i) => i.name).join(', ')}; or give a path)`);
  }
  const names2 = out.map((o) => o.impl.name);
  const dup = names2.find((n, i) => names2.indexOf(n) !== i);
  if (dup) throw new UsageError(`--impl: two implementations are named "${dup}"`);
  return out;
}

export async function loadInputs(sel: Selection): Promise<Inputs> {
  if (sel.op && !OPS.some((op) => op === sel.op)) throw new UsageError(`--op: unknown op "${sel.op}" (one of ${OPS.join(', ')})`);
  const implementations = await selectImplementations(sel.impls);
  const missing = sel.cases.find((p) => !existsSync(p));
  if (missing) throw new UsageError(`--cases: ${missing}: no such file or folder`);
  const loaded = loadCases(sel.cases);
  if (loaded.files.length === 0 && loaded.errors.length === 0) throw new UsageError(`no case files (*.yaml) in ${sel.cases.join(', ')}`);
  const matches = caseMatcher(sel.casePattern);
  const cases = loaded.cases.filter((c) => (!sel.op || c.op === sel.op) && matches(c.id) && (!sel.shard || inShard(c.id, sel.shard)));
  let oracles: Oracle[] = [];
  let absent: AbsentOracle[] = [];
  if (!(sel.oracles?.length === 1 && sel.oracles[0] === 'none')) {
    const found = await loadOracles({ ortThreads: sel.ortThreads });
    const wanted = sel.oracles;
    if (wanted) {
      const known = [...found.oracles.map((o) => o.name), ...found.absent.map((a) => a.name)];
      const unknown = wanted.find((w) => !known.includes(w));
      if (unknown) throw new UsageError(`--oracle: unknown oracle "${unknown}" (known: ${known.join(', ')}, or none)`);
    }
    oracles = found.oracles.filter((o) => !wanted || wanted.includes(o.name));
    absent = found.absent.filter((a) => !wanted || wanted.includes(a.name));
  }
  return { cases, caseErrors: loaded.errors, implementations, oracles, absent };
}

export function enginesOf(inputs: Inputs): Engine[] {
  return [...inputs.implementations.map(({ impl }) => implementationEngine(impl)), ...inputs.oracles.map(oracleEngine)];
}

/** Times every engine on every bench case's computations, in this process. */
export async function timeAll(inputs: Inputs, options: BenchOptions = DEFAULT_BENCH): Promise<Timing[]> {
  const engines = enginesOf(inputs);
  const work = inputs.cases.filter((c) => c.bench).flatMap((c) => computationsOf(c).map((computation) => ({ c, computation })));
  const bar = progress('timing');
  const timings: Timing[] = [];
  for (const [i, { c, computation }] of work.entries()) {
    bar.update(i, work.length, `${c.id} ${computation}`);
    timings.push(...(await timeComputation(c, computation, engines, options)));
  }
  bar.update(work.length, work.length, '');
  bar.done();
  return timings;
}

export async function checkAll(inputs: Inputs): Promise<Pick<Report, 'results' | 'disagreements'>> {
  const bar = progress('checking');
  const out = await runSuite({
    cases: inputs.cases, implementations: inputs.implementations.map((i) => i.impl), oracles: inputs.oracles,
    onProgress: (done, total, label) => bar.update(done, total, label),
  });
  bar.done();
  return out;
}

export function buildReport(name: string, inputs: Inputs, parts: Pick<Report, 'results' | 'disagreements' | 'timings'> & Partial<Pick<Report, 'gate' | 'shards'>>): Report {
  return {
    format: REPORT_FORMAT, version: REPORT_VERSION, name, createdAt: new Date().toISOString(), environment: environment(),
    implementations: inputs.implementations.map(({ impl, source }) => ({ name: impl.name, layout: impl.layout, source })),
    oracles: inputs.oracles.map((o) => ({ name: o.name, versions: o.versions, threads: o.threads })),
    absentOracles: inputs.absent,
    caseErrors: inputs.caseErrors.map((e) => ({ file: e.file, line: e.line, field: e.field, message: e.message })),
    cases: inputs.cases.map((c) => ({ id: c.id, name: c.name, file: c.file, line: c.line, op: c.op, direction: c.direction, layout: c.layout, bench: c.bench, geometry: c.geometry })),
    ...parts,
  };
}

export async function releaseAll(inputs: Inputs): Promise<void> {
  await Promise.all(inputs.oracles.map((o) => o.release()));
}
