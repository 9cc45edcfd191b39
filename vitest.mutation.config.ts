// The vitest configuration of the mutation run (stryker.config.mjs): only the in-process
// conformance test, which calls the built-in kernels in this process (a mutant switched on in the
// test process would not reach a kernel host) and takes seconds rather than minutes.
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// Under Stryker (its test-runner processes have STRYKER_MUTATOR_WORKER; their working directory is
// the sandbox, made afresh for each run and removed after it):
// - the test keeps the loaded cases and reference64's outputs in a file of the sandbox, so each
//   mutant's run (and a runner process restarted after a timeout) reads them instead of computing
//   them again;
// - a mutant that loops (a loop counter counting the wrong way) is stopped after 10 times the hits
//   of its code in the initial run instead of Stryker's 100 times (the test lowers the hit limit):
//   it ends in a fraction of a second as a timeout, without a timed-out process to replace.
const underStryker = process.env.STRYKER_MUTATOR_WORKER !== undefined;
const mutation = underStryker ? { CONVBENCH_IN_PROCESS_CACHE: resolve('.in-process-cases.v8'), CONVBENCH_HIT_LIMIT_FACTOR: '10' } : {};

export default defineConfig({
  test: {
    include: ['implementations/in-process.test.ts'],
    testTimeout: 60_000,
    env: { CONVBENCH_FROM_SOURCE: '1', ...mutation },
  },
});
