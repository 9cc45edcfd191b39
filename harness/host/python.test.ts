// Kernels in another language through the host protocol: the numpy examples, run by the CLI with
// --impl "cmd:python3 ...", as a user would. Python 3 with numpy comes from scripts/setup-python.sh
// (npm's pretest).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../cli.test-support.ts';
import { parseReport } from '../report/json.ts';

const dir = mkdtempSync(join(tmpdir(), 'convbench-python-'));
const NAIVE = 'cmd:python3 examples/python/numpy_naive.py';
const VIEWS = 'cmd:python3 examples/python/numpy_views.py';


// Without python3 and numpy (a contributor's laptop where setup-python.sh could not install them)
// these tests are skipped and say why; under CI=true, where .ci/run installs them, that fails.
const probe = spawnSync('python3', ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' });
const missing = probe.status === 0 ? undefined
  : `python3 with numpy is missing: run "bash scripts/setup-python.sh" as root, or install python3-numpy (${(probe.stderr || probe.error?.message || '').trim().split('\n').at(-1) ?? ''})`;

it(missing ? `python3 with numpy (skipped: ${missing})` : 'python3 with numpy is there', (ctx) => {
  if (missing && process.env.CI !== 'true') ctx.skip(missing);
  expect(probe.status, missing).toBe(0);
});

it.skipIf(missing)("the Python adapter's own protocol self-test passes (adapters/python/test_protocol.py)", () => {
  const r = spawnSync('python3', ['adapters/python/test_protocol.py'], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stdout + r.stderr).toBe(0);
});

describe.skipIf(missing)('the numpy-naive example (loops, the numpy-naive seed\'s method)', () => {
  it('passes every bundled conv and average-pool case, forward and backward, and declines max pooling', () => {
    const r = cli('run', '--impl', NAIVE, '--cases', 'cases/seeds', '--cases', 'cases/conv2d', '--cases', 'cases/pool', '--oracle', 'none', '--no-bench', '--reports-dir', dir, '--report', 'naive');
    expect(r.stderr).not.toMatch(/harness error/);
    expect(r.code, r.stdout).toBe(0);
    const report = parseReport(readFileSync(join(dir, 'naive.json'), 'utf8'), 'naive.json');
    expect(report.implementations).toEqual([{ name: 'numpy-naive', layout: 'NCHW', source: NAIVE, threads: 1 }]);
    const states = report.results.map((x) => x.state);
    expect(states.filter((s) => s === 'passed').length).toBeGreaterThan(60);
    expect(states.filter((s) => s === 'failed' || s === 'errored')).toEqual([]);
    const maxPool = report.results.find((x) => x.caseId.includes('maxpool2d'));
    expect(maxPool).toMatchObject({ state: 'n/a', reason: expect.stringMatching(/\w/) });
  });
});

describe.skipIf(missing)("the numpy-views example (strided windows, keeping the views seed's stride bug)", () => {
  const cases = join(dir, 'strides.yaml');
  writeFileSync(cases, `cases:
  - name: views
    op: conv2d
    matrix: { attributes.strides: [1, 2] }
    inputs: { x: { shape: [2, 3, 9, 9] }, w: { shape: [4, 3, 3, 3] }, bias: { shape: [4] } }
`);

  it('is right at stride 1 and caught at stride 2 in the backward, with the element named', () => {
    const r = cli('run', '--impl', VIEWS, '--cases', cases, '--oracle', 'none', '--no-bench', '--reports-dir', dir, '--report', 'views');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const report = parseReport(readFileSync(join(dir, 'views.json'), 'utf8'), 'views.json');
    const state = (stride: number, computation: string) =>
      report.results.find((x) => x.caseId.includes(` s=${stride} `) && x.computation === computation)?.state;
    expect([state(1, 'forward'), state(1, 'backward'), state(2, 'forward'), state(2, 'backward')]).toEqual(['passed', 'passed', 'passed', 'failed']);
    expect(r.stdout).toMatch(/numpy-views on "views conv2d x=\[2,3,9,9\] w=\[4,3,3,3\] s=2 p=VALID" backward:/);
    expect(r.stdout).toMatch(/dw vs reference64: \d+ of 108 elements outside the budget/);
    expect(r.stdout).toMatch(/dw\(o, i, ky, kx\) = \(\d, \d, \d, \d\): got/);
  });
});
