// The console summary printed at the end of a run: one row per case and computation with a cell
// per engine, then failures, disagreements, timings and the gate.
import { type CheckResult, describeFailure, worstRatio } from './check.ts';
import { type GateSummary, isMeasured, type Report } from './report/types.ts';
import { describeDisagreement, type Disagreement } from './run.ts';
import { safe, safeLine } from './terminal.ts';

type Out = (line: string) => void;

/** Every line through safeLine; every value from a case, a module or a report through safe() where it is put in. */
const guarded = (out: Out): Out => (line) => out(safeLine(line));

/** A result with its strings made safe, for describeFailure. */
function safeResult(r: CheckResult): CheckResult {
  const base = { ...r, caseId: safe(r.caseId), subject: safe(r.subject) };
  switch (base.state) {
    case 'errored': return { ...base, error: safe(base.error), ...(base.stack ? { stack: base.stack.map(safe) } : {}) };
    case 'skipped': case 'n/a': return { ...base, reason: safe(base.reason) };
    case 'passed': case 'failed': return {
      ...base,
      checks: base.checks.map((k) => ({
        ...k, against: safe(k.against),
        comparison: { ...k.comparison, ...(k.comparison.problem !== undefined ? { problem: safe(k.comparison.problem) } : {}) },
      })),
    };
  }
}

const safeDisagreement = (d: Disagreement): Disagreement => ({
  ...d, caseId: safe(d.caseId), tensor: safe(d.tensor), engine: safe(d.engine), detail: safe(d.detail),
  agreeing: d.agreeing.map(safe), disagreeing: d.disagreeing.map(safe),
});

function cell(r: CheckResult | undefined): string {
  if (!r) return '';
  if (r.state === 'passed') { const w = worstRatio(r); return `ok ${w < 0.001 ? '0' : w.toFixed(3)}`; }
  if (r.state === 'failed') { const w = worstRatio(r); return `FAIL ${Number.isFinite(w) ? w.toFixed(1) : 'inf'}`; }
  if (r.state === 'errored') return 'ERROR';
  return r.state;
}

/** Columns padded to width; cells are values, made safe here. The last cell of a short row (a reason) runs on without widening its column. */
function table(rows: string[][], out: Out): void {
  const cells = rows.map((r) => r.map(safe));
  const n = cells[0].length;
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => (r.length < n && i === r.length - 1 ? 0 : (r[i] ?? '').length))));
  for (const r of cells) out(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}

const pct = (logRatio: number) => `${((Math.exp(logRatio) - 1) * 100).toFixed(1)}%`;

export function printGate(g: GateSummary, sink: Out): void {
  const out = guarded(sink);
  for (const w of g.foreignBaseline ?? []) out(`warning: baseline from another machine or setup (timings may not compare; not a failure): ${safe(w)}`);
  if (g.rows.length === 0) { out('gate: no pairs were timed'); return; }
  const change = g.mode === 'baseline' && g.baselineName !== undefined ? 'change vs baseline' : 'candidate vs reference';
  const rows = [['case', 'computation', 'candidate', 'reference', change, '95% interval', 'verdict']];
  for (const r of g.rows) {
    rows.push([r.caseId, r.computation, r.candidate, r.reference,
      ...(isMeasured(r) ? [pct(r.estimate), `[${pct(r.low)}, ${pct(r.high)}]`, r.verdict] : ['—', '—', 'ERRORED'])]);
  }
  table(rows, out);
  for (const r of g.rows) {
    if (r.verdict === 'errored') out(`errored while timed (fails the gate): ${safe(r.candidate)} vs ${safe(r.reference)} on "${safe(r.caseId)}" ${r.computation}: ${safe(r.error)}`);
  }
}

export function printSummary(r: Report, sink: Out): void {
  const out = guarded(sink);
  const engines = [...r.implementations.map((i) => i.name), ...r.oracles.map((o) => o.name)];
  const keyed = new Map(r.results.map((x) => [`${x.caseId}\u0000${x.computation}\u0000${x.subject}`, x]));
  const keys = [...new Set(r.results.map((x) => `${x.caseId}\u0000${x.computation}`))];
  if (keys.length) {
    out('\ncorrectness (worst error / budget; n/a and skipped reasons in the reports):');
    table([['case', 'computation', ...engines], ...keys.map((k) => {
      const [caseId, computation] = k.split('\u0000');
      return [caseId, computation, ...engines.map((e) => cell(keyed.get(`${k}\u0000${e}`)))];
    })], out);
  }
  const bad = r.results.filter((x) => x.kind === 'implementation' && (x.state === 'failed' || x.state === 'errored'));
  if (bad.length) out('\nfailures:');
  for (const x of bad) out(describeFailure(safeResult(x)));
  if (r.disagreements.length) out('\noracle disagreements with reference64 (reported; not failures of the implementations):');
  for (const d of r.disagreements) out(`  ${describeDisagreement(safeDisagreement(d))}`);
  const measured = r.timings.filter((t) => t.state === 'measured');
  if (measured.length) {
    out('\ntimings (median, p99, relative margin of error, throughput, x fastest, x tfjs-cpu):');
    table([['case', 'computation', 'engine', 'median ms', 'p99 ms', '±rme', 'throughput', 'x fastest', 'x tfjs-cpu'], ...r.timings.map((t) => {
      if (t.state !== 'measured') return [t.caseId, t.computation, t.engine, t.state === 'n/a' ? `n/a: ${t.reason}` : `error: ${t.error}`];
      return [t.caseId, t.computation, t.engine, t.medianMs.toFixed(3), t.p99Ms.toFixed(3), `${t.rmePercent.toFixed(1)}%`,
        `${t.throughput.toFixed(2)} ${t.throughputUnit}`, t.ratioToFastest.toFixed(2), t.ratioToTfjsCpu?.toFixed(2) ?? ''];
    })], out);
  }
  if (r.gate) {
    out(`\ngate (${r.gate.mode}${r.gate.baselineName ? ` against "${safe(r.gate.baselineName)}"` : ''}):`);
    printGate(r.gate, out);
    for (const f of r.gate.regressions) out(`regression (passed in the baseline, fails now): ${safe(f)}`);
    for (const f of r.gate.stillFailing) out(`failing (did not pass in the baseline either): ${safe(f)}`);
  }
  const count = (kind: string, s: CheckResult['state']) => r.results.filter((x) => x.kind === kind && x.state === s).length;
  out(`\n${r.cases.length} cases, ${r.implementations.length} implementations: ${count('implementation', 'passed')} passed, ` +
    `${count('implementation', 'failed')} failed, ${count('implementation', 'errored')} errored, ${count('implementation', 'skipped')} skipped; ` +
    `oracles: ${count('oracle', 'passed')} agree, ${count('oracle', 'failed')} disagree, ${count('oracle', 'errored')} errored, ${count('oracle', 'n/a')} n/a; ` +
    `${r.caseErrors.length} bad case(s)`);
  for (const a of r.absentOracles) out(`absent oracle ${safe(a.name)}: ${safe(a.reason)}`);
  for (const e of r.caseErrors) out(`bad case: ${safe(e.message)}`);
}
