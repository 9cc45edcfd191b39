// What the JSON holds, in every rendering: must-reject entries (a failing one listed with the
// failures, in Markdown, HTML and JUnit, and kept through a shard merge), overflow-prone results
// (marked apart from a plain pass), and the threads a kernel declares (shown without timings).
import { describe, expect, it } from 'vitest';
import { CONV_ID, EVIL_ID, fixtureReport, fixtureWithRejections, NOT_REJECTED, REJECTED } from './fixture.ts';
import { renderHtml } from './html.ts';
import { parseReport, serializeReport } from './json.ts';
import { renderJunit } from './junit.ts';
import { failureCount, renderMarkdown, summarize } from './markdown.ts';
import { mergeReports } from './merge.ts';
import type { Report } from './types.ts';

/** The Markdown text from `heading` up to the next heading of the same level or above. */
function mdSection(text: string, heading: string): string {
  const at = text.indexOf(heading);
  if (at < 0) throw new Error(`no ${heading}`);
  const level = /^#+/.exec(heading)?.[0].length ?? 3;
  const next = text.slice(at + heading.length).search(new RegExp(`\\n#{1,${level}} `));
  return next < 0 ? text.slice(at) : text.slice(at, at + heading.length + next);
}

/** One <section> of the page, by id. */
const htmlSection = (page: string, id: string): string =>
  [...page.matchAll(/<section id="([^"]+)">[\s\S]*?<\/section>/g)].find((m) => m[1] === id)?.[0] ?? '';

/** One <testsuite> of a JUnit text, by name. */
const junitSuite = (text: string, name: string): string =>
  new RegExp(`<testsuite name="${name}" [^>]*>[\\s\\S]*?</testsuite>`).exec(text)?.[0] ?? '';

/** The <testcase> element whose name starts with `name`. */
const junitCase = (text: string, name: string): string =>
  text.split('\n').find((l) => l.includes(`<testcase name="${name}`)) ?? '';

/** The fixture with nothing failing (no gate, no bad case file, passing and n/a results only). */
function passingFixture(): Report {
  const r = fixtureReport();
  r.results = r.results.filter((x) => x.state === 'passed' || x.state === 'n/a');
  r.timings = r.timings.filter((t) => t.state !== 'errored');
  r.caseErrors = [];
  r.disagreements = [];
  r.gate = undefined;
  return r;
}

describe('must-reject entries', () => {
  it('the fixture with them is a valid report', () => {
    const r = fixtureWithRejections();
    expect(parseReport(serializeReport(r), 'fixture.json')).toEqual(r);
  });

  it('one that loaded fails the run and counts as a failure; without it nothing fails', () => {
    const r = passingFixture();
    r.rejections = [{ ...REJECTED }];
    expect(summarize(r).ok).toBe(true);
    expect(failureCount(r)).toBe(0);
    r.rejections.push({ ...NOT_REJECTED });
    expect(summarize(r)).toMatchObject({ ok: false, rejections: { total: 2, failed: 1 } });
    expect(failureCount(r)).toBe(1);
    expect(renderMarkdown(r)).toMatch(/^## ❌ convbench report/);
    expect(renderHtml(r)).toContain('<span class="badge bad">failed</span>');
  });

  it('markdown: the failing one under Failures and in the headline; all of them in a section, failing first', () => {
    const r = fixtureWithRejections();
    const text = renderMarkdown(r);
    expect(text).toContain(`### ❌ Failures (${failureCount(fixtureReport()) + 1})`);
    const failures = mdSection(text, '### ❌ Failures');
    const listed = mdSection(failures, '#### Must-reject cases (1)');
    expect(listed).toContain('- ❌ **&lt;b&gt;negative pad&lt;/b&gt; &amp; \\|** (cases/rejects/pads.yaml:12): ' +
      'expected the loader to reject it with /pads: must be &gt;= 0/, but it loaded');
    expect(listed).not.toContain('stride zero');
    expect(text).toContain('**Must-reject cases:** ❌ 1 of 2 not rejected as expected');
    const section = mdSection(text, '### ❌ Must-reject cases (2)');
    expect(section).toContain('1 of 2 rejected by the loader with a matching message (the 1 other is listed under Failures).');
    const rows = section.split('\n').filter((l) => /^\| (✅|❌)/.test(l));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^\| ❌ not rejected \| &lt;b&gt;negative pad/);
    expect(rows[1]).toMatch(/^\| ✅ rejected \| stride zero \| cases\/rejects\/invalid\.yaml:5 \| /);
    expect(text).not.toContain('<b>');
  });

  it('markdown: all rejected is a passing headline line and no failure', () => {
    const r = passingFixture();
    r.rejections = [{ ...REJECTED }];
    const text = renderMarkdown(r);
    expect(text).toContain('**Must-reject cases:** ✅ 1 rejected as expected');
    expect(text).toContain('### ✅ Must-reject cases (1)');
    expect(text).not.toContain('Failures');
    // A report without must-reject entries says nothing of them.
    expect(renderMarkdown(passingFixture())).not.toContain('Must-reject');
  });

  it('html: the failing one in Failures, all of them in their section, failing first, escaped', () => {
    const r = fixtureWithRejections();
    const page = renderHtml(r);
    const failures = htmlSection(page, 'failures');
    expect(failures).toContain(`<h2>Failures (${failureCount(r)})</h2>`);
    expect(failures).toMatch(/<article class="failure rejection"><h3><span class="tag">NOT REJECTED<\/span> &lt;b&gt;negative pad&lt;\/b&gt; &amp; \|/);
    expect(failures).toContain('<code>/pads: must be &gt;= 0/</code>');
    expect(failures).toContain('but it loaded');
    expect(failures).not.toContain('stride zero');
    const section = htmlSection(page, 'rejections');
    expect(section).toContain('1 / 2 rejected');
    const rows = [...section.matchAll(/<tr><td class="(pass|fail)">/g)].map((m) => m[1]);
    expect(rows).toEqual(['fail', 'pass']);
    expect(section).toContain('<td class="mono">cases/rejects/invalid.yaml:5</td>');
    expect(page).toContain('<a href="#rejections">');
    expect(page).not.toContain('<b>negative');
    expect(htmlSection(renderHtml(fixtureReport()), 'rejections')).toBe('');
  });

  it('junit: one testcase per entry, the failing one a <failure> naming the pattern and what happened', () => {
    const r = fixtureWithRejections();
    const text = renderJunit(r);
    const suite = junitSuite(text, 'must-reject cases');
    expect(suite).toMatch(/^<testsuite name="must-reject cases" id="\d+" tests="2" failures="1" errors="0" skipped="0"/);
    expect(suite.match(/<testcase /g)).toHaveLength(2);
    const failing = junitCase(suite, 'cases/rejects/pads.yaml:12 &lt;b&gt;negative pad');
    expect(failing).toContain('<failure message="not rejected as expected (pattern /pads: must be &gt;= 0/): expected the loader to reject it with /pads: must be &gt;= 0/, but it loaded" type="must-reject">');
    const passing = junitCase(suite, 'cases/rejects/invalid.yaml:5 stride zero');
    expect(passing).not.toContain('<failure');
    expect(passing).toContain('<system-out>rejected as expected (pattern /strides(\\[\\d\\])?: must be &gt;= 1/)');
    // Counted in the totals: the fixture's own failures and tests, plus these.
    const base = renderJunit(fixtureReport());
    const total = (t: string, k: string) => Number(new RegExp(`<testsuites [^>]*\\b${k}="(\\d+)"`).exec(t)?.[1]);
    expect(total(text, 'failures')).toBe(total(base, 'failures') + 1);
    expect(total(text, 'tests')).toBe(total(base, 'tests') + 2);
    expect(renderJunit(fixtureReport())).not.toContain('must-reject');
  });
});

describe('merging shards', () => {
  /** The fixture cut into two disjoint shards, each with the must-reject entries every shard loads. */
  function shards(): [Report, Report] {
    const whole = fixtureWithRejections();
    const part = (id: string, index: number): Report => ({
      ...whole, name: `s${index}`, cases: whole.cases.filter((c) => c.id === id), results: whole.results.filter((x) => x.caseId === id),
      timings: whole.timings.filter((t) => t.caseId === id), shards: [{ index, count: 2 }],
      rejections: whole.rejections?.map((x) => ({ ...x })),
    });
    return [part(CONV_ID, 1), part(EVIL_ID, 2)];
  }

  it('keeps the must-reject entries once each (by file, line and name), and a failing one fails the merged report', () => {
    const [a, b] = shards();
    b.rejections?.push({ ...REJECTED, line: 30, message: 'another entry' });
    const merged = mergeReports([a, b], 'merged');
    expect(merged.rejections).toEqual([REJECTED, NOT_REJECTED, { ...REJECTED, line: 30, message: 'another entry' }]);
    expect(summarize(merged).rejections).toEqual({ total: 3, failed: 1 });
    expect(mdSection(renderMarkdown(merged), '### ❌ Failures')).toContain('#### Must-reject cases (1)');
    expect(parseReport(serializeReport(merged), 'merged.json')).toEqual(merged);
  });

  it('keeps a failing judgement over a passing one of the same entry, whichever shard has it', () => {
    for (const order of [0, 1]) {
      const [a, b] = shards();
      a.rejections = [{ ...REJECTED }];
      b.rejections = [{ ...REJECTED, ok: false, message: 'but it loaded' }];
      const merged = mergeReports(order ? [b, a] : [a, b], 'merged');
      expect(merged.rejections).toEqual([{ ...REJECTED, ok: false, message: 'but it loaded' }]);
    }
  });

  it('adds no rejections field when no shard has one', () => {
    const [a, b] = shards();
    delete a.rejections;
    delete b.rejections;
    expect('rejections' in mergeReports([a, b], 'merged')).toBe(false);
  });
});

describe('overflow-prone results', () => {
  const r = fixtureWithRejections();

  it('markdown: marked in the results table with a legend entry, counted in the headline, listed', () => {
    const text = renderMarkdown(r);
    const table = text.slice(text.indexOf('<details><summary>All results'));
    const row = table.split('\n').find((l) => l.startsWith('| resnet50') && l.includes('| forward |'));
    // Engines in order: naive, im2col, views, tfjs-cpu, tfjs-wasm, ort.
    expect(row?.split(/(?<!\\)\|/).slice(3, 6).map((c) => c.trim())).toEqual(['✅', '❌', '⚠️ overflow-prone']);
    expect(text).toMatch(/<sub>✅ passed · .* · ⚠️ overflow-prone: passed, with elements non-finite where float32 may overflow, accepted \(cases\/README\.md, "Numerics rules"/);
    expect(text).toContain('**Implementations:** 5 passed (1 overflow-prone), 2 failed');
    expect(mdSection(text, '### ⚠️ Overflow-prone results (1)')).toContain('- ⚠️ **views** on resnet50 conv2d x=\\[1,64,56,56\\] w=\\[64,64,3,3\\] s=1 p=SAME\\_UPPER (forward): 3 elements accepted as overflowed');
    const plain = renderMarkdown(fixtureReport());
    expect(plain).not.toContain('⚠️ overflow-prone |');
    expect(plain).not.toContain('Overflow-prone results');
  });

  it('html: a cell of its own, with the count in its title, and a legend', () => {
    const results = htmlSection(renderHtml(r), 'results');
    const cells = [...results.matchAll(/<td class="state s-overflow" title="([^"]*)">overflow-prone<\/td>/g)];
    expect(cells).toHaveLength(1);
    expect(cells[0][1]).toContain('passed: 3 elements non-finite where float32 may overflow, accepted against reference64 (cases/README.md, &quot;Numerics rules&quot;');
    expect(results).toContain('<b>overflow-prone</b>: passed, with elements non-finite where float32 may overflow');
    expect(htmlSection(renderHtml(fixtureReport()), 'results')).not.toContain('s-overflow');
  });

  it('junit: a passed testcase saying how many elements were accepted as overflowed, and where the rule is', () => {
    const views = junitSuite(renderJunit(r), 'views');
    const prone = junitCase(views, `${CONV_ID} forward`);
    expect(prone).not.toMatch(/<failure|<error|<skipped/);
    expect(prone).toContain('<system-out>overflow-prone: 3 elements non-finite where float32 may overflow, accepted against reference64 (cases/README.md, &quot;Numerics rules&quot;: float32 overflow)</system-out>');
    expect(views).toMatch(/tests="3" failures="0" errors="0" skipped="1"/);
    // A plain pass has no output.
    expect(junitCase(junitSuite(renderJunit(r), 'naive'), `${CONV_ID} forward`)).toMatch(/time="0"\/>$/);
  });
});

describe('threads a kernel declares', () => {
  it('html: the engines table shows them without timings (a --no-bench run)', () => {
    const r = passingFixture();
    r.timings = [];
    r.implementations = r.implementations.map((i) => (i.name === 'views' ? { ...i, threads: 4 } : { ...i, threads: 1 }));
    const page = renderHtml(r);
    expect(page).toContain('<tr><td>views</td><td>implementation</td><td>NHWC, implementations/views/index.ts</td><td class="num">4</td></tr>');
    expect(page).toContain('<tr><td>naive</td><td>implementation</td><td>NCHW, built-in</td><td class="num">1</td></tr>');
    // Not declared and not timed: not recorded.
    delete r.implementations[1].threads;
    expect(renderHtml(r)).toContain('<tr><td>im2col</td><td>implementation</td><td>NCHW, built-in</td><td class="num">—</td></tr>');
    expect(renderJunit(r)).toMatch(/<testsuite name="views"[^>]*>\s*<properties>[\s\S]*?<property name="threads" value="4"\/>/);
  });
});

it('an implementation that errored while timed fails the headline, as it fails the run', () => {
  const r = passingFixture();
  expect(summarize(r).ok).toBe(true);
  r.timings.push({ caseId: CONV_ID, computation: 'forward', engine: 'naive', kind: 'implementation', threads: 1, processes: 1, state: 'errored', error: 'hung' });
  expect(summarize(r).ok).toBe(false);
  expect(renderMarkdown(r)).toMatch(/^## ❌ convbench report/);
});
