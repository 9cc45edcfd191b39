// The console summary and the progress line cannot be hijacked by what a case, a module or a
// report says: no raw control character reaches the terminal, no printed line starts a CI command.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { progress } from './progress.ts';
import { CONV_ID, EVIL_ID, fixtureReport } from './report/fixture.ts';
import type { Report } from './report/types.ts';
import { colourFor, printGate, printSummary } from './summary.ts';

const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const CI_COMMAND = /^\s*(::|##)|##vso\[|##\[/;

const TITLE = 'pool \x1b]0;pwned\x07';
const CLEAR = 'conv \x1b[2J\x1b[H';
const GITHUB = '::error file=x::pwned';
const AZURE = '##vso[task.setvariable variable=x]1';
const MULTILINE = 'RangeError: offset is out of bounds\n::error::pwned\n    at kernel (evil.ts:1:1)\r##[set-env name=x]1';
const BIDI = 'naive\u202e\u2066';

/** A report in which every string a case, a module or a report supplies is hostile. */
function hostileReport(): Report {
  const r = fixtureReport();
  r.cases = r.cases.map((c, i) => ({ ...c, id: i ? TITLE : CLEAR, name: GITHUB }));
  const ids = new Map(fixtureReport().cases.map((c, i) => [c.id, i ? TITLE : CLEAR]));
  const id = (x: string) => ids.get(x) ?? x;
  r.implementations = r.implementations.map((x, i) => ({ ...x, name: [GITHUB, AZURE, BIDI][i] ?? x.name }));
  const names = new Map(fixtureReport().implementations.map((x, i) => [x.name, [GITHUB, AZURE, BIDI][i] ?? x.name]));
  const name = (x: string) => names.get(x) ?? x;
  r.results = r.results.map((x) => {
    const base = { ...x, caseId: id(x.caseId), subject: name(x.subject) };
    if (base.state === 'errored') return { ...base, error: MULTILINE };
    if (base.state === 'skipped' || base.state === 'n/a') return { ...base, reason: `${AZURE}\n${GITHUB}` };
    if (base.state === 'failed') return { ...base, checks: base.checks.map((k) => ({ ...k, against: GITHUB, comparison: { ...k.comparison, problem: MULTILINE } })) };
    return base;
  });
  r.disagreements = r.disagreements.map((d) => ({ ...d, caseId: TITLE, engine: AZURE, agreeing: [GITHUB], detail: MULTILINE }));
  r.timings = r.timings.map((t) => {
    const base = { ...t, caseId: id(t.caseId), engine: name(t.engine) };
    if (base.state === 'errored') return { ...base, error: MULTILINE };
    if (base.state === 'n/a') return { ...base, reason: MULTILINE };
    return base;
  });
  r.absentOracles = [{ name: GITHUB, reason: MULTILINE }];
  r.caseErrors = [{ file: 'cases/x.yaml', line: 1, field: 'name', message: `${GITHUB}\n${AZURE}` }];
  const gate = r.gate;
  if (gate) {
    r.gate = {
      ...gate, baselineName: `${AZURE}\n${GITHUB}`, regressions: [MULTILINE], stillFailing: [GITHUB],
      foreignBaseline: [`CPU: baseline ${JSON.stringify(TITLE)}, now "x"`, MULTILINE],
      rows: [
        ...gate.rows.map((x) => ({ ...x, caseId: GITHUB, candidate: AZURE, reference: BIDI })),
        { caseId: MULTILINE, computation: 'forward', candidate: GITHUB, reference: AZURE, threshold: 0.1, verdict: 'errored', error: MULTILINE },
      ],
    };
  }
  return r;
}

function printed(print: (out: (line: string) => void) => void): string[] {
  const lines: string[] = [];
  print((line) => lines.push(...line.split('\n')));
  return lines;
}

function expectSafe(lines: string[]): void {
  expect(lines.length).toBeGreaterThan(5);
  for (const line of lines) {
    expect(line, JSON.stringify(line)).not.toMatch(RAW_CONTROL);
    expect(line, JSON.stringify(line)).not.toMatch(CI_COMMAND);
  }
}

describe('printSummary and printGate', () => {
  it('print no raw control character and no CI command, whatever the report says', () => {
    const r = hostileReport();
    const lines = printed((out) => printSummary(r, out));
    expectSafe(lines);
    const text = lines.join('\n');
    // Every hostile value is still there, visibly.
    expect(text).toContain('pool \\x1b]0;pwned\\x07');
    expect(text).toContain('conv \\x1b[2J\\x1b[H');
    expect(text).toContain('#\\#vso[task.setvariable variable=x]1');
    expect(text).toContain('naive\\u202e\\u2066');
    expect(text).toContain('RangeError: offset is out of bounds\\n::error::pwned\\n    at kernel (evil.ts:1:1)\\r#\\#[set-env name=x]1');
    expect(text).toContain('errored while timed (fails the gate)');
    expect(text).toContain('warning: baseline from another machine');
  });

  it('keep a multi-line value on one line', () => {
    const lines = printed((out) => printSummary(hostileReport(), out));
    const errors = lines.filter((l) => l.includes('RangeError: offset is out of bounds'));
    expect(errors.length).toBeGreaterThan(0);
    for (const l of errors) expect(l).toContain('at kernel (evil.ts:1:1)');
  });

  it('printGate alone is guarded too', () => {
    const gate = hostileReport().gate;
    if (!gate) throw new Error('no gate');
    const lines = printed((out) => printGate(gate, out));
    expectSafe(lines);
    expect(lines.some((l) => /ERRORED/.test(l))).toBe(true);
  });
});

/** ANSI colour sequences (SGR), the only escapes the summary may print itself. */
const SGR = /\x1b\[\d+m/g;

/** The cells of a printed table line: runs of text separated by two spaces or more, with where each starts and ends. */
function cellsOf(line: string): { text: string; start: number; end: number }[] {
  return [...line.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ text: m[0], start: m.index, end: m.index + m[0].length }));
}

interface Printed { caption: string; header: string; rows: string[]; notes: string[] }

/** Each timing table of a printed summary: its caption, header, rows and the numbered notes under it. */
function timingTables(lines: string[]): Printed[] {
  const tables: Printed[] = [];
  lines.forEach((line, i) => {
    if (!/^ {2}engine +median ms/.test(line)) return;
    const rows: string[] = [];
    const notes: string[] = [];
    for (let j = i + 1; j < lines.length && lines[j].startsWith('  '); j++) (/^ {2}\[\d+\] /.test(lines[j]) ? notes : rows).push(lines[j]);
    tables.push({ caption: lines[i - 1], header: line, rows, notes });
  });
  return tables;
}

const tableOf = (tables: Printed[], caseId: string): Printed => {
  const t = tables.find((x) => x.caption.startsWith(caseId));
  if (!t) throw new Error(`no timing table for ${caseId}`);
  return t;
};

/** The fixture with every engine renamed to a 16-character name and an n/a reason of 200 characters. */
function longNames(): Report {
  const r = fixtureReport();
  const long = (name: string) => `${name}-kernel-xyz`.slice(0, 16).padEnd(16, 'x');
  r.timings = r.timings.map((t) => (t.state === 'n/a' ? { ...t, engine: long(t.engine), reason: `n/a for ${t.engine}: ${'because '.repeat(25)}` } : { ...t, engine: long(t.engine) }));
  return r;
}

describe('printSummary timing tables', () => {
  const lines = printed((out) => printSummary(fixtureReport(), out));
  const tables = timingTables(lines);

  it('prints one table per bench case and computation', () => {
    expect(tables.map((t) => t.caption)).toEqual([`${CONV_ID} (forward)`, `${EVIL_ID} (forward)`]);
  });

  it('aligns every row on the header: text columns start, number columns end, at the same position', () => {
    const right = new Set(['median ms', 'p99 ms', '±rme', 'throughput']);
    for (const t of [...tables, ...timingTables(printed((out) => printSummary(longNames(), out)))]) {
      const head = cellsOf(t.header);
      expect(head.map((c) => c.text)).toEqual(['engine', 'median ms', 'p99 ms', '±rme', 'throughput', 'vs fastest']);
      for (const row of t.rows) {
        const cells = cellsOf(row);
        expect(cells.length, row).toBeGreaterThanOrEqual(2);
        cells.forEach((c, i) => {
          if (right.has(head[i].text)) expect(c.end, `${row} / ${head[i].text}`).toBe(head[i].end);
          else expect(c.start, `${row} / ${head[i].text}`).toBe(head[i].start);
        });
      }
    }
  });

  it('sorts engines by median, those without a time last', () => {
    const t = tableOf(tables, CONV_ID);
    const cells = t.rows.map(cellsOf);
    expect(cells.map((c) => c[0].text)).toEqual(['ort', 'im2col', 'tfjs-cpu', 'tfjs-wasm']);
    const medians = cells.filter((c) => c.length > 2).map((c) => Number(c[1].text));
    expect(medians).toEqual([...medians].sort((a, b) => a - b));
    expect(medians).toHaveLength(3);
  });

  it('marks the fastest and says of every other how much slower than it', () => {
    for (const t of tables) {
      const cells = t.rows.map(cellsOf).filter((c) => c.length > 2);
      const fastest = cells[0][0].text;
      expect(cells[0].at(-1)?.text).toBe('fastest');
      for (const c of cells.slice(1)) expect(c.at(-1)?.text).toMatch(new RegExp(`^\\d+(\\.\\d+)?x slower than ${fastest}$`));
    }
    const conv = tableOf(tables, CONV_ID).rows.join('\n');
    expect(conv).toContain('100x slower than ort');
    expect(conv).toContain('34.5x slower than ort');
  });

  it('puts n/a and error reasons in numbered notes under the table, not in the median column', () => {
    const pool = tableOf(tables, EVIL_ID);
    const na = pool.rows.map(cellsOf).find((c) => c[0].text === 'ort');
    expect(na?.map((c) => c.text)).toEqual(['ort', 'n/a [1]']);
    expect(pool.notes).toEqual(['  [1] n/a for ort: MaxPool cannot skip NaN']);
    expect(pool.rows.join('\n')).not.toContain('MaxPool');
    const conv = tableOf(tables, CONV_ID);
    expect(conv.rows.map(cellsOf).find((c) => c[0].text === 'tfjs-wasm')?.map((c) => c.text)).toEqual(['tfjs-wasm', 'errored [1]']);
    expect(conv.notes).toEqual(['  [1] tfjs-wasm errored: RuntimeError: memory access out of bounds']);
  });

  it('stays within 100 columns with 16-character engine names and a 200-character reason', () => {
    const long = timingTables(printed((out) => printSummary(longNames(), out)));
    expect(long).toHaveLength(2);
    for (const t of long) for (const line of [t.header, ...t.rows]) expect(line.length, line).toBeLessThanOrEqual(100);
    const note = long.flatMap((t) => t.notes).find((n) => n.includes('because'));
    expect(note).toContain(`${'because '.repeat(25).trimEnd()}`);
  });
});

describe('colour', () => {
  it('colourFor: a terminal without NO_COLOR only', () => {
    expect(colourFor({ isTTY: true }, {})).toBe(true);
    expect(colourFor({ isTTY: false }, {})).toBe(false);
    expect(colourFor({}, {})).toBe(false);
    expect(colourFor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourFor({ isTTY: true }, { NO_COLOR: '' })).toBe(false);
  });

  it('prints no escape at all without colour (the default), and only colour sequences with it, in the same layout', () => {
    const plain = printed((out) => printSummary(fixtureReport(), out));
    expect(plain.join('\n')).not.toContain('\x1b');
    expect(printed((out) => printSummary(fixtureReport(), out, { colour: false }))).toEqual(plain);
    const coloured = printed((out) => printSummary(fixtureReport(), out, { colour: true }));
    expect(coloured.join('\n')).toMatch(/\x1b\[\d+m/);
    expect(coloured.join('\n')).toMatch(/\x1b\[32mfastest\x1b\[0m/);
    expect(coloured.map((l) => l.replace(SGR, ''))).toEqual(plain);
  });

  it('with colour, what a report says still cannot reach the terminal raw', () => {
    const lines = printed((out) => printSummary(hostileReport(), out, { colour: true })).map((l) => l.replace(SGR, ''));
    expectSafe(lines);
    expect(lines.join('\n')).toContain('pool \\x1b]0;pwned\\x07');
    const gate = hostileReport().gate;
    if (!gate) throw new Error('no gate');
    expectSafe(printed((out) => printGate(gate, out, { colour: true })).map((l) => l.replace(SGR, '')));
  });
});

describe('progress', () => {
  afterEach(() => { vi.unstubAllEnvs(); });

  for (const tty of [true, false]) {
    it(`escapes its label and phase (${tty ? 'terminal' : 'CI'})`, () => {
      vi.stubEnv('CI', tty ? '' : 'true');
      let written = '';
      const bar = progress(GITHUB, { isTTY: tty, columns: 400, write: (s: string) => { written += s; } });
      bar.update(1, 2, `${CLEAR} ${MULTILINE}`);
      bar.update(2, 2, TITLE);
      bar.done();
      expect(written.length).toBeGreaterThan(0);
      for (const line of written.split(/\r|\n/)) {
        expect(line, JSON.stringify(line)).not.toMatch(RAW_CONTROL);
        expect(line, JSON.stringify(line)).not.toMatch(CI_COMMAND);
      }
    });
  }
});

describe('a run that checked nothing but empty outputs', () => {
  it('says why it exits 2', () => {
    const r = fixtureReport();
    const passedEmpty = r.results.filter((x) => x.kind === 'implementation' && x.state === 'passed')
      .map((x) => (x.state === 'passed' ? { ...x, checks: x.checks.map((k) => ({ ...k, comparison: { ...k.comparison, elements: 0 } })) } : x));
    const lines: string[] = [];
    printSummary({ ...r, results: passedEmpty }, (l) => lines.push(l), { colour: false });
    expect(lines.join('\n')).toMatch(/nothing was checked: every computation that passed had only empty outputs/);
    const normal: string[] = [];
    printSummary(r, (l) => normal.push(l), { colour: false });
    expect(normal.join('\n')).not.toMatch(/nothing was checked/);
  });
});
