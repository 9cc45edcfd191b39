// The console summary printed at the end of a run: one row per case and computation with a cell
// per engine, then failures, disagreements, a timing table per bench case (fastest first, each
// ratio in words, engines without a time as numbered notes) and the gate. Every line goes through
// safeLine and every value from a case, a module or a report through safe(); colours only when
// the caller asks (colourFor), and only on a line safeLine leaves as it is.
import { type CheckResult, describeFailure, isOverflowProne, worstRatio } from './check.ts';
import { checkedSomething } from './exit-code.ts';
import {
  failingTimings, fmt, gateProcesses, type MeasuredTiming, noTimeNote, type TimingGroup, timingConditions, timingGroups, versusFastest,
} from './report/markdown.ts';
import { type GateRow, type GateSummary, isMeasured, type Report } from './report/types.ts';
import { describeDisagreement, type Disagreement } from './run.ts';
import { safe, safeLine } from './terminal.ts';

type Out = (line: string) => void;

export interface PrintOptions {
  /** ANSI colours. The caller decides (colourFor(process.stdout, process.env)); off by default. */
  colour?: boolean;
}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org; here to any value, even empty). */
export function colourFor(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  return stream.isTTY === true && env.NO_COLOR === undefined;
}

type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow';
const SGR: Record<Style, string> = { bold: '1', dim: '2', red: '31', green: '32', yellow: '33' };

/** A piece of a line: its text and how to colour it. */
interface Part { text: string; style?: Style }

/** Writes lines through safeLine; a line with colours only when safeLine leaves its text as it is (else plain). */
interface Printer { line(text: string): void; parts(parts: Part[]): void }

function printer(sink: Out, colour: boolean): Printer {
  const line = (text: string) => sink(safeLine(text));
  const parts = (ps: Part[]) => {
    const plain = ps.map((p) => p.text).join('');
    const checked = safeLine(plain);
    if (!colour || checked !== plain) { sink(checked); return; }
    sink(ps.map((p) => (p.style && p.text ? `\x1b[${SGR[p.style]}m${p.text}\x1b[0m` : p.text)).join(''));
  };
  return { line, parts };
}

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

function cell(r: CheckResult | undefined): Cell {
  if (!r) return { text: '' };
  if (isOverflowProne(r)) return { text: 'overflow-prone', style: 'yellow' };
  if (r.state === 'passed') { const w = worstRatio(r); return { text: `ok ${w < 0.001 ? '0' : w.toFixed(3)}`, style: 'green' }; }
  if (r.state === 'failed') { const w = worstRatio(r); return { text: `FAIL ${Number.isFinite(w) ? w.toFixed(1) : 'inf'}`, style: 'red' }; }
  if (r.state === 'errored') return { text: 'ERROR', style: 'red' };
  return { text: r.state, style: 'dim' };
}

/** A table cell: a value (made safe by the table) and its colour. */
type Cell = Part;
interface Column { title: string; align?: 'right' }
const INDENT = '  ';

/**
 * Columns padded to their widest cell, two spaces apart, numbers right-aligned: every row has the
 * same column positions. Cells are values, made safe here; a row ends at its last non-empty cell.
 */
function table(columns: Column[], rows: Cell[][], p: Printer): void {
  const safeRows = [columns.map((c): Cell => ({ text: c.title, style: 'bold' })), ...rows].map((r) => r.map((c) => ({ ...c, text: safe(c.text) })));
  const widths = columns.map((_, i) => Math.max(...safeRows.map((r) => r[i]?.text.length ?? 0)));
  for (const row of safeRows) {
    const last = row.reduce((at, c, i) => (c.text ? i : at), -1);
    const parts: Part[] = [{ text: INDENT }];
    row.slice(0, last + 1).forEach((c, i) => {
      const pad = ' '.repeat(widths[i] - c.text.length);
      if (i > 0) parts.push({ text: '  ' });
      if (columns[i].align === 'right') parts.push({ text: pad }, c);
      else parts.push(c, { text: i === last ? '' : pad });
    });
    p.parts(parts);
  }
}

const pct = (logRatio: number) => `${((Math.exp(logRatio) - 1) * 100).toFixed(1)}%`;

const VERDICT_STYLE: Partial<Record<GateRow['verdict'], Style>> = { slower: 'red', errored: 'red', faster: 'green', unconfirmed: 'yellow', new: 'dim' };

export function printGate(g: GateSummary, sink: Out, options: PrintOptions = {}): void {
  const p = printer(sink, options.colour ?? false);
  for (const w of g.foreignBaseline ?? []) p.parts([{ text: 'warning: ', style: 'yellow' }, { text: `baseline from another machine or setup (timings may not compare; not a failure): ${safe(w)}` }]);
  if (g.rows.length === 0) { p.line('gate: no pairs were timed'); return; }
  const change = g.mode === 'baseline' && g.baselineName !== undefined ? 'change vs baseline' : 'candidate vs reference';
  const columns: Column[] = [{ title: 'case' }, { title: 'computation' }, { title: 'candidate' }, { title: 'reference' },
    { title: change, align: 'right' }, { title: '95% interval', align: 'right' }, { title: 'verdict' }];
  table(columns, g.rows.map((r) => [{ text: r.caseId }, { text: r.computation }, { text: r.candidate }, { text: r.reference },
    ...(isMeasured(r) ? [{ text: pct(r.estimate) }, { text: `[${pct(r.low)}, ${pct(r.high)}]` }] : [{ text: '—' }, { text: '—' }]),
    { text: isMeasured(r) ? r.verdict : 'ERRORED', style: VERDICT_STYLE[r.verdict] }]), p);
  if (g.rows.some(isMeasured)) p.parts([{ text: `${INDENT}${safe(gateProcesses(g))}`, style: 'dim' }]);
  for (const r of g.rows) {
    if (r.verdict === 'errored') p.parts([{ text: 'errored while timed (fails the gate)', style: 'red' }, { text: `: ${safe(r.candidate)} vs ${safe(r.reference)} on "${safe(r.caseId)}" ${r.computation}: ${safe(r.error)}` }]);
  }
}

const TIMING_COLUMNS: Column[] = [
  { title: 'engine' }, { title: 'median ms', align: 'right' }, { title: 'p99 ms', align: 'right' }, { title: '±rme', align: 'right' },
  { title: 'throughput', align: 'right' }, { title: 'vs fastest' },
];

/** A measured engine's row: the fastest in green, every other with its ratio in words. */
function timingCells(t: MeasuredTiming, fastest: MeasuredTiming): Cell[] {
  const style: Style | undefined = t === fastest ? 'green' : undefined;
  return [{ text: t.engine, style }, { text: fmt(t.medianMs) }, { text: fmt(t.p99Ms) }, { text: `${t.rmePercent.toFixed(1)}%` },
    { text: `${fmt(t.throughput)} ${t.throughputUnit}` }, { text: versusFastest(t, fastest), style }];
}

/** One case's timings: a table sorted by median, then a numbered note for each engine without a time. */
function printTimingGroup(g: TimingGroup, p: Printer): void {
  p.line('');
  p.parts([{ text: safe(`${g.row.caseId} (${g.row.computation})`), style: 'bold' }]);
  const notes: string[] = [];
  const rows = g.timings.map((t): Cell[] => {
    if (t.state === 'measured' && g.fastest) return timingCells(t, g.fastest);
    notes.push(noTimeNote(t));
    return [{ text: t.engine, style: 'dim' }, { text: `${t.state} [${notes.length}]`, style: t.state === 'errored' ? 'red' : 'dim' }];
  });
  table(TIMING_COLUMNS, rows, p);
  notes.forEach((n, i) => p.parts([{ text: `${INDENT}[${i + 1}] ${safe(n)}`, style: 'dim' }]));
}

function printTimings(r: Report, p: Printer): void {
  if (!r.timings.some((t) => t.state === 'measured')) return;
  p.line(`\ntimings (median per call, fastest first; ${safe(timingConditions(r.timings))}):`);
  for (const g of timingGroups(r)) printTimingGroup(g, p);
}

function printCorrectness(r: Report, p: Printer): void {
  const engines = [...r.implementations.map((i) => i.name), ...r.oracles.map((o) => o.name)];
  const keyed = new Map(r.results.map((x) => [`${x.caseId}\u0000${x.computation}\u0000${x.subject}`, x]));
  const keys = [...new Set(r.results.map((x) => `${x.caseId}\u0000${x.computation}`))];
  if (!keys.length) return;
  p.line('\ncorrectness (worst error / budget; n/a and skipped reasons in the reports):');
  table(['case', 'computation', ...engines].map((title) => ({ title })), keys.map((k) => {
    const [caseId, computation] = k.split('\u0000');
    return [{ text: caseId }, { text: computation }, ...engines.map((e) => cell(keyed.get(`${k}\u0000${e}`)))];
  }), p);
}

function printProblems(r: Report, p: Printer): void {
  const bad = r.results.filter((x) => x.kind === 'implementation' && (x.state === 'failed' || x.state === 'errored'));
  const rejections = (r.rejections ?? []).filter((x) => !x.ok);
  if (bad.length || failingTimings(r).length || rejections.length) { p.line(''); p.parts([{ text: 'failures:', style: 'red' }]); }
  for (const x of bad) p.line(describeFailure(safeResult(x)));
  for (const x of rejections) p.line(`must-reject case "${safe(x.name)}" (${safe(x.file)}:${x.line}): ${safe(x.message)}`);
  for (const t of failingTimings(r)) p.line(`${safe(t.engine)} on "${safe(t.caseId)}" ${t.computation}: errored while timed: ${safe(t.error)}`);
  if (r.disagreements.length) p.line('\noracle disagreements with reference64 (reported; not failures of the implementations):');
  for (const d of r.disagreements) p.line(`  ${describeDisagreement(safeDisagreement(d))}`);
}

function printTotals(r: Report, p: Printer): void {
  const count = (kind: string, s: CheckResult['state']) => r.results.filter((x) => x.kind === kind && x.state === s).length;
  const prone = r.results.filter((x) => x.kind === 'implementation' && isOverflowProne(x)).length;
  p.line(`\n${r.cases.length} cases, ${r.implementations.length} implementation${r.implementations.length === 1 ? '' : 's'}: ${count('implementation', 'passed')} passed` +
    `${prone ? ` (${prone} overflow-prone: non-finite where float32 may overflow)` : ''}, ` +
    `${count('implementation', 'failed')} failed, ${count('implementation', 'errored')} errored, ${count('implementation', 'skipped')} skipped` +
    `${count('implementation', 'n/a') ? `, ${count('implementation', 'n/a')} n/a (declined)` : ''}; ` +
    `oracles: ${count('oracle', 'passed')} agree, ${count('oracle', 'failed')} disagree, ${count('oracle', 'errored')} errored, ${count('oracle', 'n/a')} n/a; ` +
    `${r.caseErrors.length} bad case(s)`);
  const passed = r.results.filter((x) => x.kind === 'implementation' && x.state === 'passed');
  if (passed.length > 0 && !passed.some(checkedSomething)) {
    p.line('nothing was checked: every computation that passed had only empty outputs (a zero-size batch or channel dimension proves no kernel right); exit 2');
  }
  for (const a of r.absentOracles) p.line(`absent oracle ${safe(a.name)}: ${safe(a.reason)}`);
  for (const e of r.caseErrors) p.line(`bad case: ${safe(e.message)}`);
  const rejections = r.rejections ?? [];
  if (rejections.length) {
    const failed = rejections.filter((x) => !x.ok).length;
    p.line(`${rejections.length} must-reject case(s): ${rejections.length - failed} rejected as expected, ${failed} not${failed ? ' (see failures)' : ''}`);
  }
}

export function printSummary(r: Report, sink: Out, options: PrintOptions = {}): void {
  const p = printer(sink, options.colour ?? false);
  printCorrectness(r, p);
  printProblems(r, p);
  printTimings(r, p);
  if (r.gate) {
    p.line(`\ngate (${r.gate.mode}${r.gate.baselineName ? ` against "${safe(r.gate.baselineName)}"` : ''}):`);
    printGate(r.gate, sink, options);
    for (const f of r.gate.regressions) p.parts([{ text: 'regression', style: 'red' }, { text: ` (passed in the baseline, fails now): ${safe(f)}` }]);
    for (const f of r.gate.stillFailing) p.line(`failing (did not pass in the baseline either): ${safe(f)}`);
  }
  printTotals(r, p);
}
