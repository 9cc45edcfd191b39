// The differential run: every case x computation through reference64, each oracle, and each
// implementation. Oracles are checked against reference64 too; implementations against the case's
// expected values, reference64, and every oracle that agreed with reference64 on that computation.
import type { Case } from './cases/load.ts';
import { type CheckResult, checkImplementation, checkPrepared, computationsOf, type Opponent, type References, referenceOutputs } from './check.ts';
import { formatMismatch } from './compare.ts';
import type { RemoteImplementation } from './host/remote.ts';
import type { Computation } from './invoke.ts';
import type { Oracle } from './oracles/oracle.ts';

/** An engine whose result disagrees with reference64, and what the other engines did. */
export interface Disagreement {
  caseId: string;
  computation: Computation;
  tensor: string;
  engine: string;
  /** Other engines that agree with reference64 on this tensor. */
  agreeing: string[];
  /** Other engines that disagree too (a semantic difference of reference64, or a shared one). */
  disagreeing: string[];
  /** The worst element, formatted, or the shape problem. */
  detail: string;
}

export interface SuiteResult { results: CheckResult[]; disagreements: Disagreement[] }

export interface SuiteOptions {
  cases: readonly Case[];
  implementations: readonly RemoteImplementation[];
  oracles: readonly Oracle[];
  /** Called after each result; `done` of `total` results. */
  onProgress?(done: number, total: number, label: string): void;
}

function failingTensors(r: CheckResult): Map<string, string> {
  const out = new Map<string, string>();
  if (r.state !== 'failed') return out;
  for (const k of r.checks) {
    if (k.comparison.ok || k.against !== 'reference64') continue;
    const m = k.comparison.mismatches[0];
    out.set(k.tensor, k.comparison.problem ?? (m ? formatMismatch(k.tensor, m) : 'outside the budget'));
  }
  return out;
}

function disagreementsOf(c: Case, computation: Computation, oracleResults: CheckResult[]): Disagreement[] {
  const ran = oracleResults.filter((r) => r.state === 'passed' || r.state === 'failed');
  const failing = new Map(ran.map((r) => [r.subject, failingTensors(r)]));
  const out: Disagreement[] = [];
  for (const r of ran) {
    for (const [tensor, detail] of failing.get(r.subject) ?? []) {
      const others = ran.filter((o) => o !== r);
      out.push({
        caseId: c.id, computation, tensor, engine: r.subject, detail,
        agreeing: others.filter((o) => !failing.get(o.subject)?.has(tensor)).map((o) => o.subject),
        disagreeing: others.filter((o) => failing.get(o.subject)?.has(tensor)).map((o) => o.subject),
      });
    }
  }
  return out;
}

export function describeDisagreement(d: Disagreement): string {
  const others = d.agreeing.length ? `; ${d.agreeing.join(', ')} agree(s) with reference64`
    : d.disagreeing.length ? `; ${d.disagreeing.join(', ')} disagree(s) too: a semantic difference of reference64?` : '; no other engine ran it';
  return `${d.engine} disagrees with reference64 on "${d.caseId}" ${d.computation} ${d.tensor}${others}: ${d.detail}`;
}

async function checkOracle(oracle: Oracle, c: Case, computation: Computation, refs: ReturnType<typeof referenceOutputs>) {
  const base = { caseId: c.id, subject: oracle.name, kind: 'oracle' as const, computation };
  const reason = oracle.unsupported(c, computation);
  if (reason !== undefined) return { result: { ...base, state: 'n/a' as const, reason } };
  return checkPrepared(base, c, computation, () => oracle.prepare(c, computation), refs);
}

/**
 * Whether a computation is worth running at all: some implementation under test has its op (what
 * its handshake says; a decline by supports() is known only when the host is asked). reference64,
 * the oracles and the timings skip what no kernel has.
 */
export function wanted(implementations: readonly RemoteImplementation[], c: Case, computation: Computation): boolean {
  return implementations.some((impl) => impl.unavailable(c, computation) === undefined);
}

/** A value that is set later, once. */
function later<T>(): { promise: Promise<T>; set(v: T): void } {
  let set: (v: T) => void = () => {};
  const promise = new Promise<T>((r) => { set = r; });
  return { promise, set };
}

const breathe = (): Promise<void> => new Promise((r) => setImmediate(r));

/** One computation of one case, and what the lanes tell each other about it. */
interface WorkItem {
  c: Case;
  computation: Computation;
  refs: ReturnType<typeof later<References>>;
  opponents: ReturnType<typeof later<Opponent[]>>;
  oracleResults: CheckResult[];
  implResults: CheckResult[];
}

/**
 * Every case's computations, pipelined: this process computes reference64 and runs the oracles,
 * one computation after another, while each kernel host works through the same list at its own
 * pace (so a slow kernel never holds the others, and the cores stay busy). A kernel's call needs
 * no reference; its check waits for reference64 and for the oracles that agreed with it.
 */
export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const { cases, implementations, oracles } = options;
  const work: WorkItem[] = cases.flatMap((c) => computationsOf(c).map((computation) => ({
    c, computation, refs: later<References>(), opponents: later<Opponent[]>(), oracleResults: [], implResults: [],
  })));
  // The references lane's items: those some kernel has the op for.
  const referenced = work.filter((item) => wanted(implementations, item.c, item.computation));
  const total = work.length * implementations.length + referenced.length * oracles.length;
  let done = 0;
  const progress = (r: CheckResult) => options.onProgress?.(++done, total, `${r.subject} ${r.caseId} ${r.computation}`);
  const kernels = implementations.map(async (impl, i) => {
    for (const item of work) {
      const r = await checkImplementation(impl, item.c, item.computation, item.refs.promise, item.opponents.promise);
      item.implResults[i] = r;
      progress(r);
      // Once every kernel has been checked on it, an item's references and opponents can go.
      if (item.implResults.filter(Boolean).length === implementations.length) {
        item.refs = later<References>();
        item.opponents = later<Opponent[]>();
      }
    }
  });
  const disagreements: Disagreement[] = [];
  const references = async () => {
    for (const item of referenced) {
      // Let the hosts' replies in, so that each host gets its next call before this process is busy.
      await breathe();
      const refs = referenceOutputs(item.c, item.computation);
      item.refs.set(refs);
      const agreed: Opponent[] = [];
      for (const oracle of oracles) {
        await breathe();
        const { result, outputs } = await checkOracle(oracle, item.c, item.computation, refs);
        item.oracleResults.push(result);
        progress(result);
        if (result.state === 'passed' && outputs) agreed.push({ name: oracle.name, outputs });
      }
      await Promise.all(oracles.map((o) => o.release()));
      item.opponents.set(agreed);
      disagreements.push(...disagreementsOf(item.c, item.computation, item.oracleResults));
    }
  };
  // Awaited together: an error in any lane ends the run at once (a harness error), never unhandled.
  await Promise.all([references(), ...kernels]);
  return { results: work.flatMap((item) => [...item.oracleResults, ...item.implResults]), disagreements };
}
