// Kernels that declare their limits (supports(): n/a with the reason, never called, never timed),
// supports() that misbehaves (the kernel's error), and op names that are nearly right (a load error
// that suggests the right one), through the real hosts and the command line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { implementationEngine, timeComputation } from '../bench.ts';
import { loadCaseText } from '../cases/load.ts';
import { checkImplementation, referenceOutputs } from '../check.ts';
import { DEFAULT_GATE, measurePair } from '../gate.ts';
import { defineImplementation, implementationProblem, nearMissOf } from '../implementation.ts';
import { startImplementation } from '../implementations.ts';
import type { Computation } from '../invoke.ts';
import { parseReport } from '../report/json.ts';
import type { Tensor } from '../tensor.ts';
import { DEFAULT_LIMITS, type HostLimits } from './host.ts';
import type { RemoteImplementation } from './remote.ts';

const LIMITS: HostLimits = { ...DEFAULT_LIMITS, callTimeLimitMs: 2000 };
const CASES = `cases:
  - name: conv
    op: conv2d
    bench: true
    attributes: { padding: 1 }
    inputs: { x: { shape: [1, 4, 6, 5] }, w: { shape: [4, 4, 3, 3] }, bias: { shape: [4] } }
  - name: grouped
    op: conv2d
    bench: true
    attributes: { padding: 1, groups: 2 }
    inputs: { x: { shape: [1, 4, 6, 5] }, w: { shape: [4, 2, 3, 3] } }
  - name: pool
    op: maxpool2d
    bench: true
    attributes: { kernel: 2, strides: 2 }
    inputs: { x: { shape: [1, 2, 6, 4] } }
  - name: avg
    op: avgpool2d
    bench: true
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 2, 4, 4] } }
`;
const { cases, errors } = loadCaseText(CASES, 'inline.yaml');
const [conv, grouped, pool, avg] = cases;
type TestCase = (typeof cases)[number];

const started: RemoteImplementation[] = [];
async function host(spec: string, limits = LIMITS): Promise<RemoteImplementation> {
  const impl = await startImplementation(spec, limits);
  started.push(impl);
  return impl;
}
afterAll(async () => { await Promise.all(started.map((i) => i.close())); });

const check = (impl: RemoteImplementation, c: TestCase, computation: Computation) => checkImplementation(impl, c, computation, referenceOutputs(c, computation));
const QUICK = { timeMs: 10, minIterations: 2, slowMs: 2000 };

it('the inline cases load', () => { expect(errors).toEqual([]); });

describe('near-miss op names', () => {
  const y: Tensor = { shape: [], data: new Float32Array(0) };

  it('defineImplementation rejects a misspelt op when compiled (tsc), and loading rejects it with the right name', () => {
    // @ts-expect-error -- "maxpool2d" is not a property of Implementation: the excess-property check catches it
    const misspelt = defineImplementation({ name: 'x', layout: 'NCHW', maxpool2d: () => y });
    expect(implementationProblem(misspelt)).toBe('"maxpool2d" is not a contract op; did you mean "maxPool2d"?');
  });

  it.each([
    ['maxpool2d', 'maxPool2d'], ['Conv2d', 'conv2d'], ['conv2DBackward', 'conv2dBackward'],
    ['avgPool2dBackwards', 'avgPool2dBackward'], ['maxPool2DBackward', 'maxPool2dBackward'], ['max_pool2d', 'maxPool2d'],
  ])('%s is a near miss of %s', (name, op) => {
    expect(nearMissOf(name)).toBe(op);
    expect(implementationProblem({ name: 'x', layout: 'NCHW', conv2d: () => y, [name]: () => y })).toBe(`"${name}" is not a contract op; did you mean "${op}"?`);
  });

  it('other properties stay allowed: helpers, a description, supports, a near miss that is not a function', () => {
    for (const name of ['conv2d', 'maxPool2dBackward', 'supports', 'helper', 'description', 'pool', 'conv3x3', 'im2col', 'constructor', 'conv1d', 'conv3d', 'maxPool3d', 'avgPool1d', 'maxPool', 'conv2']) expect(nearMissOf(name)).toBeUndefined();
    expect(implementationProblem({ name: 'x', layout: 'NCHW', conv2d: () => y, helper: () => 1, description: 'mine', maxpool2d: 'a note', supports: () => true })).toBeUndefined();
  });

  it("a class's methods count too, and supports must be a function", () => {
    class Kernels { name = 'k'; layout = 'NCHW'; conv2d() { return y; } avgpool2d() { return y; } }
    expect(implementationProblem(new Kernels())).toBe('"avgpool2d" is not a contract op; did you mean "avgPool2d"?');
    expect(implementationProblem({ name: 'x', layout: 'NCHW', conv2d: () => y, supports: true })).toBe('"supports" is not a function');
  });

  it('a module with one does not load, naming it and the right name', async () => {
    await expect(startImplementation('harness/fixtures/near-miss.ts', LIMITS))
      .rejects.toThrow('near-miss.ts: not an implementation: "maxpool2d" is not a contract op; did you mean "maxPool2d"?');
  });
});

describe('supports() in the Node host', () => {
  it('what it declines is n/a with its reason (one geometry, one direction); the rest pass', async () => {
    const impl = await host('harness/fixtures/declines.ts');
    expect(impl.hello.version).toBe(2);
    expect(await impl.supports(grouped, 'forward')).toEqual({ kind: 'declined', reason: 'groups > 1 is not supported' });
    expect(await impl.supports(conv, 'forward')).toEqual({ kind: 'supported' });
    const states = await Promise.all(([[conv, 'forward'], [conv, 'backward'], [grouped, 'forward'], [grouped, 'backward'], [pool, 'forward'], [pool, 'backward']] as const)
      .map(async ([c, k]) => check(impl, c, k)));
    expect(states.map((r) => (r.state === 'n/a' ? `n/a: ${r.reason}` : r.state))).toEqual([
      'passed', 'passed', 'n/a: groups > 1 is not supported', 'n/a: groups > 1 is not supported', 'passed', 'n/a: no max-pool gradient yet',
    ]);
    // The fixture's kernels throw if called on what was declined: a call is declined by the host too.
    expect(await impl.call(grouped, 'forward')).toEqual({ kind: 'declined', reason: 'groups > 1 is not supported' });
  });

  it('bench and gate: a declined computation is n/a with its reason, and not timed', async () => {
    const impl = await host('harness/fixtures/declines.ts');
    const engine = implementationEngine(impl);
    expect(await timeComputation(grouped, 'backward', [engine], QUICK)).toMatchObject([{ engine: 'declines', state: 'n/a', reason: 'groups > 1 is not supported' }]);
    expect(await timeComputation(conv, 'forward', [engine], QUICK)).toMatchObject([{ engine: 'declines', state: 'measured' }]);
    const pair = { mode: 'compare' as const, c: pool, computation: 'backward' as const, candidate: engine, reference: engine };
    expect(await measurePair(pair, DEFAULT_GATE)).toEqual({ reason: 'no max-pool gradient yet' });
  });

  it('a supports() that throws, answers false or "", or hangs is an error; an async reason is a decline', async () => {
    const impl = await host('harness/fixtures/supports-misbehaves.ts');
    const threw = await check(impl, conv, 'forward');
    expect(threw).toMatchObject({ state: 'errored', error: 'supports(): Error: supports blew up', stack: expect.arrayContaining([expect.stringMatching(/supports-misbehaves\.ts/)]) });
    expect(await check(impl, conv, 'backward')).toMatchObject({ state: 'errored', error: 'supports(): returned false; it must return true or a non-empty reason string' });
    expect(await check(impl, pool, 'backward')).toMatchObject({ state: 'errored', error: 'supports(): returned an empty string; it must return true or a non-empty reason string' });
    expect(await check(impl, avg, 'forward')).toMatchObject({ state: 'n/a', reason: 'declined after a while' });
    expect(await timeComputation(conv, 'forward', [implementationEngine(impl)], QUICK)).toMatchObject([{ state: 'errored', error: 'supports-misbehaves: supports(): Error: supports blew up' }]);
    expect(await check(impl, pool, 'forward')).toMatchObject({ state: 'errored', error: 'supports(): timed out after 2 s' });
    // The hung host was killed; the next computation starts a new one.
    expect(await check(impl, avg, 'forward')).toMatchObject({ state: 'n/a' });
    expect(impl.starts).toBe(2);
  });
});

describe('a host of protocol version 1', () => {
  it('is not asked supports(); a decline in reply to the call or timing is n/a all the same', async () => {
    const impl = await host('cmd:node harness/fixtures/v1-host.mjs');
    expect(impl.hello.version).toBe(1);
    expect(await check(impl, conv, 'forward')).toMatchObject({ state: 'n/a', reason: 'a call request' });
    const engine = implementationEngine(impl);
    expect(await timeComputation(conv, 'forward', [engine], QUICK)).toMatchObject([{ state: 'n/a', reason: 'a call request' }]);
    const pair = { mode: 'compare' as const, c: pool, computation: 'forward' as const, candidate: engine, reference: engine };
    expect(await measurePair(pair, DEFAULT_GATE)).toEqual({ reason: 'a time request' });
  });
});

describe('through the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convbench-declines-'));
  const file = join(dir, 'cases.yaml');
  writeFileSync(file, CASES);
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['bin/convbench.js', 'run', '--cases', file, '--oracle', 'none', '--reports-dir', dir, '--time-limit', '5', ...args],
      { encoding: 'utf8', env: { ...process.env, CI: 'true' }, timeout: 120_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const outcome = (stdout: string) => parseReport(stdout, 'stdout').results.map((r) => `${r.caseId.split(' ')[0]} ${r.computation}: ${r.state === 'n/a' ? `n/a: ${r.reason}` : r.state}`);

  it('declined computations are n/a with the reason, in the results and the timings; the rest pass; exit 0', () => {
    const r = cli('--impl', 'harness/fixtures/declines.ts', '--bench-time', '10', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(outcome(r.stdout)).toEqual([
      'conv forward: passed', 'conv backward: passed',
      'grouped forward: n/a: groups > 1 is not supported', 'grouped backward: n/a: groups > 1 is not supported',
      'pool forward: passed', 'pool backward: n/a: no max-pool gradient yet', 'pool indices: skipped',
      'avg forward: skipped', 'avg backward: skipped',
    ]);
    const timings = parseReport(r.stdout, 'stdout').timings.map((t) => `${t.caseId.split(' ')[0]} ${t.computation}: ${t.state === 'n/a' ? `n/a: ${t.reason}` : t.state}`);
    expect(timings).toEqual(expect.arrayContaining(['conv forward: measured', 'grouped forward: n/a: groups > 1 is not supported', 'pool backward: n/a: no max-pool gradient yet']));
  });

  it('a run in which every computation was declined checked nothing: exit 2', () => {
    const r = cli('--impl', 'harness/fixtures/declines.ts', '--case', 'grouped*', '--no-bench', '--json');
    expect(r.code, r.stderr).toBe(2);
    expect(outcome(r.stdout)).toEqual(['grouped forward: n/a: groups > 1 is not supported', 'grouped backward: n/a: groups > 1 is not supported']);
  });

  it('a supports() that throws is an errored result: exit 1', () => {
    const r = cli('--impl', 'harness/fixtures/supports-misbehaves.ts', '--case', 'conv*', '--no-bench', '--json');
    expect(r.code, r.stderr).toBe(1);
    expect(parseReport(r.stdout, 'stdout').results).toMatchObject([{ state: 'errored', error: 'supports(): Error: supports blew up' }, { state: 'errored' }]);
  });

  it('a module with a near-miss op name does not load: exit 2, with the right name', () => {
    const r = cli('--impl', 'harness/fixtures/near-miss.ts', '--no-bench');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"maxpool2d" is not a contract op; did you mean "maxPool2d"?');
  });

  it("the Python adapter's supports(): n/a with the reason, the rest pass, exit 0", () => {
    const r = cli('--impl', 'cmd:python3 harness/fixtures/declines.py', '--no-bench', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(outcome(r.stdout)).toEqual([
      'conv forward: passed', 'conv backward: passed',
      'grouped forward: n/a: groups > 1 is not supported', 'grouped backward: n/a: groups > 1 is not supported',
      'pool forward: skipped', 'pool backward: skipped', 'pool indices: skipped',
      'avg forward: passed', 'avg backward: n/a: no average-pool gradient yet',
    ]);
  });

  it('a Python kernel given to serve() under a near-miss keyword does not start: exit 2, with the right name', () => {
    const r = cli('--impl', 'cmd:python3 harness/fixtures/near-miss.py', '--no-bench');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"avg_pool2d_backwards" is not a kernel of serve(); did you mean "avg_pool2d_backward"?');
  });
});
