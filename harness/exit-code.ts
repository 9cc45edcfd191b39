// The exit code of a report, by the README's contract: 0 all good, 1 failures or regressions,
// 2 bad input or nothing checked. It reads the report itself, not a flag someone set.
import { gatePassed, type Report } from './report/types.ts';

/**
 * 2 when a case file was bad; 1 when a must-reject entry of a case file was not rejected as
 * expected (the loader accepted it, or refused it with another message), an implementation result failed or errored, its timing
 * errored (a hang, crash or throw while timed), or the gate did
 * not pass (a row slower or errored, a regression, or not marked ok); 2 when nothing was checked:
 * no implementation result passed having compared at least one element (all skipped, n/a or none,
 * or every computation that passed had only empty outputs: zero-size batch or channels), or, for a
 * compare report (which has no results and is judged by its gate), no pair was timed; else 0.
 */
export function exitCodeOf(r: Report): number {
  if (r.caseErrors.length > 0) return 2;
  if ((r.rejections ?? []).some((x) => !x.ok)) return 1;
  const results = r.results.filter((x) => x.kind === 'implementation');
  if (results.some((x) => x.state === 'failed' || x.state === 'errored')) return 1;
  // A kernel that hung, crashed or threw while it was timed failed too.
  if (r.timings.some((t) => t.kind === 'implementation' && t.state === 'errored')) return 1;
  if (r.gate && !gatePassed(r.gate)) return 1;
  if (r.gate?.mode === 'compare' && results.length === 0) return r.gate.rows.length > 0 ? 0 : 2;
  return results.some(checkedSomething) ? 0 : 2;
}

/**
 * Whether a result really checked something: it passed (failures were judged above) and its
 * comparisons were not all of empty tensors. A computation whose outputs are all empty (a
 * zero-size batch or channel dimension: y of a batch of 0, every output of a conv with no channels
 * at all) passes with 0 elements compared, which proves no kernel right, so it does not count as
 * one that ran. (A result with no comparisons at all, which a run never makes, is taken by its state.)
 */
export function checkedSomething(r: Report['results'][number]): boolean {
  return r.state === 'passed' && (r.checks.length === 0 || r.checks.some((k) => k.comparison.elements > 0));
}
