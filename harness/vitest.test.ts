// convbench/vitest in a user's own vitest: a fixture project (harness/fixtures/vitest-consumer)
// run by a vitest of its own, read through its JSON reporter.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

interface Assertion { ancestorTitles: string[]; title: string; status: string; failureMessages: string[] }
interface JsonReport { testResults: { assertionResults: Assertion[] }[] }

const dir = mkdtempSync(join(tmpdir(), 'convbench-vitest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runConsumer(): Assertion[] {
  const out = join(dir, 'results.json');
  const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--root', 'harness/fixtures/vitest-consumer', '--reporter=json', `--outputFile=${out}`], {
    encoding: 'utf8', timeout: 240_000,
  });
  expect(r.status, r.stderr).toBe(1); // the wrong kernel's tests fail
  const report = JSON.parse(readFileSync(out, 'utf8')) as JsonReport;
  return report.testResults.flatMap((f) => f.assertionResults);
}

describe('describeConformance in a consumer vitest', () => {
  const tests = runConsumer();
  const of = (kernel: string) => tests.filter((t) => t.ancestorTitles.some((a) => a.startsWith('convbench conformance: ') && a.endsWith(kernel)));

  it('registers one test per case and computation, named with the case id', () => {
    const names = of('naive').map((t) => t.title);
    expect(names).toEqual([
      'maxpool index breakers maxpool2d x=[2,5,11,7] k=3x2 s=1 p=VALID forward',
      'maxpool index breakers maxpool2d x=[2,5,11,7] k=3x2 s=1 p=VALID backward',
      'maxpool index breakers maxpool2d x=[2,5,11,7] k=3x2 s=1 p=VALID indices',
      'maxpool index breakers maxpool2d x=[2,5,11,7] k=3x2 s=1 p=VALID ceil forward',
      'maxpool index breakers maxpool2d x=[2,5,11,7] k=3x2 s=1 p=VALID ceil backward',
      'maxpool index breakers maxpool2d x=[2,5,11,7] k=3x2 s=1 p=VALID ceil indices',
    ]);
  });

  it('passes a correct kernel', () => {
    expect(of('naive').map((t) => t.status)).toEqual(['passed', 'passed', 'passed', 'passed', 'passed', 'passed']);
  });

  it("fails a wrong kernel's tests with the element-level mismatch report", () => {
    const backward = of('off-by-one.ts').filter((t) => t.title.endsWith('backward'));
    expect(backward.map((t) => t.status)).toEqual(['failed', 'failed']);
    for (const t of backward) {
      expect(t.failureMessages.join('\n')).toMatch(/dx vs reference64: \d+ of 770 elements outside the budget/);
      expect(t.failureMessages.join('\n')).toMatch(/dx\(n, c, y, x\) = \(\d+, \d+, \d+, \d+\): got -?[\d.e-]+, want -?[\d.e-]+/);
    }
  });
});
