// Timing every engine (implementations and oracles) on a case's computation, on equal footing:
// inputs prepared and converted before timing, outputs consumed, the same data for everyone. The
// oracles run in this process under tinybench; each implementation is timed inside its kernel host,
// around the kernel call alone, so that the protocol's round trip never counts as kernel time.
import { Bench } from 'tinybench';
import type { Case } from './cases/load.ts';
import type { SubjectKind } from './check.ts';
import type { RemoteImplementation } from './host/remote.ts';
import type { Computation, Prepared } from './invoke.ts';
import type { Oracle } from './oracles/oracle.ts';
import type { Timing } from './report/types.ts';
import { median, quantile } from './stats.ts';

/** Anything that can be timed: prepare() gives the call, or the reason it cannot run the case. */
export interface Engine {
  name: string;
  kind: SubjectKind;
  threads: number;
  prepare(c: Case, computation: Computation): Promise<Prepared | string>;
  release(): Promise<void>;
}

/** A kernel that declined a computation while it was being timed: the timing is n/a, not an error. */
export class Declined extends Error {
  constructor(readonly reason: string) {
    super(`declined: ${reason}`);
    this.name = 'Declined';
  }
}

/** An implementation under test, timed inside its host; what its supports() declines is n/a. */
export function implementationEngine(impl: RemoteImplementation): Engine {
  return {
    name: impl.name, kind: 'implementation', threads: impl.threads,
    prepare: async (c, computation) => {
      const unavailable = impl.unavailable(c, computation);
      if (unavailable) return unavailable.reason;
      const support = await impl.supports(c, computation);
      if (support.kind === 'declined') return support.reason;
      if (support.kind === 'errored') throw new Error(`${impl.name}: ${support.error}`);
      return impl.prepare(c, computation);
    },
    release: async () => {},
  };
}

export function oracleEngine(oracle: Oracle): Engine {
  return {
    name: oracle.name, kind: 'oracle', threads: oracle.threads,
    prepare: async (c, computation) => oracle.unsupported(c, computation) ?? oracle.prepare(c, computation),
    release: () => oracle.release(),
  };
}

/** Keeps results observable so no engine's work can be skipped as dead. */
let sink = 0;
export function consume(raw: unknown): void {
  if (raw instanceof Float32Array) sink += raw.length ? raw[0] : 0;
  else if (Array.isArray(raw)) raw.forEach(consume);
  else if (typeof raw === 'object' && raw !== null) Object.values(raw).forEach(consume);
}
export const sinkValue = (): number => sink;

export interface BenchOptions {
  /** Time budget per engine, ms (tinybench `time`). */
  timeMs: number;
  /** Minimum timed calls per engine, unless calls are slow (slowMs). */
  minIterations: number;
  /**
   * What the minimum calls may take: an engine whose warm-up call took longer than slowMs /
   * minIterations gets floor(slowMs / warm-up) samples instead, and at least one. A 5 s call is
   * timed once, not three times: its own length makes one sample's noise small. A kernel in a host
   * whose warm-up took slowMs or more is not called again: the warm-up's time in the host is the sample.
   */
  slowMs: number;
}

export const DEFAULT_BENCH: BenchOptions = { timeMs: 200, minIterations: 3, slowMs: 2000 };

/** Samples to ask for after a warm-up call of `warmupMs` (see BenchOptions.slowMs). */
export function samplesFor(warmupMs: number, options: BenchOptions): number {
  return Math.max(1, Math.min(options.minIterations, Math.floor(options.slowMs / warmupMs)));
}

/** Work of one call by the geometry's counts: FLOPs for conv, bytes for pooling. */
export function workOf(c: Case, computation: Computation): { amount: number; unit: 'GFLOP/s' | 'GB/s' } {
  const g = c.geometry;
  if ('groups' in g) return { amount: computation === 'forward' ? g.forwardFlops : g.backwardFlops, unit: 'GFLOP/s' };
  return { amount: computation === 'backward' ? g.backwardBytes : g.forwardBytes, unit: 'GB/s' };
}

const errorText = (e: unknown) => (e instanceof Error ? e.message.split('\n')[0] : String(e));

/** Times each engine in turn on one computation; ratios are filled in against this same run. */
export async function timeComputation(c: Case, computation: Computation, engines: readonly Engine[], options: BenchOptions = DEFAULT_BENCH, processes = 1): Promise<Timing[]> {
  const timings: Timing[] = [];
  const work = workOf(c, computation);
  for (const engine of engines) {
    const base = { caseId: c.id, computation, engine: engine.name, kind: engine.kind, threads: engine.threads, processes };
    let prepared: Prepared | string;
    try {
      prepared = await engine.prepare(c, computation);
    } catch (e) {
      timings.push({ ...base, state: 'errored', error: errorText(e) });
      continue;
    }
    if (typeof prepared === 'string') { timings.push({ ...base, state: 'n/a', reason: prepared }); continue; }
    if (prepared.measure) { timings.push(await timeInHost(base, prepared, prepared.measure, work, options)); continue; }
    const call = prepared.call;
    let bench: Bench;
    try {
      // The warm-up call, timed to choose how many samples a slow engine gets.
      const t0 = performance.now();
      consume(await call());
      const iterations = samplesFor(performance.now() - t0, options);
      bench = new Bench({ time: options.timeMs, iterations, warmupIterations: 0, warmupTime: 0, retainSamples: true, throws: false });
      bench.add(engine.name, async () => { consume(await call()); });
      await bench.run();
    } catch (e) {
      timings.push({ ...base, state: 'errored', error: errorText(e) });
      continue;
    } finally {
      await engine.release();
    }
    const result = bench.tasks[0].result;
    if (result.state === 'completed') {
      const lat = result.latency;
      const samplesMs = lat.samples ? [...lat.samples] : [];
      timings.push({
        ...base, state: 'measured', samplesMs, medianMs: lat.p50, p99Ms: lat.p99, meanMs: lat.mean, rmePercent: lat.rme,
        throughput: work.amount / (lat.p50 * 1e6), throughputUnit: work.unit, ratioToFastest: 1,
      });
    } else {
      timings.push({ ...base, state: 'errored', error: result.state === 'errored' ? errorText(result.error) : `timing ${result.state}` });
    }
  }
  return withRatios(timings);
}

type TimingBase = Pick<Timing, 'caseId' | 'computation' | 'engine' | 'kind' | 'threads' | 'processes'>;

/** Statistics of per-call samples, as tinybench gives them for the engines timed here. */
export function sampleStats(samplesMs: number[]): { medianMs: number; p99Ms: number; meanMs: number; rmePercent: number } {
  const meanMs = samplesMs.reduce((a, b) => a + b, 0) / samplesMs.length;
  const sd = Math.sqrt(samplesMs.reduce((a, b) => a + (b - meanMs) ** 2, 0) / Math.max(samplesMs.length - 1, 1));
  return { medianMs: median(samplesMs), p99Ms: quantile(samplesMs, 0.99), meanMs, rmePercent: (100 * 1.96 * sd) / Math.sqrt(samplesMs.length) / meanMs };
}

/**
 * Times a kernel in its host: one round trip first (the warm-up call, as tinybench's for the
 * engines timed here, which also gives the protocol's cost beside the kernel's), then the host
 * times the calls itself, so the round trip never counts as kernel time.
 */
async function timeInHost(base: TimingBase, prepared: Prepared, measure: NonNullable<Prepared['measure']>, work: ReturnType<typeof workOf>, options: BenchOptions): Promise<Timing> {
  try {
    const t0 = performance.now();
    await prepared.call();
    const roundTripMs = performance.now() - t0;
    // A call slower than slowMs is timed once: the warm-up's own time in the host is that sample,
    // when the host had computed this case before (lastKernelMs says; else the usual samples).
    const warmupMs = prepared.lastKernelMs?.();
    const samplesMs = warmupMs !== undefined && warmupMs > 0 && roundTripMs >= options.slowMs ? [warmupMs]
      : await measure({ warmup: 0, iterations: samplesFor(roundTripMs, options), minMs: options.timeMs });
    const stats = sampleStats(samplesMs);
    return { ...base, state: 'measured', samplesMs, ...stats, roundTripMs, throughput: work.amount / (stats.medianMs * 1e6), throughputUnit: work.unit, ratioToFastest: 1 };
  } catch (e) {
    if (e instanceof Declined) return { ...base, state: 'n/a', reason: e.reason };
    return { ...base, state: 'errored', error: errorText(e) };
  }
}

/** Fills ratioToFastest and ratioToTfjsCpu among the measured timings of one computation. */
export function withRatios(timings: Timing[]): Timing[] {
  const measured = timings.filter((t) => t.state === 'measured');
  const fastest = Math.min(...measured.map((t) => t.medianMs));
  const cpu = measured.find((t) => t.engine === 'tfjs-cpu')?.medianMs;
  return timings.map((t) => (t.state === 'measured'
    ? { ...t, ratioToFastest: t.medianMs / fastest, ...(cpu !== undefined ? { ratioToTfjsCpu: t.medianMs / cpu } : {}) }
    : t));
}

/** Pools per-process timings of the same (case, computation, engine): medians of all samples. */
export function poolProcesses(perProcess: Timing[][]): Timing[] {
  const [first, ...rest] = perProcess;
  if (!first) return [];
  const pooled = first.map((t): Timing => {
    if (t.state !== 'measured') return t;
    const same = rest.map((run) => run.find((u) => u.caseId === t.caseId && u.computation === t.computation && u.engine === t.engine));
    // A hang or crash in any process is the pooled result: it must not vanish into the others' samples.
    const errored = same.find((u) => u?.state === 'errored');
    if (errored?.state === 'errored') return { ...errored, processes: same.length + 1 };
    const all = [t, ...same.filter((u): u is Timing & { state: 'measured' } => u?.state === 'measured')];
    const samplesMs = all.flatMap((u) => u.samplesMs);
    const stats = sampleStats(samplesMs);
    return { ...t, samplesMs, ...stats, throughput: t.throughput * (t.medianMs / stats.medianMs), processes: all.length };
  });
  return withRatios(pooled);
}
