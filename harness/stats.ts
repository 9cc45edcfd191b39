// Small robust statistics for the speed gate: Hodges-Lehmann location and a seeded percentile bootstrap.
import { mulberry32 } from './cases/generate.ts';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Quantile q in [0, 1] by linear interpolation between order statistics. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** Hodges-Lehmann one-sample estimator: the median of all Walsh averages (x_i + x_j) / 2, i <= j. */
export function hodgesLehmann(xs: readonly number[]): number {
  const walsh: number[] = [];
  for (let i = 0; i < xs.length; i++) for (let j = i; j < xs.length; j++) walsh.push((xs[i] + xs[j]) / 2);
  return median(walsh);
}

export interface Interval { estimate: number; low: number; high: number }

/** Rounds grouped by the process that measured them: the process, not the round, is the unit. */
export type Clusters = readonly (readonly number[])[];

/** Each cluster's Hodges-Lehmann estimate, averaged: every process weighs the same. */
export function clusteredLocation(clusters: Clusters): number {
  let sum = 0;
  for (const c of clusters) sum += hodgesLehmann(c);
  return sum / clusters.length;
}

/**
 * Two-stage (cluster) percentile bootstrap 95% interval of `statistic`: each resample draws the
 * clusters of every sample with replacement, then the members of each drawn cluster. Rounds from
 * one process are not independent of each other (the process's JIT state moves them together), so
 * resampling rounds alone would give intervals too narrow; with one cluster this is the ordinary
 * bootstrap. Seeded, so the same data gives the same interval.
 */
export function bootstrap(
  samples: readonly Clusters[], statistic: (...sets: number[][][]) => number,
  options: { resamples?: number; seed?: number; level?: number } = {},
): Interval {
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  const next = mulberry32(options.seed ?? 0x5eed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor((next() / 4294967296) * xs.length)];
  const stats: number[] = [];
  for (let b = 0; b < resamples; b++) {
    const sets = samples.map((clusters) => clusters.map(() => {
      const cluster = pick(clusters);
      return cluster.map(() => pick(cluster));
    }));
    stats.push(statistic(...sets));
  }
  return {
    estimate: statistic(...samples.map((clusters) => clusters.map((c) => [...c]))),
    low: quantile(stats, (1 - level) / 2),
    high: quantile(stats, 1 - (1 - level) / 2),
  };
}
