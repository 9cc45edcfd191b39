import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONV_ID, fixtureReport } from './fixture.ts';
import { embedJson, renderHtml } from './html.ts';
import { parseReport, ReportFormatError, serializeReport } from './json.ts';
import { renderJunit } from './junit.ts';
import { renderMarkdown } from './markdown.ts';
import { REPORT_VERSION, type Report } from './types.ts';
import { checkWritable, ReportsDirError, writeReports } from './write.ts';

/** The error parseReport throws for `text`, checked to be a one-line ReportFormatError. */
function rejection(text: string, source = 'baseline.json'): string {
  try {
    parseReport(text, source);
  } catch (e) {
    expect(e).toBeInstanceOf(ReportFormatError);
    const message = e instanceof Error ? e.message : '';
    expect(message).not.toMatch(/[\n\r]/);
    expect(message.startsWith(`${source}: `)).toBe(true);
    return message;
  }
  throw new Error(`parseReport accepted ${JSON.stringify(text.slice(0, 60))}`);
}

/** The fixture as JSON text with one change made to its plain-object form. */
function edited(change: (o: Record<string, unknown>) => void): string {
  const o: Record<string, unknown> = JSON.parse(serializeReport(fixtureReport()));
  change(o);
  return JSON.stringify(o);
}

describe('json', () => {
  it('round-trips a report, NaN and infinities included', () => {
    const r = fixtureReport();
    const text = serializeReport(r);
    expect(text).toContain('"got": "NaN"');
    expect(text).toContain('"ratio": "Infinity"');
    expect(text).not.toContain('null');
    const back = parseReport(text, 'fixture.json');
    expect(back).toEqual(r);
    const failed = back.results.find((x) => x.subject === 'im2col' && x.caseId === CONV_ID && x.computation === 'forward');
    const m = failed?.state === 'failed' ? failed.checks[0].comparison.mismatches[0] : undefined;
    expect(Number.isNaN(m?.got)).toBe(true);
    expect(m?.ratio).toBe(Number.POSITIVE_INFINITY);
    // Serializing again gives the same text.
    expect(serializeReport(back)).toBe(text);
  });

  it('keeps a string field whose text is "NaN" or "-Infinity" a string', () => {
    const r: Report = { ...fixtureReport(), name: 'NaN' };
    r.environment.settings.WEIRD = '-Infinity';
    const back = parseReport(serializeReport(r), 'x.json');
    expect(back.name).toBe('NaN');
    expect(back.environment.settings.WEIRD).toBe('-Infinity');
  });

  it('keeps fields it does not know', () => {
    const back = parseReport(edited((o) => { o.futureField = { a: 1 }; }), 'x.json');
    expect(Object.entries(back).find(([k]) => k === 'futureField')?.[1]).toEqual({ a: 1 });
  });

  it('rejects what is not a report, on one line naming the file', () => {
    expect(rejection('{"format": "convbench-report",\n  oops\n}')).toMatch(/^baseline\.json: not valid JSON: /);
    expect(rejection('')).toMatch(/^baseline\.json: not valid JSON/);
    expect(rejection('{"hello": "world"}')).toBe('baseline.json: not a convbench report (no "format": "convbench-report")');
    expect(rejection('[1, 2, 3]')).toBe('baseline.json: not a convbench report (the top level is an array, not an object)');
    expect(rejection('{"format": "eslint-report"}')).toBe('baseline.json: not a convbench report ("format" is "eslint-report", want "convbench-report")');
    expect(rejection(edited((o) => { o.version = REPORT_VERSION + 1; }))).toBe(`baseline.json: unsupported report version ${REPORT_VERSION + 1} (this convbench reads version ${REPORT_VERSION})`);
    expect(rejection(edited((o) => { o.version = 1; }))).toBe(`baseline.json: report version 1 was written by an older convbench (this one reads version ${REPORT_VERSION}): record it again`);
    expect(rejection(edited((o) => { delete o.version; }))).toMatch(/no "version"/);
    expect(rejection(edited((o) => { delete o.results; }))).toBe('baseline.json: missing "results" (an array)');
    expect(rejection(edited((o) => { o.timings = {}; }))).toBe('baseline.json: "timings" is an object, not an array');
  });

  it('names the field at fault deep inside', () => {
    const badState = edited((o) => {
      const results = o.results;
      if (Array.isArray(results)) results[2] = { ...results[2], state: 'exploded' };
    });
    expect(rejection(badState, 'shard-1.json')).toMatch(/^shard-1\.json: results\[2\]\.state: expected one of "passed", .* got "exploded"$/);
    const badNumber = edited((o) => {
      const timings = o.timings;
      if (Array.isArray(timings)) timings[0] = { ...timings[0], medianMs: 'fast' };
    });
    expect(rejection(badNumber)).toBe('baseline.json: timings[0].medianMs: expected a number, got "fast"');
    expect(rejection(edited((o) => { o.environment = null; }))).toBe('baseline.json: environment: expected an object, got null');
  });

  it('ReportFormatError also takes a whole message', () => {
    expect(new ReportFormatError('merge: no reports').message).toBe('merge: no reports');
  });
});

describe('markdown', () => {
  const text = renderMarkdown(fixtureReport());

  it('puts failures before the passes', () => {
    const failures = text.indexOf('### ❌ Failures');
    expect(failures).toBeGreaterThan(0);
    expect(failures).toBeLessThan(text.indexOf('All results'));
    expect(failures).toBeLessThan(text.indexOf('### Timings'));
    // The failing results, the error, the worst element, the shape problem (the gate's failures follow them).
    const section = text.slice(failures, text.indexOf('\n#### Speed gate', failures + 5));
    expect(section).toContain('**im2col** on resnet50 conv2d x=\\[1,64,56,56\\]');
    expect(section).toContain('y vs reference64: 2 of 200704 elements outside the budget (worst inf, inf ulp)');
    expect(section).toContain('y(n, c, y, x) = (0, 1, 0, 1): got NaN, want 1.25');
    expect(section).toContain('💥 threw RangeError: offset is out of bounds');
    expect(section).toContain('shape \\[1,64,55,55\\] (193600 values), want \\[1,64,56,56\\]');
    expect(section).not.toContain('**naive**');
  });

  it('has the headline counts, oracle trouble, gate and timings', () => {
    expect(text).toContain('**Implementations:** 5 passed, 2 failed, 1 errored, 1 skipped');
    expect(text).toContain('**Oracles:** 5 agree with reference64, 1 disagree, 1 errored, 1 absent');
    expect(text).toContain('**n/a:** 2');
    expect(text).toContain('1 bad file (1 error)');
    expect(text).toContain('tfjs-wasm disagrees with reference64');
    expect(text).toContain('**tfjs-node**: Cannot find module');
    expect(text).toContain('-65.5%'); // exp(-1.065) - 1
    expect(text).toContain('+235.3%'); // exp(1.21) - 1
    expect(text).toContain('💥 **tfjs-wasm**');
    expect(text).toMatch(/\| tfjs-cpu \| 61\.2 \| 75\.3 \| ±1\.7% \| [\d.]+ GFLOP\/s \| 100x slower than ort \| 1\.00x \|/);
  });

  it('escapes pipes, HTML and backticks in cells', () => {
    expect(text).not.toContain('<img');
    expect(text).toContain('&lt;img src=x onerror=alert(1)&gt; &amp; \\| maxpool2d');
    // Every table row has as many unescaped pipes as its header.
    let columns = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith('|')) { columns = 0; continue; }
      const pipes = line.match(/(?<!\\)\|/g)?.length ?? 0;
      if (columns === 0) columns = pipes;
      expect(pipes, line).toBe(columns);
    }
    const r = fixtureReport();
    r.cases[0].id = 'a`b';
    r.results = r.results.map((x) => (x.caseId === CONV_ID ? { ...x, caseId: 'a`b' } : x));
    expect(renderMarkdown(r)).toContain('a\\`b');
  });
});

/** A rough well-formedness check: tags balance, attributes quoted, '&' only in entities, no raw '<' in text. */
function checkXml(text: string): void {
  const body = text.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    const between = body.slice(last, m.index);
    expect(between, `text before ${m[0]}`).not.toMatch(/[<>]/);
    last = m.index + m[0].length;
    if (m[1]) expect(stack.pop(), m[0]).toBe(m[2]);
    else if (!m[4]) stack.push(m[2]);
  }
  expect(body.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(text).not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+);)/);
}

describe('junit', () => {
  const r = fixtureReport();
  const text = renderJunit(r);
  const attr = (tag: string, name: string) => Number(new RegExp(`<${tag} [^>]*\\b${name}="(\\d+)"`).exec(text)?.[1]);

  it('is well-formed XML with escaped text', () => {
    checkXml(text);
    expect(text).not.toContain('<img');
    expect(text).toContain('name="&lt;img src=x onerror=alert(1)&gt; &amp; | maxpool2d x=[1,64,112,112] k=3 s=2 forward"');
  });

  it('has one suite per engine and one testcase per result, counted right', () => {
    const engines = ['naive', 'im2col', 'views', 'tfjs-cpu', 'tfjs-wasm', 'ort'];
    for (const e of engines) {
      const suite = new RegExp(`<testsuite name="${e}" [^>]*>([\\s\\S]*?)</testsuite>`).exec(text);
      expect(suite, e).not.toBeNull();
      const mine = r.results.filter((x) => x.subject === e);
      expect(suite?.[1].match(/<testcase /g)?.length).toBe(mine.length);
      expect(suite?.[0]).toContain(`tests="${mine.length}"`);
      expect(suite?.[1].match(/classname="([^"]*)"/g)?.every((c) => c === `classname="${e}"`)).toBe(true);
    }
    const cases = r.results.length + r.caseErrors.length + (r.gate?.rows.length ?? 0) + (r.gate?.regressions.length ?? 0);
    expect(text.match(/<testcase /g)?.length).toBe(cases);
    expect(attr('testsuites', 'tests')).toBe(cases);
    // Failures: 2 implementations + 1 oracle + 1 case file + 1 slower gate row + 1 regression.
    expect(attr('testsuites', 'failures')).toBe(6);
    expect(text.match(/<failure /g)?.length).toBe(6);
    expect(attr('testsuites', 'errors')).toBe(2);
    expect(text.match(/<error /g)?.length).toBe(2);
    expect(attr('testsuites', 'skipped')).toBe(3);
    expect(text).toContain('<skipped message="views does not implement conv2d backward"/>');
    expect(text).toContain('<skipped message="n/a for ort: MaxPool cannot &lt;skip&gt; NaN &amp; &quot;propagateNan: false&quot;"/>');
    expect(text).toContain('y(n, c, y, x) = (0, 1, 0, 1): got NaN, want 1.25');
  });

  it('replaces characters XML cannot hold', () => {
    const bad = fixtureReport();
    bad.absentOracles = [];
    bad.results = [{ caseId: 'c\u0001', subject: 'x', kind: 'implementation', computation: 'forward', state: 'errored', error: 'bell\u0007 and \ud800' }];
    const out = renderJunit(bad);
    expect(out).not.toMatch(/[\u0001\u0007\ud800]/);
    checkXml(out);
  });
});

describe('html', () => {
  const r = fixtureReport();
  const page = renderHtml(r);

  it('escapes every string from the report', () => {
    expect(page).not.toContain('<img');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt; &amp; | maxpool2d');
    expect(page).toContain('MaxPool cannot &lt;skip&gt; NaN &amp; &quot;propagateNan: false&quot;');
  });

  it('embeds the report JSON safely', () => {
    const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(page);
    expect(m).not.toBeNull();
    expect(m?.[1]).not.toMatch(/[<>&]/);
    expect(parseReport(m?.[1] ?? '', 'report-data')).toEqual(r);
    expect(embedJson('{"a":"</script><!--&"}')).toBe('{"a":"\\u003c/script\\u003e\\u003c!--\\u0026"}');
  });

  it('loads nothing from elsewhere', () => {
    expect(page).not.toMatch(/\b(src|href)="(?!#)/);
    expect(page).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('draws one bar per measured timing', () => {
    expect(page.match(/<rect class="bar /g)?.length).toBe(r.timings.filter((t) => t.state === 'measured').length);
  });
});

describe('writeReports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convbench-report-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the four files and returns their paths', () => {
    const r = fixtureReport();
    const out = join(dir, 'nested', 'reports');
    const paths = writeReports(r, out);
    expect(paths).toEqual({
      json: join(out, 'pr-1234.json'), markdown: join(out, 'pr-1234.md'), html: join(out, 'pr-1234.html'), junit: join(out, 'pr-1234.junit.xml'),
    });
    expect(parseReport(readFileSync(paths.json, 'utf8'), paths.json)).toEqual(r);
    expect(readFileSync(paths.markdown, 'utf8')).toBe(renderMarkdown(r));
    expect(readFileSync(paths.html, 'utf8')).toBe(renderHtml(r));
    expect(readFileSync(paths.junit, 'utf8')).toBe(renderJunit(r));
  });

  it('refuses a name that is a path', () => {
    expect(() => writeReports({ ...fixtureReport(), name: '../escape' }, dir)).toThrow(/not a plain file name/);
  });

  it('leaves no temporary file, and replaces an earlier set whole', () => {
    const out = join(dir, 'again');
    writeReports({ ...fixtureReport(), name: 'set' }, out);
    const r: Report = { ...fixtureReport(), name: 'set', createdAt: '2030-01-01T00:00:00.000Z' };
    const paths = writeReports(r, out);
    expect(readdirSync(out).sort()).toEqual(['set.html', 'set.json', 'set.junit.xml', 'set.md']);
    expect(parseReport(readFileSync(paths.json, 'utf8'), paths.json).createdAt).toBe(r.createdAt);
    expect(readFileSync(paths.markdown, 'utf8')).toBe(renderMarkdown(r));
  });

  it('a file that cannot be put in place fails the write before the JSON, and leaves no temporary file', () => {
    const out = join(dir, 'blocked');
    mkdirSync(join(out, 'b.html', 'occupied'), { recursive: true }); // a folder where the HTML goes
    expect(() => writeReports({ ...fixtureReport(), name: 'b' }, out)).toThrow(ReportsDirError);
    // The JSON goes last: a baseline is never written beside renderings that did not make it.
    expect(readdirSync(out).sort()).toEqual(['b.html', 'b.md']);
  });
});

describe('checkWritable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convbench-writable-'));
  afterAll(() => { chmodSync(dir, 0o700); rmSync(dir, { recursive: true, force: true }); });

  /** The one-line error checkWritable throws for `target`. */
  function refusal(target: string): string {
    try {
      checkWritable(target);
    } catch (e) {
      expect(e).toBeInstanceOf(ReportsDirError);
      const message = e instanceof Error ? e.message : '';
      expect(message).not.toMatch(/\n/);
      expect(message).toContain(JSON.stringify(target));
      return message;
    }
    throw new Error(`checkWritable accepted ${target}`);
  }

  it('creates the folder and leaves nothing in it', () => {
    const target = join(dir, 'new', 'reports');
    checkWritable(target);
    expect(readdirSync(target)).toEqual([]);
  });

  it('refuses a folder under a regular file (for root too)', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(refusal(join(file, 'sub'))).toMatch(/cannot be written: (ENOTDIR|EEXIST)/);
  });

});
