// convbench in a user's own vitest run: `describeConformance(kernel, options)` registers one test
// per case and computation, named with the case id. A failing test's message is the element-level
// mismatch report; a computation the kernel does not implement or declines is a skipped test whose
// note says why. The kernel runs in a kernel host of its own, as under the CLI, so a kernel that
// exits, crashes or hangs fails its test and the next test gets a fresh host.
//
//   import { describeConformance } from 'convbench/vitest';
//   describeConformance(new URL('./my-kernel.ts', import.meta.url), { ops: ['conv2d'] });
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { limitsOf, type SelectOptions, selectionOf } from './api.ts';
import type { Case } from './cases/load.ts';
import { type CheckResult, computationsOf, describeFailure } from './check.ts';
import type { Computation } from './invoke.ts';
import { runSuite } from './run.ts';
import { type Inputs, loadInputs, releaseAll, selectCases } from './session.ts';

export type ConformanceSuiteOptions = SelectOptions;

/**
 * Registers the conformance tests of one implementation: `kernel` is a module path or file URL
 * (.ts, .js, .mjs), a built-in name, "cmd:<command>" or a manifest .json, as `--impl` takes it.
 * Oracles default to none here (reference64 and the cases' exact values only), which keeps a
 * unit-test run fast; name them in `oracles` to check against the engines too.
 */
export function describeConformance(kernel: string | URL, options: ConformanceSuiteOptions = {}): void {
  const spec = kernel instanceof URL ? fileURLToPath(kernel) : kernel;
  const selection = selectionOf({ ...options, oracles: options.oracles ?? [] }, [spec]);
  // Case files are read now, while vitest collects the tests; the host starts in beforeAll.
  const selected = selectCases(selection);
  const { cases, caseErrors } = selected;
  const limits = limitsOf(options);
  // The first test of a case waits for all of that case's requests: per computation a supports
  // question and two calls, each within the case's own time limit, and a host restart after each.
  const testTimeoutMs = (c: Case) => computationsOf(c).length * 3 * ((c.timeLimitMs ?? limits.callTimeLimitMs) + limits.startupMs) + 10_000;

  describe(`convbench conformance: ${spec}`, () => {
    let inputs: Inputs | undefined;
    const perCase = new Map<string, Promise<CheckResult[]>>();
    beforeAll(async () => { inputs = await loadInputs(selection, selected); }, limits.startupMs + 60_000);
    afterAll(async () => { if (inputs) await releaseAll(inputs); });

    // Each case's computations run together, once, the first time one of its tests asks.
    const resultsOf = (c: Case): Promise<CheckResult[]> => {
      const loaded = inputs;
      if (!loaded) throw new Error(`convbench: ${spec} did not start (see the error of beforeAll)`);
      let results = perCase.get(c.id);
      if (!results) {
        results = runSuite({ cases: [c], implementations: loaded.implementations, oracles: loaded.oracles }).then((r) => r.results);
        perCase.set(c.id, results);
      }
      return results;
    };

    for (const e of caseErrors) {
      it(`case file ${e.file}${e.line ? `:${e.line}` : ''}`, () => { throw new Error(e.message); });
    }
    for (const c of cases) {
      for (const computation of computationsOf(c)) {
        it(`${c.id} ${computation}`, async (ctx) => {
          const r = findResult(await resultsOf(c), computation);
          if (r.state === 'n/a' || r.state === 'skipped') ctx.skip(r.state === 'n/a' ? `n/a for ${r.subject}: ${r.reason}` : r.reason);
          if (r.state === 'failed' || r.state === 'errored') throw new ConformanceError(describeFailure(r));
        }, testTimeoutMs(c));
      }
    }
  });
}

/** The kernel's own result for one computation (the oracles' results are in the list too). */
function findResult(results: readonly CheckResult[], computation: Computation): CheckResult {
  const r = results.find((x) => x.kind === 'implementation' && x.computation === computation);
  if (!r) throw new Error(`convbench: no result for ${computation}`);
  return r;
}

/** A conformance failure: the message is the report's, with no stack of ours to read past. */
export class ConformanceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConformanceError';
    this.stack = `${this.name}: ${message}`;
  }
}
