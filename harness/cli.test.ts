// The command line end to end, in child processes: exit codes, one-line errors, reports written.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './cli.test-support.ts';
import { parseReport } from './report/json.ts';
import { isMeasured } from './report/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'convbench-cli-'));
const CASES = join(dir, 'cases.yaml');
writeFileSync(CASES, `cases:
  - name: tiny pool
    op: maxpool2d
    attributes: { kernel: 2, strides: 2 }
    inputs: { x: { shape: [2, 3, 6, 4] } }
  - name: tiny conv
    op: conv2d
    attributes: { padding: 1 }
    inputs: { x: { shape: [1, 2, 5, 4] }, w: { shape: [3, 2, 3, 3] } }
`);

const BENCH = join(dir, 'bench.yaml');
writeFileSync(BENCH, `cases:
  - name: bench pool
    op: maxpool2d
    bench: true
    attributes: { kernel: 3, strides: 2 }
    inputs: { x: { shape: [4, 8, 33, 31] } }
`);

const base = ['--cases', CASES, '--oracle', 'none', '--reports-dir', dir];
const quick = [...base, '--no-bench'];

describe('convbench CLI', () => {
  it('a --report that is not a plain file name is refused before anything runs (exit 2)', () => {
    const r = cli('run', ...quick, '--report', 'sub/dir');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--report: report name "sub\/dir" is not a plain file name/);
    expect(r.stdout).not.toMatch(/checking/);
  });

  it('run writes the four reports and exits 0 when everything passes', () => {
    const r = cli('run', ...quick, '--report', 'ok');
    expect(r.stderr).not.toMatch(/harness error/);
    expect(r.code).toBe(0);
    // Each of the 4 built-ins on the 2 cases' forward and backward, and naive on the max pool's indices too.
    expect(r.stdout).toContain('2 cases, 4 implementations: 17 passed, 0 failed');
    for (const ext of ['json', 'md', 'html', 'junit.xml']) expect(existsSync(join(dir, `ok.${ext}`))).toBe(true);
    const json: unknown = JSON.parse(readFileSync(join(dir, 'ok.json'), 'utf8'));
    expect(json).toMatchObject({ format: 'convbench-report', name: 'ok' });
  });

  it("a user's wrong kernel (--impl path) fails with exit 1, naming case and element", () => {
    const r = cli('run', ...quick, '--impl', 'harness/fixtures/off-by-one.ts', '--report', 'user');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/off-by-one on "tiny pool maxpool2d x=\[2,3,6,4\] k=2 s=2 p=VALID" backward:/);
    expect(r.stdout).toMatch(/dx\(n, c, y, x\) = \(\d, \d, \d, \d\): got/);
    expect(r.stdout).toContain('skipped');
  });

  it('--json prints the report on stdout for scripts', () => {
    const r = cli('run', ...quick, '--impl', 'naive', '--case', 'tiny conv*', '--json', '--report', 'json');
    expect(r.code).toBe(0);
    const report: unknown = JSON.parse(r.stdout);
    expect(report).toMatchObject({ cases: [{ name: 'tiny conv' }] });
  });

  it('shards are disjoint and merge back into the whole', () => {
    const a = cli('run', ...quick, '--impl', 'naive', '--shard', '1/2', '--report', 's1');
    const b = cli('run', ...quick, '--impl', 'naive', '--shard', '2/2', '--report', 's2');
    expect([a.code, b.code]).toEqual([0, 0]);
    const m = cli('merge', join(dir, 's1.json'), join(dir, 's2.json'), '--report', 'merged', '--reports-dir', dir);
    expect(m.code).toBe(0);
    const merged = JSON.parse(readFileSync(join(dir, 'merged.json'), 'utf8')) as { cases: { name: string }[] };
    expect(merged.cases.map((c) => c.name).sort()).toEqual(['tiny conv', 'tiny pool']);
  });

  it('compare measures in fresh processes and calls a 4x slower kernel slower, exit 1', () => {
    const r = cli('compare', 'harness/fixtures/slow-naive.ts', 'naive', '--cases', BENCH, '--processes', '2', '--rounds', '6', '--reports-dir', dir, '--report', 'cmp');
    expect(r.stderr).not.toMatch(/harness error/);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('gate process 2 of 2');
    const rows = parseReport(readFileSync(join(dir, 'cmp.json'), 'utf8'), 'cmp.json').gate?.rows ?? [];
    expect(rows.map((x) => [x.computation, x.candidate, x.reference, x.verdict])).toEqual([
      ['forward', 'slow-naive', 'naive', 'slower'], ['backward', 'slow-naive', 'naive', 'slower'],
    ]);
    // Two processes on the first measurement and two more on the confirming one, each with >= 6 rounds.
    expect(rows.every(isMeasured)).toBe(true);
    for (const x of rows.filter(isMeasured)) {
      expect(x.logRatios).toHaveLength(4);
      for (const rounds of x.logRatios) expect(rounds.length).toBeGreaterThanOrEqual(6);
      expect(x.estimate).toBeGreaterThan(Math.log(2));
    }
  }, 180_000); // fresh processes, one after another: slow on a loaded machine

  it('gate: a baseline records ratios by process; a later run is judged against it and names regressions', () => {
    const gateArgs = ['gate', '--cases', BENCH, '--oracle', 'none', '--processes', '2', '--rounds', '6', '--reports-dir', dir];
    const first = cli(...gateArgs, '--impl', 'naive', '--impl', 'im2col', '--report', 'base');
    expect(first.stderr).not.toMatch(/harness error/);
    expect(first.code).toBe(0);
    const baseline = parseReport(readFileSync(join(dir, 'base.json'), 'utf8'), 'base.json');
    expect(baseline.gate?.rows.filter(isMeasured).map((x) => [x.candidate, x.reference, x.verdict, x.logRatios.length])).toEqual([
      ['im2col', 'naive', 'new', 2], ['im2col', 'naive', 'new', 2],
    ]);
    // Make the baseline say the off-by-one kernel passed there, under its name: now it fails.
    const text = readFileSync(join(dir, 'base.json'), 'utf8').replaceAll('"im2col"', '"off-by-one"');
    writeFileSync(join(dir, 'edited-base.json'), text);
    const head = cli(...gateArgs, '--impl', 'naive', '--impl', 'harness/fixtures/off-by-one.ts', '--baseline', join(dir, 'edited-base.json'), '--report', 'head');
    expect(head.code).toBe(1);
    expect(head.stdout).toMatch(/regression \(passed in the baseline, fails now\): off-by-one: bench pool .* backward/);
    const rows = parseReport(readFileSync(join(dir, 'head.json'), 'utf8'), 'head.json').gate?.rows ?? [];
    const before = (parseReport(text, 'edited-base.json').gate?.rows ?? []).filter(isMeasured);
    expect(rows).toHaveLength(2);
    expect(rows.every(isMeasured)).toBe(true);
    for (const [i, x] of rows.filter(isMeasured).entries()) {
      expect(x.candidate).toBe('off-by-one');
      expect(x.baseline).toBeCloseTo(before[i].estimate, 12);
      expect(['slower', 'faster', 'unchanged', 'unconfirmed']).toContain(x.verdict);
    }
  }, 180_000);

  it('bad input is one line and exit 2', () => {
    writeFileSync(join(dir, 'corrupt.json'), '{"format": "convbench-report", "version": 1, ');
    writeFileSync(join(dir, 'foreign.json'), '{"hello": "world"}');
    const bad: [string[], RegExp][] = [
      [['run', '--frobnicate'], /Unknown option '--frobnicate'/],
      [['run', '--cases', join(dir, 'missing')], /--cases: .*missing: no such file or folder/],
      [['gate', ...base, '--baseline', join(dir, 'nope.json')], /nope\.json: cannot read: ENOENT/],
      [['gate', ...base, '--baseline', join(dir, 'corrupt.json')], /corrupt\.json: /],
      [['gate', ...base, '--baseline', join(dir, 'foreign.json')], /foreign\.json: not a convbench report/],
      [['run', ...quick, '--impl', 'harness/fixtures/not-an-implementation.ts'], /not an implementation: its "layout" must be/],
      [['run', ...quick, '--impl', 'fancy'], /unknown implementation "fancy"/],
      [['frob'], /unknown command "frob"/],
    ];
    for (const [args, message] of bad) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('npm warn'));
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    }
  });

  it('--list lists the must-reject entries too, marks how many, and names one that loads', () => {
    const rejects = join(dir, 'rejects.yaml');
    writeFileSync(rejects, `cases:
  - name: fine
    op: avgpool2d
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 1, 4, 4] } }
  - name: stride zero
    reject: '/strides(\\[\\d\\])?: must be >= 1/'
    op: avgpool2d
    attributes: { kernel: 2, strides: [1, 0] }
    inputs: { x: { shape: [1, 1, 4, 4] } }
  - name: loads after all
    reject: 'must be >= 1'
    op: avgpool2d
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 1, 4, 4] } }
`);
    const shown = rejects.replace(process.cwd() + '/', '');
    const r = cli('run', '--cases', rejects, '--list');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'fine avgpool2d x=[1,1,4,4] k=2 s=1 p=VALID',
      `reject ${shown}:6 stride zero /strides(\\[\\d\\])?: must be >= 1/`,
      `reject ${shown}:11 loads after all "must be >= 1"`,
    ]);
    expect(r.stderr).toContain(`not rejected as expected: ${shown}:11 loads after all: expected the loader to reject it with "must be >= 1", but it loaded`);
    expect(r.stderr).toContain('1 case (0 bench); 2 must-reject (1 not rejected as expected); 0 bad case(s)');
  });

  it('a bad case file is reported with file, line and field, the other cases still run, exit 2', () => {
    const mixed = join(dir, 'mixed.yaml');
    writeFileSync(mixed, `cases:
  - name: fine
    op: avgpool2d
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 1, 4, 4] } }
  - name: broken
    op: avgpool2d
    attributes: { kernel: 2, countIncludePad: maybe }
    inputs: { x: { shape: [1, 1, 4, 4] } }
`);
    const r = cli('run', '--cases', mixed, '--oracle', 'none', '--no-bench', '--impl', 'naive', '--reports-dir', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${mixed.replace(process.cwd() + '/', '')}:8: cases[1].attributes.countIncludePad: must be boolean`);
    expect(r.stdout).toContain('2 passed');
  });
});
