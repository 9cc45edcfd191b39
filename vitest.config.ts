import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['harness/**/*.test.ts', 'implementations/**/*.test.ts'],
    // Most test files wait on child processes (kernel hosts, the CLI), so one file per core at
    // least: vitest's default (cores - 1) runs the files one after another on a 2-core machine.
    maxWorkers: Math.max(2, availableParallelism()),
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The CLI the tests spawn (bin/convbench.js) runs the sources, never a build that may be stale.
    env: { CONVBENCH_FROM_SOURCE: '1' },
  },
});
