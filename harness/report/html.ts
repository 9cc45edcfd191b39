// The HTML page of a run: one self-contained file (inline CSS, inline SVG charts drawn here, a few
// lines of inline JS for filtering) that works offline from file://. Every string from the report
// is escaped; the report itself rides along as JSON for machines to read back.
import { createHash } from 'node:crypto';
import { type CheckResult, isOverflowProne } from '../check.ts';
import { describeDisagreement } from '../run.ts';
import { serializeReport } from './json.ts';
import {
  caseRows, engineOrder, engineThreads, failedChecks, failingRejections, failingResults, failingTimings, failureCount, fmt, foreignWarning, gateCounts,
  gateFailures, gateMethod, logPercent, OVERFLOW_RULE, overflowText, plural, type MeasuredTiming, noTimeNote, type Rejection,
  rejectionsFailuresFirst, slowerText, summarize, type Summary, type TimingGroup, timingConditions, timingGroups, times, versusFastest,
} from './markdown.ts';
import { gatePassed, type GateRow, type GateSummary, isMeasured, type Report, type Timing } from './types.ts';

// Words, not emoji: a machine without an emoji font shows emoji as boxes.
const STATE_WORD: Record<CheckResult['state'], string> = { passed: 'pass', failed: 'FAIL', errored: 'ERROR', skipped: 'skip', 'n/a': 'n/a' };
const VERDICT_CLASS: Record<GateRow['verdict'], string> = { slower: 'fail', faster: 'pass', unchanged: '', unconfirmed: 'warn', new: 'muted', errored: 'fail' };

/** Text and attribute values: & < > " ' escaped. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** JSON inside <script type="application/json">: nothing in it can close the element or open a comment. */
export function embedJson(json: string): string {
  return json.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const STYLE = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #fff; --soft: #f6f8fa;
  --pass: #1a7f37; --fail: #cf222e; --warn: #9a6700; --impl: #0969da; --oracle: #8250df; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0 0 8px; }
.muted { color: var(--muted); } code, .mono { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-size: 13px; font-weight: 600; color: #fff; vertical-align: middle; margin-left: 8px; }
.badge.ok { background: var(--pass); } .badge.bad { background: var(--fail); }
.env { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 12px; margin-top: 16px; } .env .wide { grid-column: 1 / -1; }
@media (max-width: 800px) { .env { grid-template-columns: minmax(0, 1fr); } }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; font-weight: 700; color: #fff; background: var(--fail); margin-right: 4px; vertical-align: 1px; }
.panel { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: var(--soft); overflow-x: auto; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; } dt { color: var(--muted); } dd { margin: 0; word-break: break-word; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.card .n { font-size: 22px; font-weight: 600; } .card.bad { border-color: var(--fail); background: #ffebe9; } .card.ok { border-color: #aceebb; background: #dafbe1; }
.card.warn { border-color: #d4a72c; background: #fff8c5; }
.pass { color: var(--pass); } .fail { color: var(--fail); } .warn { color: var(--warn); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; } .panel table { margin: 0; background: transparent; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.case { max-width: 420px; word-break: break-word; } td.ratio { white-space: nowrap; }
.failure { border: 1px solid var(--line); border-left: 4px solid var(--fail); border-radius: 6px; padding: 10px 14px; margin: 0 0 12px; }
.failure ul { margin: 4px 0 0; padding-left: 20px; } .failure li { margin: 2px 0; }
ul.plain { padding-left: 20px; } ul.plain li { margin: 4px 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
figure.chart figcaption { font-weight: 600; margin-bottom: 6px; word-break: break-word; } figure.chart svg { width: 100%; height: auto; display: block; }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); } svg .value { fill: var(--muted); } svg .note { fill: var(--fail); }
svg rect.bar.implementation { fill: var(--impl); } svg rect.bar.oracle { fill: var(--oracle); } svg .grid { stroke: var(--line); }
svg .tick { fill: var(--muted); font-size: 11px; } svg text.value.fastest { fill: var(--pass); font-weight: 600; } svg rect.bar.fastest { stroke: var(--pass); stroke-width: 2; }
.fastest-note { font-weight: 400; } tr.fastest td { background: #f0fff4; }
.legend span { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 12px; vertical-align: -1px; }
td.state { text-align: center; white-space: nowrap; } td.s-failed, td.s-errored { background: #ffebe9; color: var(--fail); font-weight: 700; } td.s-passed { background: #f0fff4; color: var(--pass); }
td.s-n\\/a, td.s-skipped { color: var(--muted); } td.s-overflow { background: #fff8c5; color: var(--warn); font-weight: 600; }
.filters { display: flex; gap: 16px; align-items: center; margin: 8px 0; } .filters input[type=search] { padding: 4px 8px; width: 320px; max-width: 100%; }
nav { margin-top: 12px; } nav a { margin-right: 14px; color: var(--impl); text-decoration: none; }
`;

/** Filtering the results table: by text, and to rows with a problem. */
const SCRIPT = `
(function () {
  var q = document.getElementById('filter-text');
  var bad = document.getElementById('filter-bad');
  var rows = document.querySelectorAll('#results-table tbody tr');
  if (!q || !bad) return;
  function apply() {
    var text = q.value.toLowerCase();
    rows.forEach(function (tr) {
      var show = (!text || tr.textContent.toLowerCase().indexOf(text) >= 0) && (!bad.checked || tr.getAttribute('data-problem') === '1');
      tr.style.display = show ? '' : 'none';
    });
  }
  q.addEventListener('input', apply);
  bad.addEventListener('change', apply);
})();
`;

const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
const td = (html: string, cls = '') => `<td${cls ? ` class="${cls}"` : ''}>${html}</td>`;

function dl(entries: [string, string][]): string {
  if (!entries.length) return '<p class="muted">none</p>';
  return `<dl>${entries.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
}

function header(r: Report, s: Summary): string {
  const e = r.environment;
  const threads = engineThreads(r);
  const engineRows = [
    ...r.implementations.map((i) => `<tr><td>${esc(i.name)}</td><td>implementation</td><td>${esc(i.layout)}, ${esc(i.source)}</td><td class="num">${esc(threads.get(i.name) ?? '—')}</td></tr>`),
    ...r.oracles.map((o) => `<tr><td>${esc(o.name)}</td><td>oracle</td><td>${esc(Object.entries(o.versions).map(([k, v]) => `${k} ${v}`).join(', '))}</td><td class="num">${esc(threads.get(o.name) ?? String(o.threads))}</td></tr>`),
    ...[...threads.keys()].filter((n) => !r.implementations.some((i) => i.name === n) && !r.oracles.some((o) => o.name === n))
      .map((n) => `<tr><td>${esc(n)}</td><td>timed</td><td></td><td class="num">${esc(threads.get(n) ?? '—')}</td></tr>`),
    ...r.absentOracles.map((a) => `<tr><td>${esc(a.name)}</td><td>absent oracle</td><td class="muted">${esc(a.reason)}</td><td class="num">—</td></tr>`),
  ];
  return `<header>
<h1>convbench report ${esc(r.name)}<span class="badge ${s.ok ? 'ok' : 'bad'}">${s.ok ? 'passed' : 'failed'}</span></h1>
<div class="muted">${esc(r.createdAt)}${r.shards?.length ? ` · shards ${esc(r.shards.map((x) => `${x.index}/${x.count}`).join(', '))}` : ''}</div>
<div class="env">
<div class="panel"><h3>Machine</h3>${dl([
    ['CPU', e.cpuModel], ['Cores', String(e.cores)], ['Memory', `${fmt(e.memoryGiB)} GiB`], ['Node', e.node], ['Platform', `${e.platform}/${e.arch}`],
  ])}</div>
<div class="panel"><h3>Packages</h3>${dl(Object.entries(e.packages))}</div>
<div class="panel"><h3>Settings</h3>${dl(Object.entries(e.settings))}</div>
<div class="panel wide"><h3>Engines and threads</h3><table><thead><tr><th>Engine</th><th>Kind</th><th>Details</th><th class="num">Threads</th></tr></thead><tbody>${engineRows.join('')}</tbody></table></div>
</div>
<nav><a href="#summary">Summary</a><a href="#failures">Failures</a><a href="#oracles">Oracles</a>${r.rejections?.length ? '<a href="#rejections">Must-reject cases</a>' : ''}${r.gate ? '<a href="#gate">Speed gate</a>' : ''}<a href="#timings">Timings</a><a href="#results">All results</a></nav>
</header>`;
}

function summary(r: Report, s: Summary): string {
  const i = s.implementations;
  const o = s.oracles;
  const card = (cls: string, n: string, label: string, detail: string) =>
    `<div class="card ${cls}"><div class="n">${n}</div><div>${label}</div><div class="muted">${detail}</div></div>`;
  const cards = [
    card(i.failed + i.errored ? 'bad' : 'ok', `${i.passed} / ${i.passed + i.failed + i.errored}`, 'implementation results passed',
      `${i.failed} failed, ${i.errored} errored, ${i.skipped} skipped${s.overflowProne ? `; ${s.overflowProne} overflow-prone` : ''}`),
    card(o.failed + o.errored ? 'warn' : 'ok', `${o.passed} / ${o.passed + o.failed + o.errored}`, 'oracle results agree with reference64',
      `${o.failed} disagree, ${o.errored} errored, ${r.absentOracles.length} absent`),
    card('', String(s.na), 'n/a', 'outside an engine\'s declared support'),
    card(s.caseErrors ? 'bad' : 'ok', String(s.badCaseFiles), 'bad case files', plural(s.caseErrors, 'error')),
    ...(s.rejections.total ? [card(s.rejections.failed ? 'bad' : 'ok', `${s.rejections.total - s.rejections.failed} / ${s.rejections.total}`,
      'must-reject cases rejected', `${s.rejections.failed} not rejected as expected`)] : []),
    card('', String(s.measuredTimings), 'timings measured', `${s.erroredTimings} errored`),
    ...(r.gate ? [card(gatePassed(r.gate) ? (r.gate.foreignBaseline?.length ? 'warn' : 'ok') : 'bad', gatePassed(r.gate) ? 'passed' : 'failed', 'speed gate',
      `${gateCounts(r.gate)}${r.gate.foreignBaseline?.length ? '; baseline from another machine' : ''}`)] : []),
  ];
  return `<section id="summary"><h2>Summary</h2><div class="cards">${cards.join('')}</div></section>`;
}

function failureArticle(x: CheckResult): string {
  const title = `<h3><span class="tag">${STATE_WORD[x.state]}</span> ${esc(x.subject)} <span class="muted">on</span> <span class="mono">${esc(x.caseId)}</span> <span class="muted">(${esc(x.computation)})</span></h3>`;
  if (x.state === 'errored') return `<article class="failure">${title}<div>threw <code>${esc(x.error)}</code></div></article>`;
  const checks = failedChecks(x).map((k) => `<li>${esc(k.title)}${k.mismatches.length ? `<ul>${k.mismatches.map((m) => `<li><code>${esc(m)}</code></li>`).join('')}</ul>` : ''}</li>`);
  return `<article class="failure">${title}<ul>${checks.join('')}</ul></article>`;
}

/** One failure that is not a check: a tag, what it is about (HTML), and why it fails (HTML). */
const article = (cls: string, tag: string, about: string, why: string) =>
  `<article class="${cls}"><h3><span class="tag">${esc(tag)}</span> ${about}</h3><div>${why}</div></article>`;
const gateArticle = (tag: string, about: string, why: string) => article('failure gate', tag, about, why);

const pairTitle = (x: GateRow) =>
  `${esc(x.candidate)} <span class="muted">vs</span> ${esc(x.reference)} <span class="muted">on</span> <span class="mono">${esc(x.caseId)}</span> <span class="muted">(${esc(x.computation)})</span>`;

function gateArticles(g: GateSummary | undefined): string[] {
  if (!g) return [];
  const f = gateFailures(g);
  return [
    ...f.slower.map((x) => gateArticle('SLOWER', pairTitle(x), `Slower (fails the speed gate): ${esc(slowerText(g, x))}`)),
    ...f.errored.map((x) => gateArticle('ERRORED', pairTitle(x), `Errored while timed (fails the speed gate): <code>${esc(x.error)}</code>`)),
    ...f.regressions.map((c) => gateArticle('REGRESSION', `<span class="mono">${esc(c)}</span>`, 'Regression (fails the speed gate): passed in the baseline, fails now.')),
    ...f.stillFailing.map((c) => gateArticle('STILL FAILING', `<span class="mono">${esc(c)}</span>`, 'Still failing: did not pass in the baseline of the speed gate either.')),
  ];
}

/** Everything that failed, in one section at the top: checks, the speed gate, case files. */
function failures(r: Report): string {
  const timed = failingTimings(r).map((t) => article('failure', 'ERROR',
    `${esc(t.engine)} <span class="muted">on</span> <span class="mono">${esc(t.caseId)}</span> <span class="muted">(${esc(t.computation)})</span>`,
    `Errored while timed: <code>${esc(t.error)}</code>`));
  const rejected = failingRejections(r).map((x) => article('failure rejection', 'NOT REJECTED', rejectionTitle(x),
    `Must-reject case: expected the loader to refuse it with <code>${esc(x.pattern)}</code>. ${esc(x.message)}`));
  const items = [...failingResults(r).map(failureArticle), ...timed, ...rejected, ...gateArticles(r.gate)];
  const caseErrors = r.caseErrors.length
    ? `<h3>Case file errors</h3><ul class="plain">${r.caseErrors.map((e) => `<li><code>${esc(e.file)}:${e.line}</code>${e.field ? ` <code>${esc(e.field)}</code>` : ''}: ${esc(e.message)}</li>`).join('')}</ul>`
    : '';
  const body = items.length || caseErrors ? items.join('\n') : '<p class="pass">Nothing failed.</p>';
  return `<section id="failures"><h2>Failures (${failureCount(r)})</h2>${body}${caseErrors}</section>`;
}

const rejectionTitle = (x: Rejection) =>
  `${esc(x.name)} <span class="muted">in</span> <span class="mono">${esc(x.file)}:${x.line}</span>`;

/** Every must-reject entry, the failing ones first: the loader's checks. */
function rejections(r: Report): string {
  const all = rejectionsFailuresFirst(r);
  if (!all.length) return '';
  const failed = failingRejections(r).length;
  const rows = all.map((x) => `<tr>${td(x.ok ? 'rejected' : 'NOT REJECTED', x.ok ? 'pass' : 'fail')}${td(esc(x.name))}${td(`${esc(x.file)}:${x.line}`, 'mono')}` +
    `${td(esc(x.pattern), 'mono')}${td(esc(x.message))}</tr>`);
  return `<section id="rejections"><h2>Must-reject cases <span class="badge ${failed ? 'bad' : 'ok'}">${all.length - failed} / ${all.length} rejected</span></h2>` +
    `<p class="muted">Entries of the case files the loader must refuse with a matching message (<code>reject:</code>)` +
    `${failed ? '; those that were not are listed under <a href="#failures">Failures</a>' : ''}.</p>` +
    `<table><thead><tr><th>Outcome</th><th>Entry</th><th>Where</th><th>Pattern</th><th>Loader said</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function oracles(r: Report): string {
  const parts: string[] = [];
  parts.push(`<h3>Disagreements with reference64 (${r.disagreements.length})</h3>`, r.disagreements.length
    ? `<ul class="plain">${r.disagreements.map((d) => `<li>${esc(describeDisagreement(d))}</li>`).join('')}</ul>`
    : '<p class="muted">none</p>');
  const errored = r.results.filter((x) => x.kind === 'oracle' && x.state === 'errored');
  if (errored.length) {
    parts.push(`<h3>Oracle errors (${errored.length})</h3><ul class="plain">${errored.map((x) =>
      `<li><b>${esc(x.subject)}</b> on <span class="mono">${esc(x.caseId)}</span> (${esc(x.computation)}): <code>${x.state === 'errored' ? esc(x.error) : ''}</code></li>`).join('')}</ul>`);
  }
  parts.push(`<h3>Absent oracles (${r.absentOracles.length})</h3>`, r.absentOracles.length
    ? `<ul class="plain">${r.absentOracles.map((a) => `<li><b>${esc(a.name)}</b>: ${esc(a.reason)}</li>`).join('')}</ul>`
    : '<p class="muted">none: every oracle loaded</p>');
  return `<section id="oracles"><h2>Oracles</h2>${parts.join('')}</section>`;
}

function gate(r: Report): string {
  const g = r.gate;
  if (!g) return '';
  const against = g.mode === 'baseline' ? `against baseline ${esc(g.baselineName ?? '(unnamed)')}` : 'engines compared';
  const warning = foreignWarning(g);
  const failing = gateFailures(g);
  const pointer = failing.slower.length + failing.errored.length + failing.regressions.length
    ? '<p>The pairs and cases that fail the gate are listed under <a href="#failures">Failures</a>.</p>' : '';
  const rows = g.rows.map((x) => `<tr>${td(esc(x.caseId), 'case mono')}${td(esc(x.computation))}${td(esc(x.candidate))}${td(esc(x.reference))}` +
    (isMeasured(x) ? `${td(logPercent(x.estimate), 'num')}${td(`${logPercent(x.low)} … ${logPercent(x.high)}`, 'num')}` +
      `${td(x.baseline === undefined ? '—' : logPercent(x.baseline), 'num')}` : `${td('—', 'num')}${td('—', 'num')}${td('—', 'num')}`) +
    `${td(esc(x.verdict), VERDICT_CLASS[x.verdict])}</tr>`);
  const table = g.rows.length ? `<table><thead><tr><th>Case</th><th>Computation</th><th>Candidate</th><th>Reference</th><th class="num">Estimate</th>` +
    `<th class="num">95% interval</th><th class="num">Baseline</th><th>Verdict</th></tr></thead><tbody>${rows.join('')}</tbody></table>` +
    (g.rows.some(isMeasured) ? `<p class="muted gate-method">${esc(gateMethod(r, g))}</p>` : '') : '<p class="muted">No pairs were timed.</p>';
  const passed = gatePassed(g);
  return `<section id="gate"><h2>Speed gate <span class="badge ${passed ? 'ok' : 'bad'}">${passed ? 'passed' : 'failed'}</span></h2><p class="muted">${against}</p>` +
    `${warning ? `<p class="warn"><b>Warning:</b> ${esc(warning)}</p>` : ''}${pointer}${table}</section>`;
}

const ROW = 24;
const LABEL = 130;
const BARS = 300;
const WIDTH = LABEL + BARS + 250;
const TOP = 8;
/** Room under the bars for the axis labels. */
const AXIS = 22;
/** The shortest bar drawn, so that every measured engine shows one. */
const MIN_BAR = 3;

/** A log axis in whole decades: from below half the fastest time (so its bar has a length) to the slowest. */
export function logAxis(ms: readonly number[]): { lo: number; hi: number } {
  // A time of 0 (or none at all) has no place on a log axis: the axis starts at a nanosecond at least.
  const positive = ms.filter((v) => v > 0 && Number.isFinite(v));
  const lo = 10 ** Math.max(-6, Math.floor(Math.log10((positive.length ? Math.min(...positive) : 1e-6) / 2)));
  const hi = Math.max(lo * 10, 10 ** Math.ceil(Math.log10(Math.max(...positive, lo))));
  return { lo, hi };
}

/** A bar's length for a time on the axis. */
const barWidth = (ms: number, axis: { lo: number; hi: number }) =>
  Math.max(MIN_BAR, (BARS * Math.log(Math.max(ms, axis.lo) / axis.lo)) / Math.log(axis.hi / axis.lo));

/** "0.01 ms", "1 ms", "100 ms": a decade's label. */
const decade = (ms: number) => `${Number(ms.toPrecision(1))} ms`;

function axisLines(axis: { lo: number; hi: number }, bottom: number): string {
  const lines: string[] = [];
  for (let v = axis.lo; v <= axis.hi * 1.0001; v *= 10) {
    const x = (LABEL + (BARS * Math.log(v / axis.lo)) / Math.log(axis.hi / axis.lo)).toFixed(1);
    lines.push(`<line class="grid" x1="${x}" y1="${TOP - 4}" x2="${x}" y2="${bottom}"/><text class="tick" x="${x}" y="${bottom + 14}" text-anchor="middle">${esc(decade(v))}</text>`);
  }
  return lines.join('');
}

function measuredBar(t: MeasuredTiming, fastest: MeasuredTiming, y: number, axis: { lo: number; hi: number }): string {
  const w = barWidth(t.medianMs, axis);
  const words = versusFastest(t, fastest);
  const tip = `${t.engine}: median ${fmt(t.medianMs)} ms, ${words}; ${fmt(t.throughput)} ${t.throughputUnit}, ${t.threads} thread(s), ${t.processes} process(es)`;
  const cls = `bar ${t.kind}${t === fastest ? ' fastest' : ''}`;
  return `<rect class="${cls}" data-engine="${esc(t.engine)}" data-ms="${t.medianMs}" x="${LABEL}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW - 8}" rx="2"><title>${esc(tip)}</title></rect>` +
    `<text class="value${t === fastest ? ' fastest' : ''}" x="${(LABEL + w + 6).toFixed(1)}" y="${y + 16}">${esc(`${fmt(t.medianMs)} ms · ${words}`)}</text>`;
}

/** One horizontal bar of median time per measured engine, fastest first, on a log scale; engines without a time as a note. */
function chart(g: TimingGroup): string {
  const { row, timings, fastest } = g;
  if (!fastest) return '';
  const axis = logAxis(timings.flatMap((t) => (t.state === 'measured' ? [t.medianMs] : [])));
  const bottom = TOP + timings.length * ROW;
  const rows = timings.map((t, i) => {
    const y = TOP + i * ROW;
    const label = `<text x="${LABEL - 8}" y="${y + 16}" text-anchor="end">${esc(t.engine)}</text>`;
    if (t.state === 'measured') return `<g>${label}${measuredBar(t, fastest, y, axis)}</g>`;
    const note = noTimeNote(t);
    const short = note.length > 70 ? `${note.slice(0, 67)}...` : note;
    return `<g>${label}<text class="note" x="${LABEL + 4}" y="${y + 16}">${esc(short)}<title>${esc(note)}</title></text></g>`;
  });
  const height = bottom + AXIS;
  return `<figure class="chart"><figcaption><span class="mono">${esc(row.caseId)}</span> <span class="muted">${esc(row.computation)}</span>` +
    `<div class="fastest-note">fastest: <b>${esc(fastest.engine)}</b> <span class="muted">(${esc(fmt(fastest.medianMs))} ms)</span></div></figcaption>` +
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="median time per engine, log scale">` +
    `${axisLines(axis, bottom)}${rows.join('')}</svg></figure>`;
}

function timingRow(t: Timing, fastest: MeasuredTiming | undefined): string {
  const lead = `${td(esc(t.caseId), 'case mono')}${td(esc(t.computation))}${td(esc(t.engine))}${td(esc(t.processes > 1 ? `${t.threads} x ${t.processes}` : String(t.threads)), 'num')}`;
  if (t.state !== 'measured' || !fastest) return `<tr>${lead}<td colspan="7" class="${t.state === 'errored' ? 'fail' : 'muted'}">${esc(noTimeNote(t))}</td></tr>`;
  const words = versusFastest(t, fastest);
  return `<tr${t === fastest ? ' class="fastest"' : ''}>${lead}${td(fmt(t.medianMs), 'num')}${td(fmt(t.p99Ms), 'num')}${td(`±${t.rmePercent.toFixed(1)}%`, 'num')}` +
    `${td(`${fmt(t.throughput)} ${esc(t.throughputUnit)}`, 'num')}${td(t === fastest ? '<b>fastest</b>' : esc(words), 'ratio')}` +
    `${td(t.ratioToTfjsCpu === undefined ? '—' : times(t.ratioToTfjsCpu), 'num')}${td(String(t.samplesMs.length), 'num')}</tr>`;
}

function timings(r: Report): string {
  const groups = timingGroups(r);
  if (!groups.length) return `<section id="timings"><h2>Timings</h2><p class="muted">No timings in this run.</p></section>`;
  const rows = groups.flatMap((g) => g.timings.map((t) => timingRow(t, g.fastest)));
  return `<section id="timings"><h2>Timings</h2>
<p class="legend muted">Median time per call, fastest first, on a log scale (each gridline is 10 times the last; shorter is faster):` +
    `<span style="background: var(--impl)"></span>implementation<span style="background: var(--oracle)"></span>oracle</p>
<p class="muted">${esc(sentence(timingConditions(r.timings)))} (as each timing records it).</p>
<div class="charts">${groups.map(chart).join('\n')}</div>
<table><thead><tr><th>Case</th><th>Computation</th><th>Engine</th><th class="num">Threads</th><th class="num">Median ms</th><th class="num">p99 ms</th><th class="num">±rme</th>` +
    `<th class="num">Throughput</th><th>vs fastest</th><th class="num">x tfjs-cpu</th><th class="num">Samples</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function results(r: Report): string {
  const engines = engineOrder(r).filter((e) => r.results.some((x) => x.subject === e));
  const rows = caseRows(r, r.results).map((row) => {
    const cells = engines.map((e) => {
      const x = r.results.find((y) => y.subject === e && y.caseId === row.caseId && y.computation === row.computation);
      if (!x) return '<td></td>';
      if (isOverflowProne(x)) return `<td class="state s-overflow" title="${esc(`passed: ${overflowText(x)}`)}">overflow-prone</td>`;
      const tip = x.state === 'errored' ? x.error : x.state === 'skipped' || x.state === 'n/a' ? x.reason
        : x.state === 'failed' ? failedChecks(x).map((k) => k.title).join('; ') : 'passed';
      return `<td class="state s-${x.state}" title="${esc(tip)}">${STATE_WORD[x.state]}</td>`;
    });
    const problem = r.results.some((x) => x.caseId === row.caseId && x.computation === row.computation && (x.state === 'failed' || x.state === 'errored'));
    return `<tr data-problem="${problem ? 1 : 0}">${td(esc(row.caseId), 'case mono')}${td(esc(row.computation))}${cells.join('')}</tr>`;
  });
  const kind = (e: string) => (r.oracles.some((o) => o.name === e) ? 'oracle' : 'implementation');
  return `<section id="results"><h2>All results</h2>
<div class="filters"><input type="search" id="filter-text" placeholder="Filter by case or computation"><label><input type="checkbox" id="filter-bad"> only rows with a failure</label></div>
<table id="results-table"><thead><tr><th>Case</th><th>Computation</th>${engines.map((e) => `<th title="${esc(kind(e))}">${esc(e)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
<p class="muted">Hover a cell for the reason or the failing tensors. <b>overflow-prone</b>: passed, with elements non-finite where float32 may overflow, which are accepted (${esc(OVERFLOW_RULE)}).</p></section>`;
}

export function renderHtml(r: Report): string {
  const s = summarize(r);
  const hash = createHash('sha256').update(SCRIPT).digest('base64');
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${hash}'`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>convbench report ${esc(r.name)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${header(r, s)}
${summary(r, s)}
${failures(r)}
${oracles(r)}
${rejections(r)}
${gate(r)}
${timings(r)}
${results(r)}
</main>
<script type="application/json" id="report-data">${embedJson(serializeReport(r))}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
