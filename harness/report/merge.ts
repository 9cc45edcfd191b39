// Combining shard reports (run --shard i/n) into one: cases, results and timings concatenated;
// case errors and must-reject entries, which every shard loads alike, once each.
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
  // Each shard judges every must-reject entry of its case files: one per file, line and name, a
  // failing judgement kept over a passing one should the shards ever differ.
  const rejections = new Map<string, NonNullable<Report['rejections']>[number]>();
  for (const x of reports.flatMap((r) => r.rejections ?? [])) {
    const key = JSON.stringify([x.file, x.line, x.name]);
    const known = rejections.get(key);
    if (!known || (known.ok && !x.ok)) rejections.set(key, x);
  }
  // A shard's phase times are its own: the merged report has none (the schema says so).
  const { phasesMs: _phases, ...rest } = first;
  return {
    ...rest,
    name,
    createdAt: new Date().toISOString(),
    implementations: byName(reports.map((r) => r.implementations)),
    oracles: byName(reports.map((r) => r.oracles)),
    absentOracles: byName(reports.map((r) => r.absentOracles)),
    caseErrors: [...caseErrors.values()],
    ...(reports.some((r) => r.rejections) ? { rejections: [...rejections.values()] } : {}),
    cases: reports.flatMap((r) => r.cases),
    results: reports.flatMap((r) => r.results),
    disagreements: reports.flatMap((r) => r.disagreements),
    timings: reports.flatMap((r) => r.timings),
    shards: reports.flatMap((r) => r.shards ?? []),
    gate: undefined,
  };
}
