// Kernels that really misbehave, each in its own host: every misbehaviour is a named result, the
// host is restarted, and the next call (or the next kernel) is unaffected.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processesWith } from './proc.test-support.ts';
import naive from '../../implementations/naive/index.ts';
import { loadCaseText } from '../cases/load.ts';
import { checkImplementation, CONTRACT, describeFailure, referenceOutputs } from '../check.ts';
import { startImplementation } from '../implementations.ts';
import { DEFAULT_LIMITS, GIB, type HostLimits } from './host.ts';
import type { RemoteImplementation } from './remote.ts';

const LIMITS: HostLimits = { ...DEFAULT_LIMITS, callTimeLimitMs: 3000, memoryCapBytes: GIB / 2 };
const { cases, errors } = loadCaseText(`
cases:
  - name: conv
    op: conv2d
    attributes: { strides: 2, padding: 1 }
    inputs: { x: { shape: [2, 3, 9, 8] }, w: { shape: [4, 3, 3, 3] }, bias: { shape: [4] } }
  - name: pool
    op: maxpool2d
    attributes: { kernel: 2, strides: 2 }
    inputs: { x: { shape: [2, 3, 6, 4] } }
  - name: avg
    op: avgpool2d
    direction: forward
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 2, 4, 4] } }
`, 'inline.yaml');
const [conv, pool, avg] = cases;

const started: RemoteImplementation[] = [];
async function host(fixture: string, limits = LIMITS): Promise<RemoteImplementation> {
  const impl = await startImplementation(`harness/fixtures/hostile/${fixture}.ts`, limits);
  started.push(impl);
  return impl;
}
afterAll(async () => { await Promise.all(started.map((i) => i.close())); });
/**
 * One host for the tests of a fixture that keeps serving after each of them (a failed contract or a
 * thrown value does not end it): each test's calls are its own; the host's start (about 0.8 s of
 * CPU under tsx) is paid once.
 */
const shared = new Map<string, Promise<RemoteImplementation>>();
function sharedHost(fixture: string): Promise<RemoteImplementation> {
  let impl = shared.get(fixture);
  if (!impl) { impl = host(fixture); shared.set(fixture, impl); }
  return impl;
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

const check = (impl: RemoteImplementation, c: (typeof cases)[number], computation: 'forward' | 'backward') =>
  checkImplementation(impl, c, computation, referenceOutputs(c, computation));

it('the inline cases load', () => { expect(errors).toEqual([]); });

describe('a call that never returns', () => {
  it('a synchronous infinite loop is "timed out after 3 s", and the host serves the next call', async () => {
    const impl = await host('loops');
    const t0 = Date.now();
    const r = await check(impl, conv, 'forward');
    expect(r).toMatchObject({ state: 'errored', error: 'timed out after 3 s' });
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(await check(impl, pool, 'forward')).toMatchObject({ state: 'passed' });
    expect(impl.starts).toBe(2);
  });

  it('a Promise that never settles is timed out the same way', async () => {
    const impl = await host('never-settles');
    expect(await check(impl, conv, 'forward')).toMatchObject({ state: 'errored', error: 'timed out after 3 s' });
  });

  it('a case may set its own time limit (timeLimitSeconds)', async () => {
    const impl = await host('loops');
    expect(await check(impl, { ...conv, timeLimitMs: 1000 }, 'forward')).toMatchObject({ state: 'errored', error: 'timed out after 1 s' });
  });
});

describe('what a kernel starts', () => {
  it('processes a kernel starts die with its host: on a time-out, and when the host is closed', async () => {
    process.env.CONVBENCH_TEST_MARKER = '313.75';
    const impl = await host('spawns');
    expect(await check(impl, pool, 'forward')).toMatchObject({ state: 'passed' });
    expect(await check(impl, conv, 'forward')).toMatchObject({ state: 'errored', error: 'timed out after 3 s' });
    await settle(200);
    expect(processesWith('sleep 313.75')).toEqual([]);
    expect(await check(impl, pool, 'forward')).toMatchObject({ state: 'passed' });
    expect(processesWith('sleep 313.75').length).toBe(2); // one per call: the check and its second call
    await impl.close();
    await settle(200);
    expect(processesWith('sleep 313.75')).toEqual([]);
  });

  it("a child's writes to the inherited stdout do not reach the protocol", async () => {
    const impl = await host('echoes');
    expect(await check(impl, pool, 'forward')).toMatchObject({ state: 'passed' });
  });
});

describe('a host that ends', () => {
  it('a host that exits between calls is started again for the next call, and close() returns', async () => {
    const impl = await host('exits-soon');
    await settle(600);
    expect(await check(impl, pool, 'forward')).toMatchObject({ state: 'passed' });
    await settle(600);
    await impl.close();
    expect(impl.starts).toBeGreaterThanOrEqual(2);
  });

  it("a reply that arrived in time is not timed out because the harness's own thread was busy", async () => {
    const impl = await startImplementation('naive', { ...LIMITS, callTimeLimitMs: 1000 });
    started.push(impl);
    const pending = impl.call(pool, 'forward');
    const until = Date.now() + 2500;
    while (Date.now() < until) { /* this thread busy, as with reference64 on a big case */ }
    expect((await pending).kind).toBe('returned');
  });

  it('process.exit(0) during a call is "exited with code 0 during the call"; the wrong gradient after it still fails', async () => {
    const impl = await host('exits');
    expect(await check(impl, conv, 'forward')).toMatchObject({ state: 'errored', error: expect.stringMatching(/^exited with code 0 during the call/) });
    expect(await check(impl, pool, 'forward')).toMatchObject({ state: 'passed' });
    expect(await check(impl, pool, 'backward')).toMatchObject({ state: 'failed' });
  });

  it('typed arrays past the memory cap are "out of memory (cap 512 MiB)"', async () => {
    const impl = await host('hoards');
    const r = await check(impl, conv, 'forward');
    expect(r).toMatchObject({ state: 'errored', error: 'out of memory (cap 512 MiB)' });
  });
});

describe('thrown values of any kind', () => {
  it('an object with no prototype is described, not thrown again', async () => {
    const impl = await sharedHost('throws-oddly');
    expect(await check(impl, conv, 'forward')).toMatchObject({ state: 'errored', error: 'threw an object with no prototype' });
  });

  it('a Proxy whose every trap throws is described', async () => {
    const impl = await sharedHost('throws-oddly');
    const r = await check(impl, pool, 'forward');
    expect(r.state).toBe('errored');
    if (r.state === 'errored') expect(r.error).toMatch(/^threw /);
  });

  it("an Error keeps the kernel's first stack frames", async () => {
    const impl = await sharedHost('throws-oddly');
    const r = await check(impl, avg, 'forward');
    expect(r).toMatchObject({ state: 'errored', error: 'RangeError: index 99 out of range' });
    if (r.state !== 'errored') return;
    expect(r.stack?.[0]).toMatch(/deepInside .*throws-oddly\.ts/);
    expect(describeFailure(r)).toContain('deepInside');
  });
});

describe('the call contract', () => {
  it('a write into x fails that kernel, naming the tensor and the first changed element', async () => {
    const impl = await sharedHost('writes-input');
    const r = await check(impl, conv, 'forward');
    expect(r.state).toBe('failed');
    const message = describeFailure(r);
    expect(message).toContain(`x vs ${CONTRACT}: the kernel wrote into its input x: x(0, 0, 0, 5) (n, c, y, x) was`);
    expect(message).toContain('is now 7');
  });

  it('a write into dy is caught in the backward', async () => {
    const impl = await sharedHost('writes-input');
    expect(describeFailure(await check(impl, conv, 'backward'))).toMatch(/the kernel wrote into its input dy: dy\(0, 0, 0, 0\)/);
  });

  it("what a kernel wrote never reaches the harness's copy of the case", async () => {
    const before = conv.x.data.slice();
    const impl = await sharedHost('writes-input');
    await check(impl, conv, 'forward');
    expect(conv.x.data).toEqual(before);
    // A correct kernel run after it on the same case passes.
    const right = await startImplementation('naive', LIMITS);
    started.push(right);
    expect(await check(right, conv, 'forward')).toMatchObject({ state: 'passed' });
  });

  it('a result kept between calls (a cache keyed by the geometry) fails the second call', async () => {
    const impl = await host('caches');
    const r = await check(impl, conv, 'forward');
    expect(r.state).toBe('failed');
    if (r.state !== 'failed') return;
    const failing = r.checks.filter((k) => !k.comparison.ok);
    expect(failing.map((k) => k.against)).toEqual(['reference64 on the second call (same geometry, x negated, w times 2, bias times -2)']);
    expect(failing[0].comparison.failures).toBeGreaterThan(0);
  });

  it('weights packed once per shape and reused fail the second call, whose weights differ', async () => {
    const impl = await host('packs-weights');
    const r = await check(impl, conv, 'forward');
    expect(r.state).toBe('failed');
    if (r.state === 'failed') expect(r.checks.filter((k) => !k.comparison.ok).map((k) => k.against)).toEqual([expect.stringMatching(/^reference64 on the second call/)]);
  });

  it('max-pool winners kept from an earlier forward on the same geometry fail the backward', async () => {
    const impl = await host('keeps-argmax');
    expect(await check(impl, pool, 'forward')).toMatchObject({ state: 'passed' });
    expect(await check(impl, pool, 'backward')).toMatchObject({ state: 'failed' });
  });

  it('a claimed shape of 10^12 elements over 4 values is checked against the data before anything reads it', async () => {
    const impl = await sharedHost('lies-about-shape');
    const message = describeFailure(await check(impl, conv, 'forward'));
    expect(message).toContain('y claims shape [1000000, 1000000, 1, 1] (1000000000000 elements) but holds 4 values (expected [2, 5, 4, 4])');
  });

  it('an NHWC output in the NCHW shape fails, and the message gives the shape in NHWC', async () => {
    const impl = await sharedHost('lies-about-shape');
    expect(describeFailure(await check(impl, pool, 'forward'))).toContain('y has shape [2, 3, 3, 2], expected [2, 3, 2, 3]');
  });

  it('an output that is its input fails as aliasing', async () => {
    const impl = await sharedHost('lies-about-shape');
    expect(describeFailure(await check(impl, pool, 'backward'))).toContain('dx vs the call contract: dx shares its buffer with input x');
  });

  it("a kernel's prints do not corrupt the protocol", async () => {
    const impl = await host('prints');
    expect(await check(impl, pool, 'forward')).toMatchObject({ state: 'passed' });
  });
});

describe('loading', () => {
  it('a module that is not an implementation is a load error naming the problem', async () => {
    await expect(startImplementation('harness/fixtures/not-an-implementation.ts', LIMITS)).rejects.toThrow(/not-an-implementation\.ts: not an implementation: .*layout/);
  });

  it('a .ts kernel outside any package (no "type": "module") loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convbench-plain-'));
    const file = join(dir, 'plain.ts');
    writeFileSync(file, `export default { name: 'plain', layout: 'NCHW', avgPool2d: (x: { shape: number[]; data: Float32Array }) => x };\n`);
    const impl = await startImplementation(file, LIMITS);
    started.push(impl);
    expect(impl.name).toBe('plain');
  });

  it('a command that is not a host is a load error', async () => {
    await expect(startImplementation('cmd:node -e "console.log(42)"', LIMITS)).rejects.toThrow('not an implementation: protocol error before its handshake: not a protocol message: "42"');
  });

  it('the naive kernels in the host give what they give in this process', async () => {
    const impl = await startImplementation('naive', LIMITS);
    started.push(impl);
    if (conv.op !== 'conv2d') throw new Error('the first inline case is a conv');
    const r = await impl.call(conv, 'forward');
    expect(r.kind).toBe('returned');
    if (r.kind === 'returned') expect(r.outputs.y?.data).toEqual(naive.conv2d(conv.x, conv.w, conv.bias, conv.geometry).data);
  });
});
