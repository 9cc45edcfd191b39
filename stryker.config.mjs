// Mutation testing of the built-in kernels (`npm run mutation`): every mutant of
// implementations/{naive,im2col,views} is run against implementations/in-process.test.ts, the
// bundled non-benchmark cases checked in process against reference64 (vitest.mutation.config.ts).
// A surviving mutant that changes a result wants a case (cases/mutation/); README "Mutation testing".
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: [
    'implementations/naive/**/*.ts',
    'implementations/im2col/**/*.ts',
    'implementations/views/**/*.ts',
    '!implementations/**/*.test.ts',
  ],
  coverageAnalysis: 'perTest',
  // One test process: the machine is shared (the other core is someone else's).
  concurrency: 1,
  // Re-runs only test mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  tempDirName: '.stryker-tmp',
  // Stryker rewrites the extends and references of this tsconfig in its sandbox copy, through the
  // TypeScript compiler API, which TypeScript 7 (native) does not have; ours has neither, so it
  // names no file and nothing is rewritten.
  tsconfigFile: 'no-tsconfig-to-rewrite.json',
  // What the sandbox copy of the project leaves out (node_modules is linked, not copied).
  ignorePatterns: ['dist', 'reports', '.stryker-tmp', 'adapters', 'examples'],
  // A mutant that loops (a mutated loop bound) is a timeout, counted as detected.
  timeoutMS: 5_000,
  thresholds: { high: 90, low: 80, break: null },
};
