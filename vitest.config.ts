import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['harness/**/*.test.ts', 'implementations/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The CLI the tests spawn (bin/convbench.js) runs the sources, never a build that may be stale.
    env: { CONVBENCH_FROM_SOURCE: '1' },
  },
});
