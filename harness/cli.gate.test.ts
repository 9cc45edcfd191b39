// The command line's measuring commands end to end, in child processes: compare and gate, each
// timing in fresh processes one after another (cli.test.ts has the rest of the command line; the
// two files run side by side).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './cli.test-support.ts';
import { parseReport } from './report/json.ts';
import { isMeasured } from './report/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'convbench-cli-gate-'));
const BENCH = join(dir, 'bench.yaml');
writeFileSync(BENCH, `cases:
  - name: bench pool
    op: maxpool2d
    bench: true
    attributes: { kernel: 3, strides: 2 }
    inputs: { x: { shape: [4, 8, 33, 31] } }
`);

describe('convbench CLI', () => {
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
    const gateArgs = ['gate', '--cases', BENCH, '--oracle', 'none', '--rounds', '6', '--reports-dir', dir];
    const first = cli(...gateArgs, '--processes', '2', '--impl', 'naive', '--impl', 'im2col', '--report', 'base');
    expect(first.stderr).not.toMatch(/harness error/);
    expect(first.code).toBe(0);
    const baseline = parseReport(readFileSync(join(dir, 'base.json'), 'utf8'), 'base.json');
    expect(baseline.gate?.rows.filter(isMeasured).map((x) => [x.candidate, x.reference, x.verdict, x.logRatios.length])).toEqual([
      ['im2col', 'naive', 'new', 2], ['im2col', 'naive', 'new', 2],
    ]);
    // Make the baseline say the off-by-one kernel passed there, under its name: now it fails.
    const text = readFileSync(join(dir, 'base.json'), 'utf8').replaceAll('"im2col"', '"off-by-one"');
    writeFileSync(join(dir, 'edited-base.json'), text);
    // One process here (and one more for any re-measure): what is asserted below is the judging
    // against the baseline, whatever the processes; the baseline's two are asserted above.
    const head = cli(...gateArgs, '--processes', '1', '--impl', 'naive', '--impl', 'harness/fixtures/off-by-one.ts', '--baseline', join(dir, 'edited-base.json'), '--report', 'head');
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
});
