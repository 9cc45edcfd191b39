import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The longest files (about 10 to 60 s each on 2 cores), longest first. vitest orders a run by the
 * durations of the last one when it has them (node_modules/.vite) and a fresh clone by file size,
 * which started conformance.test.ts (4 KB, 60 s) 88 s into the run and conv2d.fallback.test.ts
 * (4 lines, 9 s) last, after every other file had ended. These start first; the rest follow in
 * vitest's order.
 */
const LONGEST = [
  'harness/conformance.test.ts', 'harness/cli.gate.test.ts', 'harness/host/isolation.test.ts',
  'harness/host/declines.test.ts', 'harness/host/cli-isolation.test.ts', 'harness/cli.test.ts',
  'implementations/fast/conv2d.test.ts', 'harness/selection.test.ts', 'harness/host/python.test.ts',
  'harness/stats.test.ts', 'harness/fuzz.test.ts', 'implementations/fast/gemm.test.ts',
  'implementations/fast/conv2d.fallback.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const at = LONGEST.indexOf(relative(f.project.config.root, f.moduleId).replaceAll('\\', '/'));
      return at < 0 ? LONGEST.length : at;
    };
    const sorted = await super.sort(files);
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

export default defineConfig({
  test: {
    include: ['harness/**/*.test.ts', 'implementations/**/*.test.ts'],
    // Most test files wait on child processes (kernel hosts, the CLI) or on time limits, so one
    // file more than there are cores. On 2 cores (shared with other work), runs back to back took
    // 190 and 196 s with 2 workers, 160 and 163 s with 3, 188 s with 4.
    maxWorkers: availableParallelism() + 1,
    sequence: { sequencer: LongestFirst },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The CLI the tests spawn (bin/convbench.js, cli.test-support.ts) runs a build of the sources
    // made afresh for this run (never dist/, which may be stale), named in CONVBENCH_BUILD_DIR.
    globalSetup: ['harness/build.test-support.ts'],
  },
});
