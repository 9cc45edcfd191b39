// Measuring in fresh processes. The same JavaScript can run at different speeds in different
// processes, so timings and gate rounds are measured by children started like this one (same Node
// flags, environment and GLIBC_TUNABLES), each with kernel hosts of its own: the parent writes a
// plan on the child's stdin, the child prints JSON on stdout and its progress on the shared stderr.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Engine } from './bench.ts';
import { isRecord } from './guards.ts';
import { COMPUTATIONS, type Computation } from './invoke.ts';
import {
  type GateOptions, type GatePair, type Measure, type Measurements, measurePair, type PairId, type PairMeasurement, pairId, pairKey,
} from './gate.ts';
import { killAllHosts } from './host/host.ts';
import { ownLoaderFlags, ownModule } from './paths.ts';
import { progress } from './progress.ts';
import type { Case } from './cases/load.ts';

const CLI = ownModule('harness/cli');

/** Runs `convbench <args>` in a fresh process and returns what it printed on stdout. */
export function runChild(args: readonly string[], what: string, input = ''): string {
  const child = spawnSync(process.execPath, [...ownLoaderFlags(), CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, input, stdio: ['pipe', 'pipe', 'inherit'] });
  if (child.error) throw new Error(`${what}: ${child.error.message}`);
  // A signal to the run reached the child too (it shares our process group) while this process
  // waited, deaf to signals, in spawnSync: the run is being stopped, and that is no kernel's fault.
  const stoppedBy = Object.entries(STOP_SIGNALS).find(([signal, code]) => child.signal === signal || child.status === code);
  if (stoppedBy) {
    killAllHosts();
    console.error(`convbench: stopped by ${stoppedBy[0]}`);
    process.exit(stoppedBy[1]);
  }
  if (child.status !== 0) throw new Error(`${what} exited with ${child.status ?? child.signal}`);
  return child.stdout;
}

/** The signals that stop a run, and the exit code each gives (128 + its number), as cli.ts handles them. */
export const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/** What a gate child is asked to measure (JSON on its stdin). */
export interface RoundsPlan { label: string; options: GateOptions; pairs: PairId[] }
/** What it answers (JSON on its stdout): per pair, its rounds, or why it cannot run (n/a), or the error that stopped it. */
export type RoundsAnswer = ({ pair: PairId } & PairMeasurement)[];

const isComputation = (v: unknown): v is Computation => COMPUTATIONS.some((c) => c === v);

function pairIdOf(v: unknown): PairId | undefined {
  if (!isRecord(v)) return undefined;
  const { caseId, computation, candidate, reference } = v;
  if (typeof caseId !== 'string' || !isComputation(computation) || typeof candidate !== 'string' || typeof reference !== 'string') return undefined;
  return { caseId, computation, candidate, reference };
}

export function parsePlan(text: string): RoundsPlan {
  const v: unknown = JSON.parse(text);
  if (!isRecord(v) || typeof v.label !== 'string' || !isRecord(v.options) || !Array.isArray(v.pairs)) throw new Error('gate-rounds: malformed plan on stdin');
  const o = v.options;
  const num = (key: keyof GateOptions): number => {
    const x = o[key];
    if (typeof x !== 'number' || !(x > 0)) throw new Error(`gate-rounds: plan options.${key} must be a positive number`);
    return x;
  };
  const pairs = v.pairs.map(pairIdOf);
  const bad = pairs.findIndex((p) => p === undefined);
  if (bad >= 0) throw new Error(`gate-rounds: plan pairs[${bad}] is malformed`);
  return {
    label: v.label,
    options: { rounds: num('rounds'), minBlockMs: num('minBlockMs'), warmUpMs: num('warmUpMs'), maxPairMs: num('maxPairMs'), threshold: num('threshold') },
    pairs: pairs.filter((p) => p !== undefined),
  };
}

function parseAnswer(text: string, what: string): RoundsAnswer {
  const v: unknown = JSON.parse(text);
  if (!Array.isArray(v)) throw new Error(`${what} printed no rounds`);
  return v.map((item, i) => {
    const pair = isRecord(item) ? pairIdOf(item.pair) : undefined;
    if (!isRecord(item) || !pair) throw new Error(`${what}: answer [${i}] is malformed`);
    if (typeof item.error === 'string') return { pair, error: item.error };
    if (typeof item.reason === 'string') return { pair, reason: item.reason };
    const rounds = item.logRatios;
    if (!Array.isArray(rounds) || !rounds.every((x): x is number => typeof x === 'number')) throw new Error(`${what}: answer [${i}] has no rounds`);
    return { pair, logRatios: rounds };
  });
}

/** Child side: measures the plan's pairs, one after another, with this process's cases and engines. */
export async function answerPlan(plan: RoundsPlan, cases: readonly Case[], engines: readonly Engine[]): Promise<RoundsAnswer> {
  const bar = progress(plan.label);
  const answer: RoundsAnswer = [];
  for (const [i, id] of plan.pairs.entries()) {
    bar.update(i, plan.pairs.length, `${id.candidate} / ${id.reference} ${id.caseId} ${id.computation}`);
    const c = cases.find((x) => x.id === id.caseId);
    const candidate = engines.find((e) => e.name === id.candidate);
    const reference = engines.find((e) => e.name === id.reference);
    if (!c || !candidate || !reference) {
      answer.push({ pair: id, error: `not in the measuring process's selection (${!c ? 'case' : !candidate ? id.candidate : id.reference})` });
      continue;
    }
    const pair: GatePair = { mode: 'compare', c, computation: id.computation, candidate, reference };
    const measured = await measurePair(pair, plan.options);
    answer.push({ pair: id, ...measured });
  }
  bar.update(plan.pairs.length, plan.pairs.length, '');
  bar.done();
  return answer;
}

export const readPlan = (): RoundsPlan => parsePlan(readFileSync(0, 'utf8'));

/**
 * Parent side: a Measure that measures the pairs in `processes` fresh processes, one after
 * another (never two at once: they would compete for the cores), each given the same selection
 * `args` as this run. A pair that errored in any process (or whose process died) is errored; one
 * that could not run (n/a) is skipped with that reason; rounds only when every process gave them.
 */
export function inFreshProcesses(args: readonly string[], options: GateOptions, processes: number, log: (line: string) => void): Measure {
  let batch = 0;
  return async (pairs) => {
    batch++;
    const out: Measurements = new Map();
    for (let p = 1; p <= processes; p++) {
      const what = `gate process ${p} of ${processes}${batch > 1 ? ' (re-measure)' : ''}`;
      log(`${what}: ${pairs.length} pair${pairs.length === 1 ? '' : 's'}`);
      const plan: RoundsPlan = { label: what, options, pairs: pairs.map(pairId) };
      let answers: RoundsAnswer;
      try {
        answers = parseAnswer(runChild(['gate-rounds', ...args], what, JSON.stringify(plan)), what);
      } catch (e) {
        // A measuring process that died (an engine's crash, not a kernel's: kernels run in hosts)
        // fails every pair it was measuring, and the gate goes on with the other processes.
        const error = e instanceof Error ? e.message : String(e);
        answers = plan.pairs.map((pair) => ({ pair, error }));
      }
      for (const a of answers) {
        const key = pairKey(a.pair);
        const had = out.get(key) ?? { logRatios: [] };
        // An error in any process wins, then a reason; rounds only while every process gave them.
        if ('error' in had) continue;
        if ('error' in a) out.set(key, { error: a.error });
        else if ('reason' in a) out.set(key, { reason: a.reason });
        else if ('logRatios' in had) out.set(key, { logRatios: [...had.logRatios, a.logRatios] });
      }
    }
    return out;
  };
}
