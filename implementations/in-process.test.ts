// The built-in kernels called in this process, on every bundled case that is not a benchmark case,
// checked with the harness's own machinery: the case's exact expected outputs and reference64 under
// the tolerance model (check.ts checkOutputs through checkPrepared), the output shapes and types of
// the call contract, and the inputs left as they were. No kernel host, no oracles, no second call:
// that is harness/conformance.test.ts. This one takes seconds, so it is what the mutation run
// (`npm run mutation`, stryker.config.mjs, vitest.mutation.config.ts) runs for every mutant: a
// mutant must reach the code under test, which a child process would not.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import type { Case } from '../harness/cases/load.ts';
import { checkPrepared, computationsOf, describeFailure, type References, referenceOutputs } from '../harness/check.ts';
import type { Implementation } from '../harness/implementation.ts';
import {
  type Computation, framesOf, fromLayout, methodOf, OUTPUTS, type Outputs, outputShapes, type Prepared, shapeIn,
} from '../harness/invoke.ts';
import { BUILT_IN } from './index.ts';

const CASES = new URL('../cases', import.meta.url).pathname;

interface Shared { errors: string[]; cases: Case[]; references: Map<string, References> }

/**
 * The bundled cases, less the benchmark cases (large, up to 7.8 MiB each: the smaller cases cover
 * the same code paths), and a memo of reference64's outputs. Under the mutation run this file runs
 * once per mutant in a fresh worker; vitest.mutation.config.ts then names a file in Stryker's
 * sandbox (CONVBENCH_IN_PROCESS_CACHE) where the first run leaves the cases and every reference
 * (v8-serialized) for the next runs, instead of loading and computing them again: the kernels never
 * see those arrays (prepare() copies), and neither the loader nor reference64 is mutated.
 */
async function shared(): Promise<Shared> {
  const file = process.env.CONVBENCH_IN_PROCESS_CACHE;
  if (file && existsSync(file)) return deserialize(readFileSync(file)) as Shared;
  const { loadCases } = await import('../harness/cases/load.ts');
  const loaded = loadCases([CASES]);
  const s: Shared = { errors: loaded.errors.map((e) => e.message), cases: loaded.cases.filter((c) => !c.bench), references: new Map() };
  if (file) {
    for (const c of s.cases) for (const computation of computationsOf(c)) referencesOf(s, c, computation);
    writeFileSync(`${file}.${process.pid}`, serialize(s));
    renameSync(`${file}.${process.pid}`, file);
  }
  return s;
}

/** reference64 once per case and computation, shared by the three kernels. */
function referencesOf(s: Shared, c: Case, computation: Computation): References {
  const key = `${c.id}/${computation}`;
  let refs = s.references.get(key);
  if (!refs) { refs = referenceOutputs(c, computation); s.references.set(key, refs); }
  return refs;
}

// Under Stryker (vitest.mutation.config.ts): its setup file has just set this run's hit limit, 100
// times the hits of the mutant's code in the initial run; a lower one stops a looping mutant sooner.
const factor = Number(process.env.CONVBENCH_HIT_LIMIT_FACTOR);
const stryker = (globalThis as { __stryker__?: { hitLimit?: number } }).__stryker__;
if (factor > 0 && stryker?.hitLimit !== undefined) stryker.hitLimit = Math.ceil((stryker.hitLimit / 100) * factor);

const suite = await shared();
const { cases } = suite;

const sameBits = (a: Float32Array, b: Float32Array): boolean => {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

/** One call of `impl` in this process, as its kernel host would make it, checked as the host checks. */
function prepare(impl: Implementation, c: Case, computation: Computation): Prepared {
  const method = methodOf(c.op, computation);
  const frames = framesOf(c, computation, impl.layout);
  // Copies: the kernel gets tensors of its own, so a write into one shows against the case's data.
  const args = frames.map((f) => ({ name: f.name, tensor: { shape: [...f.shape], data: f.data.slice() } }));
  const all = computation === 'forward' && c.op === 'conv2d' && !c.bias ? [...args, undefined] : args;
  const tensors = all.map((a) => a?.tensor);
  const wanted = new Map(outputShapes(c, computation).map(({ name, shape }) => [name, shapeIn(name, shape, impl.layout)]));
  return {
    async call() {
      const fn = impl[method] as ((...a: unknown[]) => unknown) | undefined;
      if (!fn) throw new Error(`${impl.name} has no ${method}`);
      // The geometry as the host receives it: a plain copy, which the kernel cannot change for the checks.
      return await Reflect.apply(fn, impl, [...tensors, structuredClone(c.geometry)]);
    },
    collect(raw: unknown): Outputs {
      for (const [i, a] of args.entries()) {
        if (!sameBits(a.tensor.data, frames[i].data)) throw new Error(`${method} wrote into its input ${a.name}`);
      }
      const names = OUTPUTS[computation][c.op];
      const outputs: Outputs = {};
      const buffers = new Set<ArrayBufferLike>(args.map((a) => a.tensor.data.buffer));
      for (const name of names) {
        const v = names.length === 1 ? raw : (raw as Record<string, unknown> | undefined)?.[name];
        const want = wanted.get(name) ?? [];
        const t = v as { shape?: unknown; data?: unknown } | undefined;
        if (!t || !(t.data instanceof Float32Array) || !Array.isArray(t.shape)) throw new Error(`${name} is not a tensor`);
        if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) throw new Error(`${name} has shape [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
        if (t.data.length !== want.reduce((p, d) => p * d, 1)) throw new Error(`${name} holds ${t.data.length} values for shape [${want.join(', ')}]`);
        if (buffers.has(t.data.buffer)) throw new Error(`${name} shares its buffer with an input or another output`);
        buffers.add(t.data.buffer);
        outputs[name] = fromLayout(name, { shape: [...want], data: t.data }, impl.layout);
      }
      return outputs;
    },
  };
}

it('the bundled cases load, and enough of them are small', () => {
  expect(suite.errors).toEqual([]);
  expect(cases.length).toBeGreaterThan(50);
});

describe.each(BUILT_IN.map((impl) => [impl.name, impl] as const))('%s in process', (_, impl) => {
  for (const c of cases) {
    for (const computation of computationsOf(c)) {
      it(`${c.id} ${computation}`, async () => {
        const method = methodOf(c.op, computation);
        if (typeof impl[method] !== 'function') return;
        if (impl.supports && (await impl.supports(structuredClone(c.geometry), method)) !== true) return;
        const base = { caseId: c.id, subject: impl.name, kind: 'implementation' as const, computation };
        const { result } = await checkPrepared(base, c, computation, () => prepare(impl, c, computation), referencesOf(suite, c, computation));
        expect(result.state, describeFailure(result)).toBe('passed');
      });
    }
  }
});
