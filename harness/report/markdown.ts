// The Markdown summary of a run, fit for a PR comment: what failed first, then oracle trouble, the
// speed gate and timings, then every result in a collapsed table. Also the counting and number
// formatting the HTML page shares.
import { safe } from '../terminal.ts';
import { type CheckResult, isOverflowProne, overflowedElements } from '../check.ts';
import { formatMismatch } from '../compare.ts';
import type { Computation } from '../invoke.ts';
import { describeDisagreement } from '../run.ts';
import {
  type ErroredGateRow, gatePassed, type GateRow, type GateSummary, isMeasured, type MeasuredGateRow, type Report, type Timing,
} from './types.ts';

// ---- Shared with html.ts (and the console summary)

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

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
  /** Implementation results that passed with elements accepted as overflowed (counted in implementations.passed too). */
  overflowProne: number;
  /** Must-reject entries of the case files, and those not rejected as expected. */
  rejections: { total: number; failed: number };
  /** Nothing that fails the run: no implementation failure or timing error, bad case file, must-reject entry that loaded, or failed gate. */
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
  const rejections = { total: (r.rejections ?? []).length, failed: failingRejections(r).length };
  return {
    implementations, oracles, na: implementations.na + oracles.na,
    caseErrors: r.caseErrors.length, badCaseFiles: new Set(r.caseErrors.map((e) => e.file)).size,
    disagreements: r.disagreements.length,
    measuredTimings: r.timings.filter((t) => t.state === 'measured').length,
    erroredTimings: r.timings.filter((t) => t.state === 'errored').length,
    overflowProne: r.results.filter((x) => x.kind === 'implementation' && isOverflowProne(x)).length,
    rejections,
    ok: implementations.failed + implementations.errored === 0 && failingTimings(r).length === 0 && r.caseErrors.length === 0 &&
      rejections.failed === 0 && (r.gate ? gatePassed(r.gate) : true),
  };
}

/** A must-reject entry of the report (`rejections`). */
export type Rejection = NonNullable<Report['rejections']>[number];

/** Must-reject entries that were not rejected as expected (each fails the run), in report order. */
export const failingRejections = (r: Report): Rejection[] => (r.rejections ?? []).filter((x) => !x.ok);

/** All must-reject entries, the failing ones first (report order within each). */
export const rejectionsFailuresFirst = (r: Report): Rejection[] =>
  [...failingRejections(r), ...(r.rejections ?? []).filter((x) => x.ok)];


/** Where the overflow rule is written down, for the renderings' notes. */
export const OVERFLOW_RULE = 'cases/README.md, "Numerics rules": float32 overflow';

/** "1 element non-finite where float32 may overflow, accepted": what an overflow-prone result's mark means. */
export const overflowText = (x: CheckResult): string =>
  `${plural(overflowedElements(x), 'element')} non-finite where float32 may overflow, accepted against reference64 (${OVERFLOW_RULE})`;

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

/** How the gate's numbers were made, with the processes and threads its rows record, for under the gate's table. */
export function gateMethod(r: Report, g: GateSummary): string {
  const measured = g.rows.filter(isMeasured);
  const thresholds = [...new Set(measured.map((x) => `+${(x.threshold * 100).toFixed(0)}%`))].join(' / ');
  return `Estimate: candidate time over reference time, minus 1${againstBaseline(g) ? ', as a change against the baseline\'s' : ''}: ` +
    `the mean over processes of each one's Hodges-Lehmann estimate over its interleaved rounds, averaged in pairs of one ` +
    `candidate-first and one reference-first round, with a two-stage bootstrap 95% interval (processes, then round pairs); ` +
    `slower means the whole interval is above the threshold (${thresholds}). ${gateProcesses(g)} ${gateThreads(r, g)}`;
}

const againstBaseline = (g: GateSummary): boolean => g.mode === 'baseline' && g.baselineName !== undefined;

/** The processes behind the gate's rows, counted from the rows themselves (each process's rounds are one entry of logRatios). */
export function gateProcesses(g: GateSummary): string {
  const perRow = new Map<number, number>();
  for (const x of g.rows.filter(isMeasured)) perRow.set(x.logRatios.length, (perRow.get(x.logRatios.length) ?? 0) + 1);
  const counts = [...perRow].sort((a, b) => a[0] - b[0]);
  const processes = (n: number) => plural(n, 'process', 'processes');
  const measuredIn = counts.length === 1 ? `${processes(counts[0][0])} per pair`
    : `${counts.map(([n, rows]) => `${processes(n)} for ${plural(rows, 'pair')}`).join(', ')} (a pair first judged slower is measured again in new processes, and its row pools both)`;
  const who = g.mode === 'baseline' && g.baselineName === undefined ? 'Recorded as a baseline' : 'Measured in this run';
  const inBaseline = [...new Set(g.rows.filter(isMeasured).flatMap((x) => (x.baselineProcesses === undefined ? [] : [x.baselineProcesses])))].sort((a, b) => a - b);
  const baseline = !againstBaseline(g) ? ''
    : inBaseline.length ? ` The baseline ${JSON.stringify(g.baselineName)} measured its rows in ${inBaseline.map((n) => processes(n)).join(' or ')}.`
      : ` The baseline's rows were measured in their own processes, which this report does not count (see the baseline report ${JSON.stringify(g.baselineName)}).`;
  return `${who}: ${measuredIn}.${baseline}`;
}

/** Threads of an engine as the report records them: an oracle's or implementation's own count, else its timings'. */
export function threadsOf(r: Report, engine: string): string | undefined {
  const oracle = r.oracles.find((o) => o.name === engine);
  if (oracle) return String(oracle.threads);
  const threads = r.implementations.find((i) => i.name === engine)?.threads;
  if (threads !== undefined) return String(threads);
  const counts = [...new Set(r.timings.filter((t) => t.engine === engine).map((t) => t.threads))];
  return counts.length ? counts.join('/') : undefined;
}

function gateThreads(r: Report, g: GateSummary): string {
  const engines = [...new Set(g.rows.flatMap((x) => [x.candidate, x.reference]))].sort();
  return `Threads: ${engines.map((e) => `${e} ${threadsOf(r, e) ?? 'not recorded'}`).join(', ')}.`;
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
/** The mark of a passed result that is overflow-prone (isOverflowProne), in place of ✅. */
export const OVERFLOW_MARK = '⚠️ overflow-prone';

/** "✅ passed · ❌ failed · ..." for under a results table. */
export const stateLegend = (): string =>
  Object.entries(STATE_MARK).map(([k, v]) => (k === v ? k : `${v} ${k}`)).join(' · ');

/** Threads (and processes when more than one) of each engine: the oracles' and implementations' own counts, refined by the timings. */
export function engineThreads(r: Report): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of r.oracles) out.set(o.name, `${o.threads}`);
  for (const i of r.implementations) if (i.threads !== undefined) out.set(i.name, `${i.threads}`);
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
  const byComputation: Record<Computation, number> = { forward: 0, backward: 1, indices: 2 };
  return [...seen.values()].sort((a, b) => rank(a) - rank(b) || byComputation[a.computation] - byComputation[b.computation]);
}

export type MeasuredTiming = Extract<Timing, { state: 'measured' }>;

export interface TimingGroup { row: CaseRow; timings: Timing[]; fastest?: MeasuredTiming }

/** Timings grouped per (case, computation), sorted by median (those without a time last), with the fastest. */
export function timingGroups(r: Report): TimingGroup[] {
  return caseRows(r, r.timings).map((row) => {
    const timings = r.timings
      .filter((t) => t.caseId === row.caseId && t.computation === row.computation)
      .sort((a, b) => (a.state === 'measured' ? a.medianMs : Infinity) - (b.state === 'measured' ? b.medianMs : Infinity));
    const fastest = timings[0]?.state === 'measured' ? timings[0] : undefined;
    return { row, timings, ...(fastest ? { fastest } : {}) };
  });
}

/** A ratio as "2.90x", "34.6x", "100x": fewer decimals as it grows. */
export function times(ratio: number): string {
  if (!Number.isFinite(ratio)) return `${ratio}x`;
  if (ratio < 1) return `${Number(ratio.toPrecision(2))}x`;
  return `${ratio.toFixed(ratio < 10 ? 2 : ratio < 100 ? 1 : 0)}x`;
}

/** A timing against the fastest of its group, in words: "fastest", "as fast as ort", "2.90x slower than ort". */
export function versusFastest(t: MeasuredTiming, fastest: MeasuredTiming): string {
  if (t === fastest) return 'fastest';
  if (t.ratioToFastest < 1.005) return `as fast as ${fastest.engine}`;
  return `${times(t.ratioToFastest)} slower than ${fastest.engine}`;
}

/** Why a timing has no time: "n/a for ort: ...", "tfjs-wasm errored: ...". */
export function noTimeNote(t: Timing): string {
  if (t.state === 'errored') return `${t.engine} errored: ${t.error}`;
  if (t.state === 'n/a') return t.reason.startsWith('n/a') ? t.reason : `n/a for ${t.engine}: ${t.reason}`;
  return '';
}

/** How the timings were made, as they record it: "timed in 1 process per engine; 1 thread per engine except tfjs-wasm 4". */
export function timingConditions(timings: readonly Timing[]): string {
  const processes = recorded(timings, (t) => t.processes, 'process', 'processes');
  const pooled = timings.some((t) => t.processes > 1) ? ' (samples pooled)' : '';
  return `timed in ${processes}${pooled}; ${recorded(timings, (t) => t.threads, 'thread', 'threads')}`;
}

/** The most common value "per engine", then the engines that differ from it: "1 thread per engine except tfjs-wasm 4". */
function recorded(timings: readonly Timing[], value: (t: Timing) => number, one: string, many: string): string {
  const tally = new Map<number, number>();
  for (const t of timings) tally.set(value(t), (tally.get(value(t)) ?? 0) + 1);
  const common = [...tally].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 0;
  const others = new Map<string, Set<number>>();
  for (const t of timings) if (value(t) !== common) others.set(t.engine, (others.get(t.engine) ?? new Set<number>()).add(value(t)));
  const except = [...others].sort((a, b) => a[0].localeCompare(b[0])).map(([engine, values]) => `${engine} ${[...values].join('/')}`);
  return `${plural(common, one, many)} per engine${except.length ? ` except ${except.join(', ')}` : ''}`;
}

/** Everything that fails the gate or the run from the gate's side: slower and errored pairs, regressions, cases still failing. */
export interface GateFailures { slower: MeasuredGateRow[]; errored: ErroredGateRow[]; regressions: string[]; stillFailing: string[] }

export function gateFailures(g: GateSummary | undefined): GateFailures {
  return {
    slower: (g?.rows ?? []).filter((x): x is MeasuredGateRow => x.verdict === 'slower'),
    errored: g ? erroredRows(g) : [],
    regressions: g?.regressions ?? [],
    stillFailing: g?.stillFailing ?? [],
  };
}

/** Implementation timings that errored (hung, crashed or threw while timed): each fails the run. */
export const failingTimings = (r: Report): Extract<Timing, { state: 'errored' }>[] =>
  r.timings.filter((t): t is Extract<Timing, { state: 'errored' }> => t.kind === 'implementation' && t.state === 'errored');

/** How many entries the Failures section lists: failing checks and timings, case file errors, must-reject entries that loaded, and the gate's failures. */
export function failureCount(r: Report): number {
  const g = gateFailures(r.gate);
  return failingResults(r).length + failingTimings(r).length + r.caseErrors.length + failingRejections(r).length +
    g.slower.length + g.errored.length + g.regressions.length + g.stillFailing.length;
}

/** A slower pair's numbers in words: "+235.3% against the baseline (95% interval +228.7% … +249.0%; threshold +10%)". */
export function slowerText(g: GateSummary, x: MeasuredGateRow): string {
  return `${logPercent(x.estimate)} ${againstBaseline(g) ? 'against the baseline' : 'vs the reference'} ` +
    `(95% interval ${logPercent(x.low)} … ${logPercent(x.high)}; threshold +${(x.threshold * 100).toFixed(0)}%)`;
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

function headline(r: Report, s: Summary): string[] {
  const i = s.implementations;
  const o = s.oracles;
  const implParts = [`${i.passed} passed${s.overflowProne ? ` (${s.overflowProne} overflow-prone)` : ''}`, `${i.failed} failed`, ...(i.errored ? [`${i.errored} errored`] : []), ...(i.skipped ? [`${i.skipped} skipped`] : [])];
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
  const j = s.rejections;
  if (j.total) {
    lines.push(`**Must-reject cases:** ${j.failed ? `❌ ${j.failed} of ${j.total} not rejected as expected` : `✅ ${j.total} rejected as expected`}  `);
  }
  if (r.gate) {
    const passed = gatePassed(r.gate);
    lines.push(`**Speed gate:** ${passed ? '✅ passed' : '❌ failed'} (${gateCounts(r.gate)})${r.gate.foreignBaseline?.length ? ' · ⚠️ baseline from another machine' : ''}  `);
  }
  const e = r.environment;
  lines.push('', `<sub>${md(r.createdAt)} · Node ${md(e.node)} on ${md(e.platform)}/${md(e.arch)} · ${md(e.cpuModel)} (${e.cores} cores, ${fmt(e.memoryGiB)} GiB)` +
    `${r.shards?.length ? ` · shards ${r.shards.map((x) => `${x.index}/${x.count}`).join(', ')}` : ''}</sub>`);
  return lines;
}

/** Everything that failed, in one section: checks, case files, the gate. */
function failures(r: Report): string[] {
  const total = failureCount(r);
  if (!total) return [];
  return ['', `### ❌ Failures (${total})`, ...checkFailures(r), ...timingFailures(r), ...caseErrors(r), ...rejectionFailures(r), ...gateFailureLines(r)];
}

/** "**stride zero** (cases/rejects/invalid.yaml:5)": a must-reject entry and where it is. */
const rejectionWhere = (x: Rejection) => `**${md(x.name)}** (${md(x.file)}:${x.line})`;

function rejectionFailures(r: Report): string[] {
  const failing = failingRejections(r);
  if (!failing.length) return [];
  return ['', `#### Must-reject cases (${failing.length})`, '', ...failing.map((x) => `- ❌ ${rejectionWhere(x)}: ${md(x.message)}`)];
}

/** Every must-reject entry, the failing ones first: what the loader was to refuse, and what it said. */
function rejectionSection(r: Report): string[] {
  const all = rejectionsFailuresFirst(r);
  if (!all.length) return [];
  const failed = failingRejections(r).length;
  const rows = all.map((x) => [x.ok ? '✅ rejected' : '❌ not rejected', `${md(x.name)}`, `${md(x.file)}:${x.line}`, md(x.pattern), md(x.message)]);
  return ['', `### ${failed ? '❌' : '✅'} Must-reject cases (${all.length})`, '',
    `${all.length - failed} of ${all.length} rejected by the loader with a matching message${failed ? ` (the ${plural(failed, 'other is', 'others are')} listed under Failures)` : ''}.`,
    ...details(`Must-reject table (${plural(all.length, 'entry', 'entries')}, failing first)`, table(['Outcome', 'Entry', 'Where', 'Pattern', 'Loader said'], rows)),
  ];
}

/** Implementation results that passed with elements accepted as overflowed: listed, as the results table is folded away. */
function overflowSection(r: Report): string[] {
  const prone = r.results.filter((x) => x.kind === 'implementation' && isOverflowProne(x));
  if (!prone.length) return [];
  return ['', `### ⚠️ Overflow-prone results (${prone.length})`, '',
    `Passed, with elements non-finite where float32 may overflow, which are accepted (${md(OVERFLOW_RULE)}):`, '',
    ...prone.map((x) => `- ⚠️ **${md(x.subject)}** on ${md(x.caseId)} (${x.computation}): ${md(plural(overflowedElements(x), 'element'))} accepted as overflowed`),
  ];
}

function timingFailures(r: Report): string[] {
  const failing = failingTimings(r);
  if (!failing.length) return [];
  return ['', `#### Timings (${failing.length})`, '',
    ...failing.map((t) => `- 💥 **${md(t.engine)}** on ${md(t.caseId)} (${t.computation}): errored while timed: ${md(t.error)}`)];
}

function checkFailures(r: Report): string[] {
  const failing = failingResults(r);
  if (!failing.length) return [];
  const lines = ['', `#### Checks (${failing.length})`, ''];
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
  return ['', `#### Case files (${r.caseErrors.length})`, '',
    ...r.caseErrors.map((e) => `- ${md(e.file)}:${e.line}${e.field ? ` ${md(e.field)}` : ''}: ${md(e.message)}`)];
}

function gateFailureLines(r: Report): string[] {
  const g = r.gate;
  const f = gateFailures(g);
  const count = f.slower.length + f.errored.length + f.regressions.length + f.stillFailing.length;
  if (!g || !count) return [];
  const list = (title: string, items: string[]) => (items.length ? ['', `${title}:`, '', ...items.map((x) => `- ${x}`)] : []);
  const pair = (x: GateRow) => `**${md(x.candidate)}** vs ${md(x.reference)} on ${md(x.caseId)} (${x.computation})`;
  return ['', `#### Speed gate (${count})`,
    ...list('**Slower** (fails the gate)', f.slower.map((x) => `❌ ${pair(x)}: ${md(slowerText(g, x))}`)),
    ...list('**Errored while timed** (fails the gate)', f.errored.map((x) => `💥 ${pair(x)}: ${md(x.error)}`)),
    ...list('**Regressions** (passed in the baseline, fail now)', f.regressions.map(md)),
    ...list('**Still failing** (did not pass in the baseline either)', f.stillFailing.map(md)),
  ];
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

/** A long table folded away: the summary line stays visible. */
function details(summary: string, body: string[]): string[] {
  return ['', `<details><summary>${summary}</summary>`, '', ...body, '', '</details>'];
}

/** The verdict counts ("1 slower, 1 faster"), in the order of VERDICT_MARK. */
function verdictCounts(g: GateSummary): string {
  return Object.keys(VERDICT_MARK).flatMap((v) => {
    const n = g.rows.filter((x) => x.verdict === v).length;
    return n ? [`${n} ${v}`] : [];
  }).join(', ');
}

function gateSection(r: Report): string[] {
  const g = r.gate;
  if (!g) return [];
  const against = g.mode === 'baseline' ? ` against baseline ${md(g.baselineName ?? '(unnamed)')}` : ' (engines compared)';
  const lines = ['', `### ${gatePassed(g) ? '✅' : '❌'} Speed gate${against}`, ''];
  const warning = foreignWarning(g);
  if (warning) lines.push(`> ⚠️ **Warning:** ${md(warning)}`, '');
  if (!g.rows.length) return [...lines, 'No pairs were timed.'];
  lines.push(`${plural(g.rows.length, 'pair')}: ${verdictCounts(g)}${gateFailures(g).slower.length + erroredRows(g).length ? ' (the failing ones are listed under Failures)' : ''}.`);
  lines.push(...details(`Gate table (${plural(g.rows.length, 'pair')})`, table(
    ['Case', 'Computation', 'Candidate', 'Reference', 'Estimate', '95% interval', 'Baseline', 'Verdict'],
    g.rows.map((x) => [
      md(x.caseId), x.computation, md(x.candidate), md(x.reference),
      ...(isMeasured(x) ? [logPercent(x.estimate), `${logPercent(x.low)} … ${logPercent(x.high)}`, x.baseline === undefined ? '—' : logPercent(x.baseline)] : ['—', '—', '—']),
      `${VERDICT_MARK[x.verdict]} ${x.verdict}`,
    ]),
    ['l', 'l', 'l', 'l', 'r', 'r', 'r', 'l'],
  )));
  if (g.rows.some(isMeasured)) lines.push('', `<sub>${md(gateMethod(r, g))}</sub>`);
  return lines;
}

/** One line per case: the fastest engine and how far behind each other one is. */
function fastestLines(groups: TimingGroup[]): string[] {
  return groups.flatMap(({ row, timings, fastest }) => {
    if (!fastest) return [];
    const others = timings.filter((t): t is MeasuredTiming => t.state === 'measured' && t !== fastest).map((t) => `${md(t.engine)} ${times(t.ratioToFastest)} slower`);
    return [`- ${md(row.caseId)} (${row.computation}): fastest **${md(fastest.engine)}** (${fmt(fastest.medianMs)} ms)${others.length ? `, then ${others.join(', ')}` : ''}`];
  });
}

/** The rows of the timing table, fastest first per case; engines without a time point to a numbered note. */
function timingRows(groups: TimingGroup[]): { rows: string[][]; notes: string[] } {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const { timings, fastest } of groups) {
    for (const t of timings) {
      const lead = [md(t.caseId), t.computation, md(t.engine)];
      if (t.state !== 'measured' || !fastest) {
        notes.push(`\\[${notes.length + 1}\\] ${md(noTimeNote(t))}`);
        rows.push([...lead, `${t.state} \\[${notes.length}\\]`, '', '', '', '', '']);
        continue;
      }
      const words = versusFastest(t, fastest);
      rows.push([...lead, fmt(t.medianMs), fmt(t.p99Ms), `±${t.rmePercent.toFixed(1)}%`, `${fmt(t.throughput)} ${t.throughputUnit}`,
        t === fastest ? '**fastest**' : md(words), t.ratioToTfjsCpu === undefined ? '—' : times(t.ratioToTfjsCpu)]);
    }
  }
  return { rows, notes };
}

function timingSection(r: Report): string[] {
  if (!r.timings.length) return [];
  const groups = timingGroups(r);
  const { rows, notes } = timingRows(groups);
  const lines = table(['Case', 'Computation', 'Engine', 'Median ms', 'p99 ms', '±rme', 'Throughput', 'vs fastest', 'x tfjs-cpu'],
    rows, ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'l', 'r']);
  const oracleErrors = r.timings.filter((t) => t.kind === 'oracle' && t.state === 'errored')
    .map((t) => `- 💥 **${md(t.engine)}** on ${md(t.caseId)} (${t.computation}): ${md(noTimeNote(t))}`);
  return ['', '### Timings', '', ...fastestLines(groups),
    ...(oracleErrors.length ? ['', 'Oracles that errored while timed (not failures):', '', ...oracleErrors] : []),
    ...details(`Timing table (${plural(groups.length, 'case computation')}, ${plural(r.timings.length, 'timing')}, fastest first)`,
      [...lines, ...(notes.length ? ['', ...notes.map((n) => `${n}  `)] : [])]),
    '', `<sub>Median time per call with tinybench; ${md(timingConditions(r.timings))} (as each timing records it).</sub>`];
}

function resultTable(r: Report): string[] {
  if (!r.results.length) return [];
  const engines = engineOrder(r).filter((e) => r.results.some((x) => x.subject === e));
  const rows = caseRows(r, r.results).map((row) => [
    md(row.caseId), row.computation,
    ...engines.map((e) => {
      const x = r.results.find((y) => y.subject === e && y.caseId === row.caseId && y.computation === row.computation);
      if (!x) return '';
      return isOverflowProne(x) ? OVERFLOW_MARK : STATE_MARK[x.state];
    }),
  ]);
  const overflowLegend = ` · ${OVERFLOW_MARK}: passed, with elements non-finite where float32 may overflow, accepted (${md(OVERFLOW_RULE)})`;
  return [
    '', '<details><summary>All results (' + `${caseRows(r, r.results).length} case computations x ${engines.length} engines)</summary>`, '',
    ...table(['Case', 'Computation', ...engines.map(md)], rows),
    '', `<sub>${stateLegend()}${overflowLegend}</sub>`, '', '</details>',
  ];
}

export function renderMarkdown(r: Report): string {
  const s = summarize(r);
  return [
    ...headline(r, s),
    ...failures(r),
    ...oracleTrouble(r),
    ...rejectionSection(r),
    ...overflowSection(r),
    ...gateSection(r),
    ...timingSection(r),
    ...resultTable(r),
    '',
  ].join('\n');
}
