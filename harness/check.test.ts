// A deliberately wrong kernel must fail with a message naming the case and the element.
import { afterAll, describe, expect, it } from 'vitest';
import { loadCaseText } from './cases/load.ts';
import { checkImplementation, describeFailure, referenceOutputs } from './check.ts';
import { DEFAULT_LIMITS } from './host/host.ts';
import type { RemoteImplementation } from './host/remote.ts';
import { startImplementation } from './implementations.ts';

const CASE = `
cases:
  - name: strided
    op: conv2d
    attributes: { strides: 2 }
    inputs:
      x: { shape: [2, 3, 9, 8] }
      w: { shape: [4, 3, 3, 3] }
`;

const hosts: RemoteImplementation[] = [];
async function start(spec: string): Promise<RemoteImplementation> {
  const impl = await startImplementation(spec, DEFAULT_LIMITS);
  hosts.push(impl);
  return impl;
}
afterAll(async () => { await Promise.all(hosts.map((h) => h.close())); });

describe('a wrong kernel', () => {
  const { cases, errors } = loadCaseText(CASE, 'inline.yaml');
  const c = cases[0];

  it('stride ignored in the weight gradient fails on dw only, naming case, tensor and element', async () => {
    expect(errors).toEqual([]);
    const result = await checkImplementation(await start('harness/fixtures/stride-blind.ts'), c, 'backward', referenceOutputs(c, 'backward'));
    expect(result.state).toBe('failed');
    if (result.state !== 'failed') return;
    const failing = result.checks.filter((k) => !k.comparison.ok).map((k) => k.tensor);
    expect(failing).toEqual(['dw']);
    const message = describeFailure(result);
    expect(message).toContain('stride-blind on "strided conv2d x=[2,3,9,8] w=[4,3,3,3] s=2 p=VALID nobias" backward');
    expect(message).toMatch(/dw\(o, i, ky, kx\) = \(\d, \d, \d, \d\): got -?[\d.e-]+, want -?[\d.e-]+, error .*budget .* ulp/);
  });

  it('the same case passes with the right kernel, second call included', async () => {
    const result = await checkImplementation(await start('naive'), c, 'backward', referenceOutputs(c, 'backward'));
    expect(result.state, describeFailure(result)).toBe('passed');
    if (result.state === 'passed') expect(result.checks.map((k) => k.against)).toContain('reference64 on the second call (same geometry, x times 2, w times 4, dy negated)');
  });

  it('a missing op is skipped with the reason', async () => {
    const result = await checkImplementation(await start('harness/fixtures/stride-blind.ts'), c, 'forward', referenceOutputs(c, 'forward'));
    expect(result).toMatchObject({ state: 'skipped', reason: 'stride-blind does not implement conv2d' });
  });
});
