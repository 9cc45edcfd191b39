// The conformance suite: every built-in implementation x every bundled case x each computation,
// checked against the case's exact expected outputs and against reference64 under the tolerance model.
import { describe, expect, it } from 'vitest';
import { loadCases } from './cases/load.ts';
import { checkImplementation, computationsOf, describeFailure, type References, referenceOutputs } from './check.ts';
import { BUILT_IN } from './implementations.ts';
import type { Computation } from './invoke.ts';

const loaded = loadCases(['cases']);
const references = new Map<string, References>();
function referencesOf(c: (typeof loaded.cases)[number], computation: Computation): References {
  const key = `${c.id}/${computation}`;
  let refs = references.get(key);
  if (!refs) { refs = referenceOutputs(c, computation); references.set(key, refs); }
  return refs;
}

it('every bundled case file loads without errors', () => {
  expect(loaded.errors.map((e) => e.message)).toEqual([]);
  expect(loaded.cases.length).toBeGreaterThan(50);
});

describe.each(BUILT_IN.map((impl) => [impl.name, impl] as const))('%s', (_name, impl) => {
  for (const c of loaded.cases) {
    for (const computation of computationsOf(c)) {
      it(`${c.id} ${computation}`, async () => {
        const result = await checkImplementation(impl, c, computation, referencesOf(c, computation));
        expect(result.state, describeFailure(result)).toBe('passed');
      });
    }
  }
});
