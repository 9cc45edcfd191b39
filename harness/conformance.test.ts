// The conformance suite: every built-in implementation x every bundled case x each computation,
// checked against the case's exact expected outputs, reference64 under the tolerance model, and
// every oracle that supports the case (which is itself checked against reference64).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Case, loadCases } from './cases/load.ts';
import { checkPrepared, computationsOf, describeFailure, checkImplementation, type Opponent, type References, referenceOutputs } from './check.ts';
import { DEFAULT_LIMITS } from './host/host.ts';
import type { RemoteImplementation } from './host/remote.ts';
import { BUILT_IN_NAMES, startImplementation } from './implementations.ts';
import { type Computation, methodOf } from './invoke.ts';
import { BUILT_IN } from '../implementations/index.ts';
import { loadOracles, type OracleSet } from './oracles/load.ts';

const loaded = loadCases(['cases']);
let engines: OracleSet = { oracles: [], absent: [] };
const references = new Map<string, References>();
const opponents = new Map<string, Opponent[]>();

function referencesOf(c: Case, computation: Computation): References {
  const key = `${c.id}/${computation}`;
  let refs = references.get(key);
  if (!refs) { refs = referenceOutputs(c, computation); references.set(key, refs); }
  return refs;
}

beforeAll(async () => { engines = await loadOracles(); });
afterAll(async () => { await Promise.all(engines.oracles.map((o) => o.release())); });

it('every bundled case file loads without errors', () => {
  expect(loaded.errors.map((e) => e.message)).toEqual([]);
  expect(loaded.cases.length).toBeGreaterThan(50);
});

it('finds the always-available oracles and says why any is absent', () => {
  expect(engines.oracles.map((o) => o.name)).toEqual(expect.arrayContaining(['tfjs-wasm', 'tfjs-cpu', 'ort']));
  for (const a of engines.absent) expect(a.reason).toMatch(/\w{6,}/);
});

// Oracles first: each supported case must agree with reference64; their outputs become opponents.
describe('oracles against reference64', () => {
  for (const c of loaded.cases) {
    for (const computation of computationsOf(c)) {
      it(`${c.id} ${computation}`, async () => {
        const agreeing: Opponent[] = [];
        for (const oracle of engines.oracles) {
          if (oracle.unsupported(c, computation) !== undefined) continue;
          const base = { caseId: c.id, subject: oracle.name, kind: 'oracle' as const, computation };
          const { result, outputs } = await checkPrepared(base, c, computation, () => oracle.prepare(c, computation), referencesOf(c, computation));
          await oracle.release();
          expect(result.state, describeFailure(result)).toBe('passed');
          if (outputs) agreeing.push({ name: oracle.name, outputs });
        }
        opponents.set(`${c.id}/${computation}`, agreeing);
      });
    }
  }
});

/**
 * The built-ins that take the bench cases here. naive and views are the seeds' methods, slow by
 * design: on the network-sized bench shapes they take about 90 s of CPU (two calls each), which
 * `npm start` spends checking them; their geometry (pad 1, stride 1 and 2, 1x1, depthwise) is
 * covered here by the small cases.
 */
const TAKES_BENCH_CASES = new Set<string>(['im2col', 'fast']);

// Each built-in runs in its kernel host, as in a real run: the call contract is checked too. The
// tests run concurrently, so the hosts compute side by side (each serves its calls in order).
describe.concurrent.each(BUILT_IN_NAMES)('%s', (name) => {
  const module = BUILT_IN.find((m) => m.name === name);
  if (!module) throw new Error(`no built-in module named ${name}`);
  let impl: RemoteImplementation;
  beforeAll(async () => { impl = await startImplementation(name, DEFAULT_LIMITS); });
  afterAll(async () => { await impl.close(); });
  for (const c of loaded.cases.filter((k) => !k.bench || TAKES_BENCH_CASES.has(name))) {
    // Only the computations the built-in has an op for (indices is optional in the contract).
    for (const computation of computationsOf(c).filter((k) => typeof module[methodOf(c.op, k)] === 'function')) {
      it(`${c.id} ${computation}`, async () => {
        const against = opponents.get(`${c.id}/${computation}`) ?? [];
        const result = await checkImplementation(impl, c, computation, referencesOf(c, computation), against);
        expect(result.state, describeFailure(result)).toBe('passed');
      });
    }
  }
});
