// The command line end to end, in child processes: exit codes, one-line errors, reports written.
// compare and gate, which measure in fresh processes, are in cli.gate.test.ts (a file of their own,
// so that vitest runs them beside these).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './cli.test-support.ts';

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
