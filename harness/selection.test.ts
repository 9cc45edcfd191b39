// Choosing what runs: --case / --exclude (repeatable, or-ed), --op (repeatable), --list, --version,
// and work proportional to what is asked (reference64 and oracles only where a kernel has the op).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './cli.test-support.ts';
import { runConformance } from './api.ts';
import { parseReport } from './report/json.ts';
import { selectionMatcher } from './session.ts';

const dir = mkdtempSync(join(tmpdir(), 'convbench-select-'));
const CASES = join(dir, 'cases.yaml');
writeFileSync(CASES, `cases:
  - name: alpha pool
    op: maxpool2d
    attributes: { kernel: 2, strides: 2 }
    inputs: { x: { shape: [1, 2, 4, 4] } }
  - name: beta pool
    op: avgpool2d
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 2, 5, 3] } }
  - name: gamma conv
    op: conv2d
    inputs: { x: { shape: [1, 2, 4, 4] }, w: { shape: [3, 2, 3, 3] } }
`);

const ids = (stdout: string) => stdout.trim().split('\n').map((l) => l.split(' ')[0]);

describe('selecting cases', () => {
  it('matches a glob or a substring; --case patterns are or-ed, --exclude wins', () => {
    const m = selectionMatcher(['alpha*', 'conv'], ['gamma']);
    expect(['alpha pool', 'beta pool', 'gamma conv', 'delta conv'].filter(m)).toEqual(['alpha pool', 'delta conv']);
    expect(['a', 'b'].filter(selectionMatcher())).toEqual(['a', 'b']);
  });

  it('--list prints the selected ids and runs nothing; --case and --exclude repeat', () => {
    const all = cli('run', '--cases', CASES, '--list');
    expect(all.code).toBe(0);
    expect(ids(all.stdout)).toEqual(['alpha', 'beta', 'gamma']);
    expect(all.stderr).toContain('3 cases (0 bench)');
    const some = cli('run', '--cases', CASES, '--list', '--case', 'alpha*', '--case', 'gamma*', '--exclude', 'gamma');
    expect(ids(some.stdout)).toEqual(['alpha']);
    const ops = cli('run', '--cases', CASES, '--list', '--op', 'conv2d', '--op', 'avgpool2d');
    expect(ids(ops.stdout)).toEqual(['beta', 'gamma']);
  });

  it('a selection that matches nothing is bad input (exit 2) that names every filter', () => {
    const r = cli('run', '--cases', CASES, '--list', '--case', 'alpha*', '--exclude', 'alpha');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no case matches --case "alpha*" --exclude "alpha" (of 3 loaded)');
  });

  it('--version prints the package version', () => {
    const r = cli('--version');
    expect(r.code).toBe(0);
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(r.stdout.trim()).toBe(`convbench ${version}`);
  });
});

describe('work proportional to what is asked', () => {
  it('reference64 and the oracles run only the computations some selected kernel has', async () => {
    const report = await runConformance({ implementations: ['harness/fixtures/forward-maxpool-only.ts'], cases: [CASES], oracles: ['tfjs-cpu'] });
    const oracle = report.results.filter((r) => r.kind === 'oracle');
    expect(oracle.map((r) => `${r.caseId.split(' ')[0]} ${r.computation} ${r.state}`)).toEqual(['alpha forward passed']);
    const mine = report.results.filter((r) => r.kind === 'implementation');
    expect(mine.map((r) => `${r.caseId.split(' ')[0]} ${r.computation} ${r.state}`)).toEqual([
      'alpha forward passed', 'alpha backward skipped', 'alpha indices skipped', 'beta forward skipped', 'beta backward skipped', 'gamma forward skipped', 'gamma backward skipped',
    ]);
  });
});

describe('compare head vs base', () => {
  it('takes two builds of a kernel that share a name and labels them by path, in the measuring processes too', () => {
    const naive = resolve('implementations/naive/index.ts');
    for (const build of ['head', 'base']) {
      mkdirSync(join(dir, build));
      writeFileSync(join(dir, build, 'mine.ts'), `import naive from ${JSON.stringify(naive)};\nexport default { ...naive, name: 'mine' };\n`);
    }
    const bench = join(dir, 'bench.yaml');
    writeFileSync(bench, 'cases:\n  - name: bench pool\n    op: maxpool2d\n    direction: forward\n    bench: true\n    attributes: { kernel: 2, strides: 2 }\n    inputs: { x: { shape: [2, 4, 16, 16] } }\n');
    const head = join(dir, 'head', 'mine.ts');
    const base = join(dir, 'base', 'mine.ts');
    const r = cli('compare', head, base, '--cases', bench, '--processes', '1', '--rounds', '6', '--reports-dir', dir, '--report', 'same-name');
    expect(r.stderr).not.toMatch(/harness error/);
    expect([0, 1]).toContain(r.code);
    const report = parseReport(readFileSync(join(dir, 'same-name.json'), 'utf8'), 'same-name.json');
    expect(report.implementations.map((i) => i.name)).toEqual([`mine (${head})`, `mine (${base})`]);
    // naive-based, so both the forward and the indices computation are gated.
    expect(report.gate?.rows.map((row) => [row.computation, row.candidate, row.reference, row.verdict === 'errored' ? row.error : 'measured'])).toEqual([
      ['forward', `mine (${head})`, `mine (${base})`, 'measured'],
      ['indices', `mine (${head})`, `mine (${base})`, 'measured'],
    ]);
  }, 180_000);
});
