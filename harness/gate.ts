// The speed gate (docs/architecture.md "Speed gate"). Absolute times mean nothing across machines, so a kernel is
// timed interleaved with a reference engine in rounds, in one measuring process (the kernel in its
// host, which times each block itself, so the round trip never counts); each round gives one
// ln(candidate / reference). Whichever engine goes second in a round runs in a different cache and
// allocator state (measured: up to 19% apart), so rounds alternate the order and are averaged in
// consecutive pairs, one of each order. The same JavaScript can also run at different speeds in
// different processes (JIT decisions, heap layout), so rounds are measured in several fresh
// processes and the process is the unit: a pair's estimate is the mean of each process's
// Hodges-Lehmann estimate over its round pairs, its 95% interval comes from a two-stage bootstrap
// (processes, then round pairs within them). Slower only when the whole interval lies above
// ln(1 + threshold), and only if re-measuring says so again.
import type { Case } from './cases/load.ts';
import { consume, Declined, type Engine } from './bench.ts';
import type { Computation, Prepared } from './invoke.ts';
import type { GateRow, MeasuredGateRow } from './report/types.ts';
import { bootstrap, type Clusters, clusteredLocation, type Interval } from './stats.ts';

export interface GateOptions {
  /** Interleaved rounds per pair and process, rounded up to even (fewer, but at least MIN_ROUNDS, when maxPairMs runs out). */
  rounds: number;
  /** Each timed block repeats a call until it lasts at least this long. */
  minBlockMs: number;
  /** Untimed calls of each engine before its rounds (at least 3 calls, and this long), for the JIT's last tier. */
  warmUpMs: number;
  /** Time budget of one pair's rounds in one process, so that slow kernels do not take minutes. */
  maxPairMs: number;
  /** Default slowdown threshold (0.1 = 10%); a case may override it. */
  threshold: number;
}

export const MIN_ROUNDS = 6;
export const DEFAULT_GATE: GateOptions = { rounds: 20, minBlockMs: 20, warmUpMs: 300, maxPairMs: 3000, threshold: 0.1 };

async function timeBlock(p: Prepared, reps: number): Promise<number> {
  // A kernel in a host times itself: the block is its kernel time, without the round trip.
  if (p.measure) return (await p.measure({ warmup: 0, iterations: reps, minMs: 0 })).reduce((a, b) => a + b, 0) / reps;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) consume(await p.call());
  return (performance.now() - t0) / reps;
}

/** Warms a call up (JIT tiers, sessions, caches: at least 3 calls and warmUpMs), then sizes its blocks. */
async function repsFor(p: Prepared, minBlockMs: number, warmUpMs: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 3 || performance.now() - t0 < warmUpMs; i++) await timeBlock(p, 1);
  const once = await timeBlock(p, 1);
  return Math.max(1, Math.ceil(minBlockMs / Math.max(once, 1e-3)));
}

/** Per-round ln(candidate / reference), the candidate first in even rounds and second in odd ones; always whole pairs of rounds. */
export async function interleavedLogRatios(candidate: Prepared, reference: Prepared, options: Pick<GateOptions, 'rounds' | 'minBlockMs' | 'warmUpMs' | 'maxPairMs'>): Promise<number[]> {
  const repsC = await repsFor(candidate, options.minBlockMs, options.warmUpMs);
  const repsR = await repsFor(reference, options.minBlockMs, options.warmUpMs);
  // One untimed pair of rounds: measured, the first round still ran ~10% off the rest.
  for (const p of [candidate, reference, reference, candidate]) await timeBlock(p, p === candidate ? repsC : repsR);
  const out: number[] = [];
  const rounds = options.rounds + (options.rounds % 2);
  const t0 = performance.now();
  for (let r = 0; r < rounds && (r % 2 === 1 || r < MIN_ROUNDS || performance.now() - t0 < options.maxPairMs); r++) {
    let c: number, ref: number;
    if (r % 2 === 0) { c = await timeBlock(candidate, repsC); ref = await timeBlock(reference, repsR); }
    else { ref = await timeBlock(reference, repsR); c = await timeBlock(candidate, repsC); }
    out.push(Math.log(c / ref));
  }
  return out;
}

/** Each process's rounds averaged in consecutive pairs (one of each order); a lone last round is dropped. */
export function roundPairs(logRatios: Clusters): number[][] {
  return logRatios.map((rounds) => rounds.length < 2 ? [...rounds]
    : Array.from({ length: rounds.length >> 1 }, (_, i) => (rounds[2 * i] + rounds[2 * i + 1]) / 2));
}

/** The estimate and interval of a row: of the log ratios, or of their change against a baseline. */
export function rowInterval(logRatios: Clusters, baseline?: Clusters): Interval {
  if (!baseline) return bootstrap([roundPairs(logRatios)], clusteredLocation);
  return bootstrap([roundPairs(logRatios), roundPairs(baseline)], (now, base) => clusteredLocation(now) - clusteredLocation(base));
}

export function verdictOf(interval: Interval, threshold: number): 'slower' | 'faster' | 'unchanged' {
  const limit = Math.log(1 + threshold);
  if (interval.low > limit) return 'slower';
  if (interval.high < -limit) return 'faster';
  return 'unchanged';
}

/**
 * One gated pair. In 'compare' mode the candidate is judged against the reference directly; in
 * 'baseline' mode the candidate/reference ratio is judged against the baseline's ratio (its rounds
 * by process), and a pair the baseline lacks is only recorded ('new').
 */
export interface GatePair { mode: 'baseline' | 'compare'; c: Case; computation: Computation; candidate: Engine; reference: Engine; baseline?: number[][] }

/** What names a pair across processes and reports. */
export interface PairId { caseId: string; computation: Computation; candidate: string; reference: string }

export const pairId = (p: GatePair): PairId => ({ caseId: p.c.id, computation: p.computation, candidate: p.candidate.name, reference: p.reference.name });
export const pairKey = (p: PairId): string => `${p.caseId}\u0000${p.computation}\u0000${p.candidate}\u0000${p.reference}`;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * One pair measured in one process: its rounds; or why it cannot run (`reason`: not implemented,
 * n/a for the reference), which skips it; or the `error` that stopped it (a throw while preparing
 * or timing, numbers that are not finite), which fails the gate.
 */
export type PairMeasurement = { logRatios: number[] } | { reason: string } | { error: string };

/** Measures one pair's per-round log ratios in this process; a throw anywhere (prepare, timing, release) is an error, never a reason. */
export async function measurePair(pair: GatePair, options: GateOptions): Promise<PairMeasurement> {
  let result: PairMeasurement;
  try {
    result = await measureOnce(pair, options);
  } catch (e) {
    // A kernel that declines while timed (not up front, in prepare) makes the pair n/a as well.
    result = e instanceof Declined ? { reason: e.reason } : { error: `threw while timing: ${message(e)}` };
  }
  for (const engine of [pair.candidate, pair.reference]) {
    try {
      await engine.release();
    } catch (e) {
      if (!('error' in result)) result = { error: `${engine.name} threw on release: ${message(e)}` };
    }
  }
  return result;
}

async function measureOnce(pair: GatePair, options: GateOptions): Promise<PairMeasurement> {
  const cand = await pair.candidate.prepare(pair.c, pair.computation);
  if (typeof cand === 'string') return { reason: cand };
  const ref = await pair.reference.prepare(pair.c, pair.computation);
  if (typeof ref === 'string') return { reason: `reference ${pair.reference.name}: ${ref}` };
  const logRatios = await interleavedLogRatios(cand, ref, options);
  const bad = logRatios.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) return { error: `round ${bad + 1} gave ln(candidate / reference) = ${logRatios[bad]} (a time of zero or not a number)` };
  return { logRatios };
}

/**
 * A pair's measurement over processes: its rounds grouped by the process that measured them, or
 * why it could not run, or the error of the first process it failed in.
 */
export type Measurement = { logRatios: number[][] } | { reason: string } | { error: string };
/** Each pair's measurement by pairKey. A pair left out is an error: it was asked for and not measured. */
export type Measurements = Map<string, Measurement>;
/** Measures a list of pairs; the CLI does it in fresh child processes, tests replay numbers. */
export type Measure = (pairs: readonly GatePair[]) => Promise<Measurements>;

const errored = (pair: GatePair, threshold: number, error: string): GateRow => ({ ...pairId(pair), threshold, verdict: 'errored', error });

function rowOf(pair: GatePair, logRatios: number[][], threshold: number): GateRow {
  const interval = rowInterval(logRatios, pair.baseline);
  const numbers = [interval.estimate, interval.low, interval.high];
  if (logRatios.length === 0 || logRatios.some((p) => p.length === 0) || !numbers.every(Number.isFinite)) {
    return errored(pair, threshold, `no usable rounds (${logRatios.map((p) => p.length).join(', ') || 'no'} rounds by process; estimate ${interval.estimate})`);
  }
  const row: MeasuredGateRow = {
    ...pairId(pair), logRatios, estimate: interval.estimate, low: interval.low, high: interval.high, threshold,
    ...(pair.baseline ? { baseline: clusteredLocation(roundPairs(pair.baseline)), baselineProcesses: pair.baseline.length } : {}),
    verdict: pair.mode === 'baseline' && !pair.baseline ? 'new' : verdictOf(interval, threshold),
  };
  return row;
}

export interface Skipped { caseId: string; computation: Computation; candidate: string; reason: string }

/**
 * Gates every pair. The pairs first judged slower are measured once more (in new processes), and
 * stay 'slower' only if the processes of both measurements together still put the whole interval
 * above the threshold (otherwise 'unconfirmed'). `skipped` collects pairs that cannot run (n/a);
 * a pair whose measurement errored, on either measurement, is a row with verdict 'errored'.
 */
export async function runGate(pairs: readonly GatePair[], measure: Measure, defaultThreshold = DEFAULT_GATE.threshold): Promise<{ rows: GateRow[]; skipped: Skipped[] }> {
  const thresholdOf = (p: GatePair) => p.c.gateThreshold ?? defaultThreshold;
  const first = await measure(pairs);
  const rows: GateRow[] = [];
  const skipped: Skipped[] = [];
  const flagged: { pair: GatePair; at: number; row: MeasuredGateRow }[] = [];
  for (const pair of pairs) {
    const measured = first.get(pairKey(pairId(pair))) ?? { error: 'not measured: no answer for this pair' };
    if ('reason' in measured) {
      skipped.push({ caseId: pair.c.id, computation: pair.computation, candidate: pair.candidate.name, reason: measured.reason });
      continue;
    }
    const row = 'error' in measured ? errored(pair, thresholdOf(pair), measured.error) : rowOf(pair, measured.logRatios, thresholdOf(pair));
    if (row.verdict === 'slower') flagged.push({ pair, at: rows.length, row });
    rows.push(row);
  }
  if (flagged.length === 0) return { rows, skipped };
  const again = await measure(flagged.map((f) => f.pair));
  for (const { pair, at, row } of flagged) {
    const more = again.get(pairKey(pairId(pair))) ?? { error: 'not measured: no answer for this pair' };
    if (!('logRatios' in more)) {
      // Slower once and not measured again: the gate cannot clear it.
      rows[at] = errored(pair, thresholdOf(pair), `slower, then the re-measurement ${'error' in more ? `errored: ${more.error}` : `could not run: ${more.reason}`}`);
      continue;
    }
    const confirm = rowOf(pair, [...row.logRatios, ...more.logRatios], thresholdOf(pair));
    rows[at] = confirm.verdict === 'slower' || confirm.verdict === 'errored' ? confirm : { ...row, verdict: 'unconfirmed' };
  }
  return { rows, skipped };
}
