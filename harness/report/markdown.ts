// The Markdown summary of a run, fit for a PR comment: what failed first, then oracle trouble, the
// speed gate and timings, then every result in a collapsed table. Also the counting and number
// formatting the HTML page shares.
import { safe } from '../terminal.ts';
import type { CheckResult } from '../check.ts';
import { formatMismatch } from '../compare.ts';
import type { Computation } from '../invoke.ts';
import { describeDisagreement } from '../run.ts';
import { type ErroredGateRow, gatePassed, type GateRow, type GateSummary, isMeasured, type Report, type Timing } from './types.ts';

// ---- Shared with html.ts

export interface Summary {
  implementations: { passed: number; failed: number; errored: number; skipped: number; na: number };
  oracles: { passed: number; failed: number; errored: number; na: number; skipped: number };
  /** n/a results of implementations and oracles together. */
  na: number;
  caseErrors: number;
  badCaseFiles: number;
  disagreements: number;
  measuredTimings: number;
  erroredTimings: number;
  /** Implementation failures, case file errors or a failed gate. */
  ok: boolean;
}

export function summarize(r: Report): Summary {
  const count = (kind: CheckResult['kind'], state: CheckResult['state']) =>
    r.results.filter((x) => x.kind === kind && x.state === state).length;
  const implementations = {
    passed: count('implementation', 'passed'), failed: count('implementation', 'failed'), errored: count('implementation', 'errored'),
    skipped: count('implementation', 'skipped'), na: count('implementation', 'n/a'),
  };
  const oracles = {
    passed: count('oracle', 'passed'), failed: count('oracle', 'failed'), errored: count('oracle', 'errored'),
    na: count('oracle', 'n/a'), skipped: count('oracle', 'skipped'),
  };
  return {
    implementations, oracles, na: implementations.na + oracles.na,
    caseErrors: r.caseErrors.length, badCaseFiles: new Set(r.caseErrors.map((e) => e.file)).size,
    disagreements: r.disagreements.length,
    measuredTimings: r.timings.filter((t) => t.state === 'measured').length,
    erroredTimings: r.timings.filter((t) => t.state === 'errored').length,
    ok: implementations.failed + implementations.errored === 0 && r.caseErrors.length === 0 && (r.gate ? gatePassed(r.gate) : true),
  };
}

/** Implementation results that failed or threw, in report order. */
export function failingResults(r: Report): CheckResult[] {
  return r.results.filter((x) => x.kind === 'implementation' && (x.state === 'failed' || x.state === 'errored'));
}

export interface FailedCheck { title: string; mismatches: string[] }

/** The failing tensor checks of a failed result: "y vs reference64: 2 of 16 elements ...", worst elements. */
export function failedChecks(r: CheckResult): FailedCheck[] {
  if (r.state !== 'failed') return [];
  return r.checks.filter((k) => !k.comparison.ok).map((k) => {
    const c = k.comparison;
    if (c.problem !== undefined) return { title: `${k.tensor} vs ${k.against}: ${c.problem}`, mismatches: [] };
    return {
      title: `${k.tensor} vs ${k.against}: ${c.failures} of ${c.elements} elements outside the budget (worst ${ratioText(c.maxRatio)}, ${Number.isFinite(c.maxUlps) ? c.maxUlps : 'inf'} ulp)`,
      mismatches: c.mismatches.map((m) => formatMismatch(k.tensor, m)),
    };
  });
}

export const ratioText = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}x` : 'inf');

/** Three significant digits, no exponent for the usual range. */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 10 ** digits) return x.toFixed(0);
  if (a < 1e-3) return x.toExponential(digits - 1);
  return x.toPrecision(digits);
}

/** A log ratio as a percentage change: exp(x) - 1, signed. */
export function logPercent(x: number): string {
  const p = (Math.exp(x) - 1) * 100;
  if (!Number.isFinite(p)) return String(p);
  return `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`;
}

/** How the gate's numbers were made, in one sentence for the reports. */
export function gateMethod(g: GateSummary): string {
  const measured = g.rows.filter(isMeasured);
  const processes = [...new Set(measured.map((x) => x.logRatios.length))].sort((a, b) => a - b).join(' or ');
  const thresholds = [...new Set(measured.map((x) => `+${(x.threshold * 100).toFixed(0)}%`))].join(' / ');
  return `Estimate: candidate time over reference time, minus 1${g.mode === 'baseline' && g.baselineName !== undefined ? ', as a change against the baseline\'s' : ''}: ` +
    `the mean over ${processes} processes of each one's Hodges-Lehmann estimate over its interleaved rounds, averaged in pairs of one ` +
    `candidate-first and one reference-first round, with a two-stage bootstrap 95% interval (processes, then round pairs); ` +
    `slower means the whole interval is above the threshold (${thresholds}).`;
}

export const VERDICT_MARK: Record<GateRow['verdict'], string> = { slower: '❌', faster: '🚀', unchanged: '✅', unconfirmed: '❔', new: '🆕', errored: '💥' };

/** Gate rows that errored while timed: each fails the gate. */
export const erroredRows = (g: GateSummary): ErroredGateRow[] => g.rows.filter((x): x is ErroredGateRow => x.verdict === 'errored');

/** "slower pair" and "errored pair" counts and regressions, for a headline. */
export function gateCounts(g: GateSummary): string {
  const slower = g.rows.filter((x) => x.verdict === 'slower').length;
  const errored = erroredRows(g).length;
  return `${plural(slower, 'slower pair')}, ${errored ? `${plural(errored, 'errored pair')}, ` : ''}${plural(g.regressions.length, 'regression')}`;
}

/** The warning about a baseline recorded elsewhere, or '' when there is none. */
export function foreignWarning(g: GateSummary): string {
  return g.foreignBaseline?.length
    ? `the baseline was recorded on another machine or setup, so its timings may not compare (a warning, not a failure): ${g.foreignBaseline.join('; ')}`
    : '';
}
export const STATE_MARK: Record<CheckResult['state'], string> = { passed: '✅', failed: '❌', errored: '💥', skipped: '⏭️', 'n/a': 'n/a' };

/** "✅ passed · ❌ failed · ..." for under a results table. */
export const stateLegend = (): string =>
  Object.entries(STATE_MARK).map(([k, v]) => (k === v ? k : `${v} ${k}`)).join(' · ');

/** Threads (and processes when more than one) of each engine, from the oracles and the timings. */
export function engineThreads(r: Report): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of r.oracles) out.set(o.name, `${o.threads}`);
  for (const t of r.timings) {
    if (out.has(t.engine) && r.oracles.some((o) => o.name === t.engine)) continue;
    out.set(t.engine, t.processes > 1 ? `${t.threads} x ${t.processes} processes` : `${t.threads}`);
  }
  return out;
}

/** Engine names in a stable order: implementations, then oracles, then anything else seen. */
export function engineOrder(r: Report): string[] {
  const names = [...r.implementations.map((i) => i.name), ...r.oracles.map((o) => o.name)];
  for (const x of r.results) if (!names.includes(x.subject)) names.push(x.subject);
  for (const t of r.timings) if (!names.includes(t.engine)) names.push(t.engine);
  return names;
}

export interface CaseRow { caseId: string; computation: Computation }

/** (case, computation) pairs in the order of the report's cases, then any others the results name. */
export function caseRows(r: Report, items: readonly { caseId: string; computation: Computation }[]): CaseRow[] {
  const key = (x: CaseRow) => `${x.computation}\u0000${x.caseId}`;
  const seen = new Map<string, CaseRow>();
  const order = new Map(r.cases.map((c, i) => [c.id, i]));
  for (const x of items) if (!seen.has(key(x))) seen.set(key(x), { caseId: x.caseId, computation: x.computation });
  const rank = (x: CaseRow) => order.get(x.caseId) ?? r.cases.length;
  return [...seen.values()].sort((a, b) => rank(a) - rank(b) || (a.computation === b.computation ? 0 : a.computation === 'forward' ? -1 : 1));
}

/** Measured timings grouped per (case, computation), fastest first. */
export function timingGroups(r: Report): { row: CaseRow; timings: Timing[] }[] {
  return caseRows(r, r.timings).map((row) => ({
    row,
    timings: r.timings
      .filter((t) => t.caseId === row.caseId && t.computation === row.computation)
      .sort((a, b) => (a.state === 'measured' ? a.medianMs : Infinity) - (b.state === 'measured' ? b.medianMs : Infinity)),
  }));
}

// ---- Markdown

/** Text safe in a Markdown paragraph or table cell: no HTML, no table breaks, no accidental emphasis or code. */
export function md(text: string): string {
  // Controls and bidi characters as visible escapes, as on the terminal (a PR comment is read by people).
  return safe(text.replace(/\r?\n|\r/g, ' '))
    .replace(/[\\`*_[\]|#~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

function table(head: string[], rows: string[][], align?: ('l' | 'r')[]): string[] {
  const sep = head.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  return [`| ${head.join(' | ')} |`, `| ${sep.join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)];
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function headline(r: Report, s: Summary): string[] {
  const i = s.implementations;
  const o = s.oracles;
  const implParts = [`${i.passed} passed`, `${i.failed} failed`, ...(i.errored ? [`${i.errored} errored`] : []), ...(i.skipped ? [`${i.skipped} skipped`] : [])];
  const oracleParts = [
    `${o.passed} agree with reference64`, `${o.failed} disagree`, ...(o.errored ? [`${o.errored} errored`] : []),
    ...(r.absentOracles.length ? [`${r.absentOracles.length} absent`] : []),
  ];
  const lines = [
    `## ${s.ok ? '✅' : '❌'} convbench report ${md(r.name)}`,
    '',
    `**Implementations:** ${implParts.join(', ')}  `,
    `**Oracles:** ${oracleParts.join(', ')}  `,
    `**n/a:** ${s.na} (outside an engine's declared support)  `,
    `**Case files:** ${s.caseErrors ? `❌ ${plural(s.badCaseFiles, 'bad file')} (${plural(s.caseErrors, 'error')})` : 'all loaded'}  `,
  ];
  if (r.gate) {
    const passed = gatePassed(r.gate);
    lines.push(`**Speed gate:** ${passed ? '✅ passed' : '❌ failed'} (${gateCounts(r.gate)})${r.gate.foreignBaseline?.length ? ' · ⚠️ baseline from another machine' : ''}  `);
  }
  const e = r.environment;
  lines.push('', `<sub>${md(r.createdAt)} · Node ${md(e.node)} on ${md(e.platform)}/${md(e.arch)} · ${md(e.cpuModel)} (${e.cores} cores, ${fmt(e.memoryGiB)} GiB)` +
    `${r.shards?.length ? ` · shards ${r.shards.map((x) => `${x.index}/${x.count}`).join(', ')}` : ''}</sub>`);
  return lines;
}

function failures(r: Report): string[] {
  const failing = failingResults(r);
  if (!failing.length) return [];
  const lines = ['', `### ❌ Failures (${failing.length})`, ''];
  for (const x of failing) {
    const where = `**${md(x.subject)}** on ${md(x.caseId)} (${x.computation})`;
    if (x.state === 'errored') { lines.push(`- ${where}: 💥 threw ${md(x.error)}`); continue; }
    lines.push(`- ${where}:`);
    for (const k of failedChecks(x)) {
      lines.push(`  - ${md(k.title)}`);
      for (const m of k.mismatches) lines.push(`    - ${md(m)}`);
    }
  }
  return lines;
}

function caseErrors(r: Report): string[] {
  if (!r.caseErrors.length) return [];
  return ['', `### ❌ Case file errors (${r.caseErrors.length})`, '',
    ...r.caseErrors.map((e) => `- ${md(e.file)}:${e.line}${e.field ? ` ${md(e.field)}` : ''}: ${md(e.message)}`)];
}

function oracleTrouble(r: Report): string[] {
  const lines: string[] = [];
  if (r.disagreements.length) {
    lines.push('', `### ⚠️ Oracle disagreements (${r.disagreements.length})`, '', ...r.disagreements.map((d) => `- ${md(describeDisagreement(d))}`));
  }
  const errored = r.results.filter((x) => x.kind === 'oracle' && x.state === 'errored');
  if (errored.length) {
    lines.push('', `### 💥 Oracle errors (${errored.length})`, '',
      ...errored.map((x) => `- **${md(x.subject)}** on ${md(x.caseId)} (${x.computation}): ${x.state === 'errored' ? md(x.error) : ''}`));
  }
  if (r.absentOracles.length) {
    lines.push('', `### Absent oracles (${r.absentOracles.length})`, '', ...r.absentOracles.map((a) => `- **${md(a.name)}**: ${md(a.reason)}`));
  }
  return lines;
}

function gateSection(r: Report): string[] {
  const g = r.gate;
  if (!g) return [];
  const against = g.mode === 'baseline' ? ` against baseline ${md(g.baselineName ?? '(unnamed)')}` : ' (engines compared)';
  const lines = ['', `### ${gatePassed(g) ? '✅' : '❌'} Speed gate${against}`, ''];
  const warning = foreignWarning(g);
  if (warning) lines.push(`> ⚠️ **Warning:** ${md(warning)}`, '');
  const errored = erroredRows(g);
  if (errored.length) {
    lines.push('**Errored while timed** (fails the gate):', '',
      ...errored.map((x) => `- 💥 **${md(x.candidate)}** vs ${md(x.reference)} on ${md(x.caseId)} (${x.computation}): ${md(x.error)}`), '');
  }
  if (g.regressions.length) lines.push(`**Regressions** (passed in the baseline, fail now): ${g.regressions.map(md).join('; ')}`, '');
  if (g.stillFailing.length) lines.push(`**Still failing**: ${g.stillFailing.map(md).join('; ')}`, '');
  if (g.rows.length) {
    lines.push(...table(
      ['Case', 'Computation', 'Candidate', 'Reference', 'Estimate', '95% interval', 'Baseline', 'Verdict'],
      g.rows.map((x) => [
        md(x.caseId), x.computation, md(x.candidate), md(x.reference),
        ...(isMeasured(x) ? [logPercent(x.estimate), `${logPercent(x.low)} … ${logPercent(x.high)}`, x.baseline === undefined ? '—' : logPercent(x.baseline)] : ['—', '—', '—']),
        `${VERDICT_MARK[x.verdict]} ${x.verdict}`,
      ]),
      ['l', 'l', 'l', 'l', 'r', 'r', 'r', 'l'],
    ), '', ...(g.rows.some(isMeasured) ? [`<sub>${gateMethod(g)}</sub>`] : []));
  }
  return lines;
}

function timingSection(r: Report): string[] {
  const groups = timingGroups(r);
  const measuredRows: string[][] = [];
  const other: string[] = [];
  for (const { timings } of groups) {
    for (const t of timings) {
      if (t.state === 'measured') {
        measuredRows.push([
          md(t.caseId), t.computation, md(t.engine), fmt(t.medianMs), fmt(t.p99Ms), `±${t.rmePercent.toFixed(1)}%`,
          `${fmt(t.throughput)} ${t.throughputUnit}`, `${t.ratioToFastest.toFixed(2)}x`,
          t.ratioToTfjsCpu === undefined ? '—' : `${t.ratioToTfjsCpu.toFixed(2)}x`,
        ]);
      } else if (t.state === 'errored') {
        other.push(`- 💥 **${md(t.engine)}** on ${md(t.caseId)} (${t.computation}): ${md(t.error)}`);
      }
    }
  }
  if (!measuredRows.length && !other.length) return [];
  const lines = ['', '### Timings', ''];
  if (measuredRows.length) {
    lines.push(...table(
      ['Case', 'Computation', 'Engine', 'Median ms', 'p99 ms', '±rme', 'Throughput', 'x fastest', 'x tfjs-cpu'],
      measuredRows, ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
    ));
  }
  if (other.length) lines.push('', 'Timings that failed:', '', ...other);
  return lines;
}

function resultTable(r: Report): string[] {
  if (!r.results.length) return [];
  const engines = engineOrder(r).filter((e) => r.results.some((x) => x.subject === e));
  const rows = caseRows(r, r.results).map((row) => [
    md(row.caseId), row.computation,
    ...engines.map((e) => {
      const x = r.results.find((y) => y.subject === e && y.caseId === row.caseId && y.computation === row.computation);
      return x ? STATE_MARK[x.state] : '';
    }),
  ]);
  return [
    '', '<details><summary>All results (' + `${caseRows(r, r.results).length} case computations x ${engines.length} engines)</summary>`, '',
    ...table(['Case', 'Computation', ...engines.map(md)], rows),
    '', `<sub>${stateLegend()}</sub>`, '', '</details>',
  ];
}

export function renderMarkdown(r: Report): string {
  const s = summarize(r);
  return [
    ...headline(r, s),
    ...failures(r),
    ...caseErrors(r),
    ...oracleTrouble(r),
    ...gateSection(r),
    ...timingSection(r),
    ...resultTable(r),
    '',
  ].join('\n');
}
