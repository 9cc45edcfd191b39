// Misbehaving kernels through the command line, as CI runs it: the exit code is the harness's,
// every other result is in the report, nothing is left running, and time stays bounded.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processesWith } from './proc.test-support.ts';
import { parseReport } from '../report/json.ts';

const dir = mkdtempSync(join(tmpdir(), 'convbench-isolation-'));
const CASES = join(dir, 'cases.yaml');
writeFileSync(CASES, `cases:
  - name: pool
    op: maxpool2d
    attributes: { kernel: 2, strides: 2 }
    inputs: { x: { shape: [2, 3, 6, 4] } }
  - name: conv
    op: conv2d
    direction: forward
    attributes: { padding: 1 }
    inputs: { x: { shape: [1, 2, 5, 4] }, w: { shape: [3, 2, 3, 3] } }
`);
const fixture = (name: string) => `harness/fixtures/hostile/${name}.ts`;
const base = ['--cases', CASES, '--oracle', 'none', '--no-bench', '--reports-dir', dir, '--time-limit', '3'];

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['bin/convbench.js', ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}
const report = (name: string) => parseReport(readFileSync(join(dir, `${name}.json`), 'utf8'), name);


describe('a kernel that ends its own process', () => {
  it('process.exit(0) in conv2d: exit 1 for the wrong max-pool gradient, every result in the report', () => {
    const r = cli('run', ...base, '--impl', fixture('exits'), '--impl', 'naive', '--report', 'exits');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const results = report('exits').results;
    const of = (subject: string, id: string, computation: string) => results.find((x) => x.subject === subject && x.caseId.startsWith(id) && x.computation === computation);
    expect(of('exits', 'conv', 'forward')).toMatchObject({ state: 'errored', error: expect.stringMatching(/^exited with code 0 during the call/) });
    expect(of('exits', 'pool', 'forward')).toMatchObject({ state: 'passed' });
    expect(of('exits', 'pool', 'backward')).toMatchObject({ state: 'failed' });
    expect(results.filter((x) => x.subject === 'naive').map((x) => `${x.computation} ${x.state}`)).toEqual(['forward passed', 'backward passed', 'indices passed', 'forward passed']);
  });
});

describe('a kernel that never returns', () => {
  it('is timed out after the --time-limit, and the run finishes with exit 1 in bounded time', () => {
    const r = cli('run', ...base, '--impl', fixture('loops'), '--report', 'loops');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('timed out after 3 s');
    expect(r.ms).toBeLessThan(60_000);
    const results = report('loops').results;
    expect(results.find((x) => x.caseId.startsWith('pool') && x.computation === 'forward')).toMatchObject({ state: 'passed' });
  });

  it('SIGTERM to bin/convbench.js ends the harness and every kernel host', async () => {
    const marker = `loops-${Date.now()}`;
    // isolation.test.ts may be running the same fixture in hosts of its own meanwhile: this run's
    // processes are the ones with the marker in their environment.
    const mine = `CONVBENCH_TEST_RUN=${marker}`;
    const child = spawn(process.execPath, ['bin/convbench.js', 'run', ...base, '--time-limit', '600', '--impl', fixture('loops'), '--report', marker], { env: { ...process.env, CI: 'true', CONVBENCH_TEST_RUN: marker }, stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    await new Promise<void>((resolve) => {
      const look = (b: Buffer) => { seen += b.toString(); if (seen.includes('oracles: reference64')) resolve(); };
      child.stdout.on('data', look);
      child.stderr.on('data', look);
    });
    // The host is computing its infinite loop.
    await new Promise((r) => setTimeout(r, 1500));
    expect(processesWith('hostile/loops.ts', mine).length).toBeGreaterThan(0);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    await new Promise((r) => setTimeout(r, 500));
    expect(processesWith('hostile/loops.ts', mine)).toEqual([]);
    expect(existsSync(join(dir, `${marker}.json`))).toBe(false);
  });
});

describe('a kernel that misbehaves while timed', () => {
  it('a hang while timed is an errored timing, and the run exits 1', () => {
    const bench = join(dir, 'bench.yaml');
    writeFileSync(bench, `cases:
  - name: bench pool
    op: maxpool2d
    direction: forward
    bench: true
    attributes: { kernel: 2, strides: 2 }
    inputs: { x: { shape: [1, 2, 8, 8] } }
`);
    const r = cli('run', '--cases', bench, '--oracle', 'none', '--reports-dir', dir, '--time-limit', '2', '--bench-time', '50', '--impl', fixture('hangs-when-timed'), '--report', 'timed');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const timing = report('timed').timings.find((t) => t.engine === 'hangs-when-timed');
    expect(timing).toMatchObject({ state: 'errored', error: expect.stringMatching(/timed out after/) });
    expect(report('timed').results.map((x) => `${x.computation} ${x.state}`)).toEqual(['forward passed', 'indices skipped']);
  });
});

describe('a kernel that leaves handles open', () => {
  it('a timer and a worker left alive do not keep the CLI from exiting', () => {
    const r = cli('run', ...base, '--impl', fixture('leaks'), '--report', 'leaks');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.ms).toBeLessThan(60_000);
  });
});

describe('exit codes that cannot lie', () => {
  it('a selection that matches nothing is exit 2 with one line, and the last report stays', () => {
    const before = statSync(join(dir, 'exits.json')).mtimeMs;
    const r = cli('run', ...base, '--case', 'no such case*', '--report', 'exits');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^convbench: no case matches --case "no such case\*" \(of 2 loaded\); nothing was run$/);
    expect(statSync(join(dir, 'exits.json')).mtimeMs).toBe(before);
  });

  it('a kernel that implements none of the selected computations is exit 2', () => {
    const r = cli('run', ...base, '--impl', fixture('never-settles'), '--op', 'maxpool2d', '--report', 'none');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/never-settles implements none of the selected computations/);
  });

  it('a kernel named like an engine is exit 2', () => {
    const r = cli('run', ...base, '--impl', fixture('named-like-oracle'), '--report', 'named');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the implementation is named "tfjs-cpu", the name of an engine or reference/);
  });
});
