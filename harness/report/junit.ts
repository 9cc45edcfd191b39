// JUnit XML for CI systems: one <testsuite> per engine (implementation or oracle), one <testcase>
// per result; bad case files, must-reject entries and the speed gate, when present, as suites of
// their own.
import { safeLine } from '../terminal.ts';
import { type CheckResult, describeFailure } from '../check.ts';
import { isOverflowProne } from '../check.ts';
import { engineOrder, failedChecks, foreignWarning, logPercent, overflowText, type Rejection } from './markdown.ts';
import type { Report } from './types.ts';

/** XML text and attribute values: the five entities, line breaks kept in attributes, characters XML 1.0 forbids replaced. */
export function xml(text: string | number): string {
  // As on the terminal first: controls and bidi characters visible, no line that starts a CI command.
  return safeLine(String(text))
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/[&<>"'\n\r\t]/g, (c) => XML_ENTITIES[c] ?? c);
}
const XML_ENTITIES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;',
};
/** Element text: line breaks stay line breaks. */
const text = (s: string) => xml(s).replace(/&#10;/g, '\n').replace(/&#9;/g, '\t');

interface Suite {
  name: string; properties: [string, string][]; cases: { name: string; body: string }[]; tests: number; failures: number; errors: number; skipped: number;
  /** Suite-level <system-err>: warnings. */
  systemErr?: string;
}

function suite(name: string, properties: [string, string][], cases: { name: string; outcome: '' | 'failure' | 'error' | 'skipped'; body: string }[], systemErr?: string): Suite {
  return {
    name, properties, tests: cases.length, ...(systemErr ? { systemErr } : {}),
    failures: cases.filter((c) => c.outcome === 'failure').length,
    errors: cases.filter((c) => c.outcome === 'error').length,
    skipped: cases.filter((c) => c.outcome === 'skipped').length,
    cases: cases.map((c) => ({ name: c.name, body: c.body })),
  };
}

function resultCase(x: CheckResult): { name: string; outcome: '' | 'failure' | 'error' | 'skipped'; body: string } {
  const name = `${x.caseId} ${x.computation}`;
  switch (x.state) {
    case 'passed': return { name, outcome: '', body: isOverflowProne(x) ? `<system-out>${text(`overflow-prone: ${overflowText(x)}`)}</system-out>` : '' };
    case 'failed': {
      const message = failedChecks(x).map((k) => k.title).join('; ');
      return { name, outcome: 'failure', body: `<failure message="${xml(message)}" type="mismatch">${text(describeFailure(x))}</failure>` };
    }
    case 'errored': return { name, outcome: 'error', body: `<error message="${xml(x.error)}" type="errored">${text(x.error)}</error>` };
    case 'skipped': return { name, outcome: 'skipped', body: `<skipped message="${xml(x.reason)}"/>` };
    case 'n/a': return { name, outcome: 'skipped', body: `<skipped message="${xml(x.reason.startsWith('n/a') ? x.reason : `n/a: ${x.reason}`)}"/>` };
  }
}

/** A must-reject entry: passes when the loader refused it with a matching message. */
function rejectionCase(x: Rejection): { name: string; outcome: '' | 'failure'; body: string } {
  const name = `${x.file}:${x.line} ${x.name}`;
  if (x.ok) return { name, outcome: '', body: `<system-out>${text(`rejected as expected (pattern ${x.pattern}): ${x.message}`)}</system-out>` };
  const message = `not rejected as expected (pattern ${x.pattern}): ${x.message}`;
  return { name, outcome: 'failure', body: `<failure message="${xml(message)}" type="must-reject">${text(message)}</failure>` };
}

export function renderJunit(r: Report): string {
  const suites: Suite[] = [];
  if (r.caseErrors.length) {
    suites.push(suite('case files', [], r.caseErrors.map((e) => {
      const message = `${e.file}:${e.line}: ${e.field ? `${e.field}: ` : ''}${e.message}`;
      return { name: `${e.file}:${e.line}${e.field ? ` ${e.field}` : ''}`, outcome: 'failure', body: `<failure message="${xml(message)}" type="case-file">${text(message)}</failure>` };
    })));
  }
  if (r.rejections?.length) suites.push(suite('must-reject cases', [], r.rejections.map(rejectionCase)));
  for (const engine of engineOrder(r)) {
    const mine = r.results.filter((x) => x.subject === engine);
    if (!mine.length) continue;
    const oracle = r.oracles.find((o) => o.name === engine);
    const impl = r.implementations.find((i) => i.name === engine);
    const properties: [string, string][] = [['kind', mine[0].kind]];
    if (impl) properties.push(['layout', impl.layout], ['source', impl.source], ...(impl.threads !== undefined ? [['threads', String(impl.threads)] satisfies [string, string]] : []));
    if (oracle) properties.push(['threads', String(oracle.threads)], ...Object.entries(oracle.versions));
    suites.push(suite(engine, properties, mine.map(resultCase)));
  }
  const g = r.gate;
  if (g) {
    const warning = foreignWarning(g);
    const properties: [string, string][] = [
      ['mode', g.mode], ...(g.baselineName !== undefined ? [['baseline', g.baselineName] satisfies [string, string]] : []),
      ...(g.foreignBaseline ?? []).map((w): [string, string] => ['warning: foreign baseline', w]),
    ];
    suites.push(suite('speed gate', properties, [
      ...g.regressions.map((c) => ({
        name: `regression ${c}`, outcome: 'failure' as const,
        body: `<failure message="${xml(`passed in the baseline, fails now: ${c}`)}" type="regression"/>`,
      })),
      ...g.rows.map((x) => {
        const name = `${x.caseId} ${x.computation} ${x.candidate} vs ${x.reference}`;
        if (x.verdict === 'errored') {
          const message = `${x.candidate} vs ${x.reference}: errored while timed: ${x.error}`;
          return { name, outcome: 'error' as const, body: `<error message="${xml(message)}" type="errored">${text(message)}</error>` };
        }
        const detail = `${x.candidate} vs ${x.reference}: ${logPercent(x.estimate)} (95% ${logPercent(x.low)} … ${logPercent(x.high)})` +
          `${x.baseline !== undefined ? `, baseline ${logPercent(x.baseline)}` : ''}: ${x.verdict}`;
        return {
          name,
          outcome: x.verdict === 'slower' ? 'failure' as const : '' as const,
          body: x.verdict === 'slower' ? `<failure message="${xml(detail)}" type="slower">${text(detail)}</failure>` : `<system-out>${text(detail)}</system-out>`,
        };
      }),
    ], warning ? `warning: ${warning}` : undefined));
  }
  const sum = (k: 'tests' | 'failures' | 'errors' | 'skipped') => suites.reduce((n, s) => n + s[k], 0);
  const counts = (s: { tests: number; failures: number; errors: number; skipped: number }) =>
    `tests="${s.tests}" failures="${s.failures}" errors="${s.errors}" skipped="${s.skipped}" time="0"`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(`convbench ${r.name}`)}" ${counts({ tests: sum('tests'), failures: sum('failures'), errors: sum('errors'), skipped: sum('skipped') })} timestamp="${xml(r.createdAt)}">`,
  ];
  suites.forEach((s, id) => {
    lines.push(`  <testsuite name="${xml(s.name)}" id="${id}" ${counts(s)} timestamp="${xml(r.createdAt)}">`);
    if (s.properties.length) {
      lines.push('    <properties>', ...s.properties.map(([k, v]) => `      <property name="${xml(k)}" value="${xml(v)}"/>`), '    </properties>');
    }
    for (const c of s.cases) {
      const open = `    <testcase name="${xml(c.name)}" classname="${xml(s.name)}" time="0"`;
      lines.push(c.body ? `${open}>${c.body}</testcase>` : `${open}/>`);
    }
    if (s.systemErr) lines.push(`    <system-err>${text(s.systemErr)}</system-err>`);
    lines.push('  </testsuite>');
  });
  lines.push('</testsuites>', '');
  return lines.join('\n');
}
