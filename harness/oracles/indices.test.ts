// The indices computation of max pooling (maxPool2dWithIndices): reference64's indices against
// the definition (ONNX's storage orders, the first maximum, NaN rules), the geometry's storage
// order, the loader's rules for it, the check of a kernel in its host (naive passes; each index
// bug of a fixture fails naming the element, the second call included) and ORT's Indices.
import { afterAll, describe, expect, it } from 'vitest';
import { loadCaseText, type PoolCase } from '../cases/load.ts';
import { checkImplementation, checkOutputs, computationsOf, describeFailure, referenceOutputs } from '../check.ts';
import { GeometryError, maxPoolIndex, pool2dGeometry, type PoolAttributes } from '../geometry.ts';
import { DEFAULT_LIMITS, type HostLimits } from '../host/host.ts';
import type { RemoteImplementation } from '../host/remote.ts';
import { startImplementation } from '../implementations.ts';
import { indicesUnrepresentable, methodOf, OUTPUTS, outputShapes } from '../invoke.ts';
import { maxPool2dBackward64, maxPool2dIndices64 } from './reference64.ts';
import { loadOrtOracle, ortUnsupported } from './ort.ts';
import { maxPool2dWithIndices } from '../../implementations/naive/maxpool2d.ts';

function pool(yaml: string): PoolCase[] {
  const { cases, errors } = loadCaseText(yaml, 'inline.yaml');
  expect(errors.map((e) => e.message)).toEqual([]);
  return cases.map((c) => {
    if (c.op !== 'maxpool2d') throw new Error('not a max pool');
    return c;
  });
}

const plane = (values: number[], attrs: PoolAttributes, shape = [1, 1, 2, 4]) => ({
  x: { shape, data: Float32Array.from(values) }, g: pool2dGeometry(shape, attrs),
});

describe('reference64 indices', () => {
  it('are the first maximum in row-major window order, as offsets in either storage order', () => {
    // 2x4, 2x2 windows: every window has a tied 5.
    const v = [1, 5, 5, 2, 5, 0, 5, 5];
    const row = plane(v, { kernel: [2, 2] });
    expect(Array.from(maxPool2dIndices64(row.x, row.g).indices.value)).toEqual([1, 1, 2]);
    const col = plane(v, { kernel: [2, 2], storageOrder: 1 });
    expect(Array.from(maxPool2dIndices64(col.x, col.g).indices.value)).toEqual([2, 2, 4]);
    expect(Array.from(maxPool2dIndices64(col.x, col.g).y.value)).toEqual([5, 5, 5]);
  });
  it('point where maxPool2dBackward64 sends the gradient, in every plane, padding and ceil mode', () => {
    const shape = [2, 3, 7, 5];
    const x = { shape, data: Float32Array.from({ length: 210 }, (_, i) => ((i * 7919) % 13) - 6) };
    const g = pool2dGeometry(shape, { kernel: [3, 2], strides: [2, 3], padding: [1, 0, 2, 1], dilations: [2, 1], ceilMode: true });
    const dy = { shape: [2, 3, g.outHeight, g.outWidth], data: new Float32Array(6 * g.outHeight * g.outWidth) };
    const { indices } = maxPool2dIndices64(x, g);
    for (let o = 0; o < dy.data.length; o++) {
      dy.data.fill(0);
      dy.data[o] = 1;
      const dx = maxPool2dBackward64(x, dy, g).value;
      expect(indices.value[o], `output ${o}`).toBe(dx.indexOf(1));
    }
    expect(indices.absSum.every((s) => s === 0) && indices.rounds.every((n) => n === 0)).toBe(true);
  });
  it('follow the NaN rules: the first NaN wins when NaN propagates, else NaNs lose unless all are NaN', () => {
    const v = [1, Number.NaN, Number.NaN, 2, 3, 0, Number.NaN, Number.NaN];
    const keep = plane(v, { kernel: [2, 2], strides: [1, 2] });
    expect(Array.from(maxPool2dIndices64(keep.x, keep.g).indices.value)).toEqual([1, 2]);
    const skip = plane(v, { kernel: [2, 2], strides: [1, 2], propagateNan: false });
    expect(Array.from(maxPool2dIndices64(skip.x, skip.g).indices.value)).toEqual([4, 3]);
    const allNan = plane([Number.NaN, Number.NaN, Number.NaN, Number.NaN], { kernel: [2, 2], propagateNan: false }, [1, 1, 2, 2]);
    expect(Array.from(maxPool2dIndices64(allNan.x, allNan.g).indices.value)).toEqual([0]);
  });
  it('count the planes before their own: ((n * C + c) * H + h) * W + w, or ((n * C + c) * W + w) * H + h', () => {
    const g0 = pool2dGeometry([2, 3, 4, 5], { kernel: [1, 1] });
    const g1 = pool2dGeometry([2, 3, 4, 5], { kernel: [1, 1], storageOrder: 1 });
    expect(maxPoolIndex(g0, 1, 2, 3, 4)).toBe(((1 * 3 + 2) * 4 + 3) * 5 + 4);
    expect(maxPoolIndex(g1, 1, 2, 3, 4)).toBe(((1 * 3 + 2) * 5 + 4) * 4 + 3);
  });
});

describe('the geometry and the loader', () => {
  it('storageOrder defaults to 0 and must be 0 or 1', () => {
    expect(pool2dGeometry([1, 1, 2, 2], { kernel: [2, 2] }).storageOrder).toBe(0);
    const bad: PoolAttributes = { kernel: [2, 2] };
    Reflect.set(bad, 'storageOrder', 2); // a value only an untyped caller (a host, the API) can pass
    expect(() => pool2dGeometry([1, 1, 2, 2], bad)).toThrow(GeometryError);
  });
  it('indices run with forward (max pooling only), or alone; storageOrder and expected indices are checked', () => {
    const [both, fwd, bwd, only] = pool(`
cases:
  - { name: a, op: maxpool2d, attributes: { kernel: 2 }, inputs: { x: { shape: [1, 1, 3, 3] } } }
  - { name: b, op: maxpool2d, direction: forward, attributes: { kernel: 2, storageOrder: 1 }, inputs: { x: { shape: [1, 1, 3, 3] } } }
  - { name: c, op: maxpool2d, direction: backward, attributes: { kernel: 2 }, inputs: { x: { shape: [1, 1, 3, 3] } } }
  - { name: d, op: maxpool2d, direction: indices, attributes: { kernel: 2 }, inputs: { x: [[[[1, 2], [3, 4]]]] }, expected: { indices: [[[[3]]]] } }
`);
    expect(computationsOf(both)).toEqual(['forward', 'backward', 'indices']);
    expect(computationsOf(fwd)).toEqual(['forward', 'indices']);
    expect(computationsOf(bwd)).toEqual(['backward']);
    expect(computationsOf(only)).toEqual(['indices']);
    expect(fwd.id).toContain(' order=1');
    expect(Array.from(only.expected.indices?.data ?? [])).toEqual([3]);
    expect(methodOf('maxpool2d', 'indices')).toBe('maxPool2dWithIndices');
    expect(OUTPUTS.indices.maxpool2d).toEqual(['y', 'indices']);
    expect(outputShapes(only, 'indices')).toEqual([{ name: 'y', shape: [1, 1, 1, 1] }, { name: 'indices', shape: [1, 1, 1, 1] }]);
    const { errors } = loadCaseText(`
cases:
  - { name: e, op: avgpool2d, direction: indices, attributes: { kernel: 2 }, inputs: { x: { shape: [1, 1, 3, 3] } } }
  - { name: f, op: avgpool2d, attributes: { kernel: 2, storageOrder: 1 }, inputs: { x: { shape: [1, 1, 3, 3] } } }
  - { name: g, op: maxpool2d, direction: backward, attributes: { kernel: 2 }, inputs: { x: { shape: [1, 1, 2, 2] } }, expected: { indices: [[[[0]]]] } }
  - { name: h, op: maxpool2d, attributes: { kernel: 2, storageOrder: 2 }, inputs: { x: { shape: [1, 1, 3, 3] } } }
  - { name: i, op: maxpool2d, direction: indices, attributes: { kernel: 2 }, inputs: { x: { shape: [1, 1, 2, 2] } }, expected: { dx: [[[[0, 0], [0, 0]]]] } }
`, 'inline.yaml');
    const messages = errors.map((e) => e.message).join('\n');
    expect(messages).toContain('cases[0].direction: avgpool2d has no indices computation');
    expect(messages).toContain('cases[1].attributes.storageOrder: not an attribute of avgpool2d');
    expect(messages).toContain('cases[2].expected.indices: a backward case has no output indices');
    expect(messages).toMatch(/cases\[3\]\.attributes\.storageOrder/);
    expect(messages).toContain('cases[4].expected.dx: an indices case has no output dx');
    expect(errors).toHaveLength(5);
  });
  it('past 2^24 elements of x the indices are n/a: float32 would not hold them exactly', () => {
    const [c] = pool(`
cases:
  - { name: a, op: maxpool2d, attributes: { kernel: 2 }, inputs: { x: { shape: [1, 1, 2, 2] } } }
`);
    expect(indicesUnrepresentable(c)).toBeUndefined();
    const big = { ...c, x: { shape: [1, 1, 4097, 4096], data: new Float32Array(4097 * 4096) } };
    expect(indicesUnrepresentable(big)).toMatch(/more than 2\^24/);
    expect(ortUnsupported(big, 'indices', 0)).toMatch(/more than 2\^24/);
  });
});

const CASES = pool(`
cases:
  - name: planes
    op: maxpool2d
    direction: indices
    attributes: { kernel: [2, 2], strides: [2, 1], padding: [1, 0, 1, 1], ceilMode: true }
    inputs: { x: { shape: [2, 3, 7, 5], integers: [-2, 2] } }
    matrix:
      attributes.storageOrder: [0, 1]
  - name: ties
    op: maxpool2d
    direction: indices
    attributes: { kernel: [2, 3] }
    inputs: { x: { shape: [2, 2, 4, 5], integers: [0, 1] } }
  - name: stale
    op: maxpool2d
    direction: indices
    attributes: { kernel: [2, 2], strides: [3, 1] }
    inputs: { x: { shape: [1, 2, 7, 4] } }
  - name: nhwc offsets
    op: maxpool2d
    direction: indices
    attributes: { kernel: [1, 5] }
    inputs: { x: { shape: [1, 3, 2, 6] } }
`);
const [rowMajor, columnMajor, ties, stale, nhwc] = CASES;

describe('a kernel in its host', () => {
  const LIMITS: HostLimits = { ...DEFAULT_LIMITS, callTimeLimitMs: 20_000 };
  const started: RemoteImplementation[] = [];
  afterAll(async () => { await Promise.all(started.map((i) => i.close())); });
  const check = (impl: RemoteImplementation, c: PoolCase) => checkImplementation(impl, c, 'indices', referenceOutputs(c, 'indices'));

  it('naive passes every case, second call included; a kernel without the op is skipped', async () => {
    const naive = await startImplementation('naive', LIMITS);
    started.push(naive);
    for (const c of CASES) {
      const r = await check(naive, c);
      expect(r.state, `${c.id}: ${describeFailure(r)}`).toBe('passed');
      if (r.state === 'passed') expect(r.checks.map((k) => `${k.tensor} ${k.against}`)).toContain('indices reference64 on the second call (same geometry, x negated)');
    }
    const im2col = await startImplementation('im2col', LIMITS);
    started.push(im2col);
    expect(await check(im2col, rowMajor)).toMatchObject({ state: 'skipped', reason: 'im2col does not implement maxPool2dWithIndices' });
  });

  it('each index bug fails, naming the element', async () => {
    const bugs = await startImplementation('harness/fixtures/indices-bugs.ts', LIMITS);
    started.push(bugs);
    expect((await check(bugs, rowMajor)).state).toBe('passed');
    const wrongOrder = describeFailure(await check(bugs, columnMajor));
    expect(wrongOrder).toContain('indices vs reference64:');
    expect(wrongOrder).toMatch(/indices\(n, c, y, x\) = \(\d+, \d+, \d+, \d+\): got \d+, want \d+/);
    const last = await check(bugs, ties);
    expect(last.state).toBe('failed');
    if (last.state === 'failed') {
      // y is right: only the indices differ.
      expect(last.checks.filter((k) => !k.comparison.ok).map((k) => k.tensor)).toEqual(['indices']);
    }
    expect(describeFailure(last)).toMatch(/indices\(n, c, y, x\) = \(\d+, \d+, \d+, \d+\): got \d+, want \d+/);
    const second = describeFailure(await check(bugs, stale));
    expect(second).toContain('indices vs reference64 on the second call (same geometry, x negated):');
    expect(second).not.toContain('indices vs reference64:');
    expect(describeFailure(await check(bugs, nhwc))).toContain('indices vs reference64:');
  });
});

describe('ort', async () => {
  const { oracles } = await loadOrtOracle();
  const ort = oracles[0];
  afterAll(async () => { await ort?.release(); });
  it.skipIf(!ort)("MaxPool's Indices (storage_order 0 and 1) agree with reference64 exactly", async () => {
    if (!ort) return;
    for (const c of [rowMajor, columnMajor, ties, stale, nhwc]) {
      expect(ort.unsupported(c, 'indices'), c.id).toBeUndefined();
      const p = await ort.prepare(c, 'indices');
      const got = p.collect(await p.call());
      const checks = checkOutputs(c, 'indices', got, referenceOutputs(c, 'indices'));
      expect(checks.map((k) => k.tensor)).toEqual(['y', 'indices']);
      expect(checks.filter((k) => !k.comparison.ok), c.id).toEqual([]);
    }
  });
  it('declares a NaN off the first tap n/a, as for the gradient (the same scalar loop)', () => {
    const [c] = pool(`
cases:
  - { name: n, op: maxpool2d, direction: indices, attributes: { kernel: 2 }, inputs: { x: [[[[1, .nan], [2, 3]]]] } }
`);
    expect(ortUnsupported(c, 'indices', 16)).toMatch(/first tap/);
  });
});

it('naive computes the same indices as reference64 in-process too', () => {
  for (const c of CASES) {
    const { indices } = maxPool2dWithIndices(c.x, c.geometry);
    expect(Array.from(indices.data), c.id).toEqual(Array.from(referenceOutputs(c, 'indices').indices?.value ?? []));
  }
});
