// The speed gate (DESIGN.md "Gate"). Absolute times mean nothing across machines, so a kernel is
// timed interleaved with a reference engine in rounds, in one process; each round gives one
// ln(candidate / reference). Verdicts come from the Hodges-Lehmann estimate of those log ratios and
// its bootstrap 95% interval: slower only when the whole interval lies above ln(1 + threshold),
// and only if a re-run of that pair says so again.
import type { Case } from './cases/load.ts';
import { consume, type Engine } from './bench.ts';
import type { Computation, Prepared } from './invoke.ts';
import type { GateRow } from './report/types.ts';
import { bootstrap, hodgesLehmann, type Interval } from './stats.ts';

export interface GateOptions {
  rounds: number;
  /** Each timed block repeats a call until it lasts at least this long. */
  minBlockMs: number;
  /** Default slowdown threshold (0.1 = 10%); a case may override it. */
  threshold: number;
}

export const DEFAULT_GATE: GateOptions = { rounds: 21, minBlockMs: 20, threshold: 0.1 };

async function timeBlock(p: Prepared, reps: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) consume(await p.call());
  return (performance.now() - t0) / reps;
}

/** Warms a call up (JIT tiers, sessions, caches: at least 3 calls and 100 ms), then sizes its blocks. */
async function repsFor(p: Prepared, minBlockMs: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 3 || performance.now() - t0 < 100; i++) await timeBlock(p, 1);
  const once = await timeBlock(p, 1);
  return Math.max(1, Math.ceil(minBlockMs / Math.max(once, 1e-3)));
}

/** Per-round ln(candidate / reference), the two timed in alternating order within each round. */
export async function interleavedLogRatios(candidate: Prepared, reference: Prepared, options: Pick<GateOptions, 'rounds' | 'minBlockMs'>): Promise<number[]> {
  const repsC = await repsFor(candidate, options.minBlockMs);
  const repsR = await repsFor(reference, options.minBlockMs);
  const out: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    let c: number, ref: number;
    if (r % 2 === 0) { c = await timeBlock(candidate, repsC); ref = await timeBlock(reference, repsR); }
    else { ref = await timeBlock(reference, repsR); c = await timeBlock(candidate, repsC); }
    out.push(Math.log(c / ref));
  }
  return out;
}

/** The estimate and interval of a row: of the log ratios, or of their change against a baseline. */
export function rowInterval(logRatios: readonly number[], baseline?: readonly number[]): Interval {
  if (!baseline) return bootstrap([logRatios], hodgesLehmann);
  return bootstrap([logRatios, baseline], (now, base) => hodgesLehmann(now) - hodgesLehmann(base));
}

export function verdictOf(interval: Interval, threshold: number): GateRow['verdict'] {
  const limit = Math.log(1 + threshold);
  if (interval.low > limit) return 'slower';
  if (interval.high < -limit) return 'faster';
  return 'unchanged';
}

/**
 * One gated pair. In 'compare' mode the candidate is judged against the reference directly; in
 * 'baseline' mode the candidate/reference ratio is judged against the baseline's ratio, and a pair
 * the baseline lacks is only recorded ('new').
 */
export interface GatePair { mode: 'baseline' | 'compare'; c: Case; computation: Computation; candidate: Engine; reference: Engine; baseline?: number[] }

/** Measures one pair's per-round log ratios, or says why either engine cannot run the case. */
export async function measurePair(pair: GatePair, options: GateOptions): Promise<number[] | string> {
  const cand = await pair.candidate.prepare(pair.c, pair.computation);
  if (typeof cand === 'string') return cand;
  const ref = await pair.reference.prepare(pair.c, pair.computation);
  if (typeof ref === 'string') return `reference ${pair.reference.name}: ${ref}`;
  try {
    return await interleavedLogRatios(cand, ref, options);
  } finally {
    await pair.candidate.release();
    await pair.reference.release();
  }
}

function rowOf(pair: GatePair, logRatios: number[], threshold: number): GateRow {
  const interval = rowInterval(logRatios, pair.baseline);
  return {
    caseId: pair.c.id, computation: pair.computation, candidate: pair.candidate.name, reference: pair.reference.name,
    logRatios, estimate: interval.estimate, low: interval.low, high: interval.high, threshold,
    ...(pair.baseline ? { baseline: hodgesLehmann(pair.baseline) } : {}),
    verdict: pair.mode === 'baseline' && !pair.baseline ? 'new' : verdictOf(interval, threshold),
  };
}

/**
 * Gates every pair. A pair first judged slower is measured once more (fresh inputs and warm-up),
 * and stays 'slower' only if the rounds of both runs together still put the whole interval above
 * the threshold (otherwise 'unconfirmed'). `skipped` collects pairs that could not run.
 */
export type Measure = (pair: GatePair, options: GateOptions) => Promise<number[] | string>;

/** Identifies a pair across processes and reports. */
export const pairKey = (p: { caseId: string; computation: string; candidate: string; reference: string }): string =>
  `${p.caseId}\u0000${p.computation}\u0000${p.candidate}\u0000${p.reference}`;

/**
 * A measure whose first measurement of each pair adds rounds measured by other processes
 * (`extra`, by pairKey); re-runs (confirmations) measure in this process only.
 */
export function withRoundsFrom(extra: ReadonlyMap<string, number[]>, measure: Measure = measurePair): Measure {
  const seen = new Set<string>();
  return async (pair, options) => {
    const own = await measure(pair, options);
    const key = pairKey({ caseId: pair.c.id, computation: pair.computation, candidate: pair.candidate.name, reference: pair.reference.name });
    if (typeof own === 'string' || seen.has(key)) return own;
    seen.add(key);
    return [...own, ...(extra.get(key) ?? [])];
  };
}

export async function runGate(
  pairs: readonly GatePair[], options: GateOptions = DEFAULT_GATE,
  onProgress?: (done: number, total: number, label: string) => void,
  measure: Measure = measurePair,
): Promise<{ rows: GateRow[]; skipped: { caseId: string; computation: Computation; candidate: string; reason: string }[] }> {
  const rows: GateRow[] = [];
  const skipped: { caseId: string; computation: Computation; candidate: string; reason: string }[] = [];
  let done = 0;
  for (const pair of pairs) {
    const threshold = pair.c.gateThreshold ?? options.threshold;
    const measured = await measure(pair, options);
    onProgress?.(++done, pairs.length, `${pair.candidate.name} / ${pair.reference.name} ${pair.c.id} ${pair.computation}`);
    if (typeof measured === 'string') {
      skipped.push({ caseId: pair.c.id, computation: pair.computation, candidate: pair.candidate.name, reason: measured });
      continue;
    }
    let row = rowOf(pair, measured, threshold);
    if (row.verdict === 'slower') {
      const again = await measure(pair, options);
      const confirm = typeof again === 'string' ? undefined : rowOf(pair, [...measured, ...again], threshold);
      row = confirm?.verdict === 'slower' ? { ...confirm, verdict: 'slower' } : { ...row, verdict: 'unconfirmed' };
    }
    rows.push(row);
  }
  return { rows, skipped };
}
