// Combining shard reports (run --shard i/n) into one: cases, results and timings concatenated.
import { ReportFormatError } from './json.ts';
import type { Report } from './types.ts';

export function mergeReports(reports: readonly Report[], name: string): Report {
  const [first] = reports;
  if (!first) throw new ReportFormatError('merge: no reports');
  const seen = new Set<string>();
  for (const r of reports) {
    for (const c of r.cases) {
      if (seen.has(c.id)) throw new ReportFormatError(`merge: case "${c.id}" appears in more than one report (${r.name}): not disjoint shards`);
      seen.add(c.id);
    }
  }
  const byName = <T extends { name: string }>(lists: T[][]): T[] => [...new Map(lists.flat().map((x) => [x.name, x])).values()];
  const caseErrors = new Map(reports.flatMap((r) => r.caseErrors).map((e) => [e.message, e]));
  return {
    ...first,
    name,
    createdAt: new Date().toISOString(),
    implementations: byName(reports.map((r) => r.implementations)),
    oracles: byName(reports.map((r) => r.oracles)),
    absentOracles: byName(reports.map((r) => r.absentOracles)),
    caseErrors: [...caseErrors.values()],
    cases: reports.flatMap((r) => r.cases),
    results: reports.flatMap((r) => r.results),
    disagreements: reports.flatMap((r) => r.disagreements),
    timings: reports.flatMap((r) => r.timings),
    shards: reports.flatMap((r) => r.shards ?? []),
    gate: undefined,
  };
}
