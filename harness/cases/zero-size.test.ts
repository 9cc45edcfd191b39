// Zero-size batch and channel dimensions end to end (cases/README.md "Zero-size batch and
// channels"): the loader, the geometry, reference64's outputs, the comparisons, the second call,
// the protocol's zero-length frames and the built-in kernels in their hosts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkImplementation, computationsOf, referenceOutputs } from '../check.ts';
import { conv2dGeometry, GeometryError, pool2dGeometry, zeroSizeDimensions } from '../geometry.ts';
import { DEFAULT_LIMITS } from '../host/host.ts';
import { encode, MessageReader } from '../host/protocol.ts';
import type { RemoteImplementation } from '../host/remote.ts';
import { startImplementation } from '../implementations.ts';
import { mirrorOf } from '../mirror.ts';
import { type Case, loadCases, loadCaseText } from './load.ts';

const FILE = 'cases/shapes/zero-size.yaml';

function one(yaml: string): Case {
  const { cases, errors } = loadCaseText(yaml, 'inline.yaml');
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(cases).toHaveLength(1);
  return cases[0];
}

function errorsOf(yaml: string): string[] {
  return loadCaseText(yaml, 'bad.yaml').errors.map((e) => e.message);
}

describe('geometry with zero-size batch or channels', () => {
  it('takes N = 0, C = 0 and O = 0 (groups still dividing), with 0 FLOPs', () => {
    const batch = conv2dGeometry([0, 3, 5, 5], [4, 3, 3, 3], { padding: [1, 1, 1, 1] });
    expect([batch.outHeight, batch.outWidth, batch.forwardFlops, batch.backwardFlops, batch.forwardBytes]).toEqual([5, 5, 0, 0, 0]);
    expect(zeroSizeDimensions(batch)).toEqual(['batch']);
    const noInput = conv2dGeometry([2, 0, 5, 5], [6, 0, 3, 3], { groups: 3 });
    // y (the bias) is still written: 2 * 6 * 3 * 3 floats.
    expect([noInput.forwardFlops, noInput.forwardBytes]).toEqual([0, 4 * 2 * 6 * 3 * 3]);
    expect(zeroSizeDimensions(noInput)).toEqual(['input channels']);
    const noOutput = conv2dGeometry([2, 4, 5, 5], [0, 2, 3, 3], { groups: 2 });
    expect([noOutput.forwardFlops, noOutput.forwardBytes]).toEqual([0, 0]);
    expect(zeroSizeDimensions(noOutput)).toEqual(['output channels']);
    expect(zeroSizeDimensions(conv2dGeometry([1, 2, 3, 3], [1, 2, 2, 2], {}))).toEqual([]);
    const pool = pool2dGeometry([2, 0, 6, 5], { kernel: [3, 3] });
    expect([pool.outHeight, pool.forwardFlops, pool.forwardBytes, pool.backwardBytes]).toEqual([4, 0, 0, 0]);
    expect(zeroSizeDimensions(pool)).toEqual(['channels']);
    expect(zeroSizeDimensions(pool2dGeometry([0, 0, 2, 2], { kernel: [1, 1] }))).toEqual(['batch', 'channels']);
  });

  it('still rejects groups that do not divide a non-zero channel count, and weights that do not match', () => {
    expect(() => conv2dGeometry([1, 0, 4, 4], [3, 0, 2, 2], { groups: 2 })).toThrowError(/groups 2 does not divide the 3 output channels/);
    expect(() => conv2dGeometry([1, 0, 4, 4], [2, 1, 2, 2], {})).toThrowError(/w has 1 input channels per group; 0 channels/);
    expect(() => conv2dGeometry([1, 2, 4, 4], [0, 0, 2, 2], {})).toThrowError(/w has 0 input channels per group; 2 channels/);
  });

  it('rejects a height or width of 0, on x, naming the rule', () => {
    for (const shape of [[1, 1, 0, 4], [1, 1, 4, 0]]) {
      try {
        conv2dGeometry(shape, [1, 1, 1, 1], {});
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(GeometryError);
        expect((e as GeometryError).field).toBe('x');
        expect((e as GeometryError).message).toMatch(/x (height|width) must be an integer >= 1, got 0 \(only the batch and channel dimensions may be 0/);
      }
    }
    expect(() => pool2dGeometry([0, 1, 0, 3], { kernel: [1, 1] })).toThrowError(/x height must be an integer >= 1, got 0/);
    expect(() => pool2dGeometry([-1, 1, 3, 3], { kernel: [1, 1] })).toThrowError(/x batch must be an integer >= 0, got -1/);
    expect(() => conv2dGeometry([1, 1, 3, 3], [1, 1, 0, 1], {})).toThrowError(/kernel height must be an integer >= 1/);
  });
});

describe('loading zero-size cases', () => {
  it(`${FILE} loads: conv N, C, O = 0 (grouped too) and pools N, C = 0, in both layouts`, () => {
    const { cases, errors } = loadCases([FILE]);
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(cases.every((c) => zeroSizeDimensions(c.geometry).length > 0)).toBe(true);
    expect(cases.every((c) => !c.bench)).toBe(true);
    const kinds = new Set(cases.flatMap((c) => zeroSizeDimensions(c.geometry).map((d) => `${c.op} ${c.layout} ${d}${'groups' in c.geometry && c.geometry.groups > 1 ? ' grouped' : ''}`)));
    for (const k of [
      'conv2d NCHW batch', 'conv2d NCHW input channels', 'conv2d NCHW output channels', 'conv2d NCHW batch grouped',
      'conv2d NCHW input channels grouped', 'conv2d NCHW output channels grouped', 'conv2d NHWC batch', 'conv2d NHWC input channels',
      'conv2d NHWC output channels', 'maxpool2d NCHW batch', 'maxpool2d NCHW channels', 'avgpool2d NCHW batch', 'avgpool2d NCHW channels',
      'maxpool2d NHWC batch', 'avgpool2d NHWC channels',
    ]) expect(kinds, k).toContain(k);
  });

  it('converts NHWC / HWIO shapes with a 0 to NCHW / OIHW', () => {
    const c = one(`
cases:
  - name: t
    op: conv2d
    layout: NHWC
    inputs: { x: { shape: [2, 4, 5, 0] }, w: { shape: [3, 3, 0, 6] }, bias: { shape: [6] } }
`);
    expect(c.x.shape).toEqual([2, 0, 4, 5]);
    expect(c.op === 'conv2d' && c.w.shape).toEqual([6, 0, 3, 3]);
    expect(c.dy.shape).toEqual([2, 6, 2, 3]);
    expect(c.id).toBe('t conv2d x=[2,0,4,5] w=[6,0,3,3] s=1 p=VALID');
  });

  it('reads an empty list as an axis of size 0 (numpy\'s rule), for literals and values', () => {
    const c = one(`
cases:
  - name: t
    op: conv2d
    inputs: { x: { shape: [1, 2, 3, 3] }, w: { shape: [0, 2, 1, 1], values: [] }, bias: [] }
    expected: { y: { shape: [1, 0, 3, 3], values: [] } }
`);
    expect(c.op === 'conv2d' && [c.w.shape, c.bias?.shape, c.expected.y?.shape]).toEqual([[0, 2, 1, 1], [0], [1, 0, 3, 3]]);
    expect(errorsOf(`
cases:
  - name: t
    op: maxpool2d
    attributes: { kernel: 1 }
    inputs: { x: [[[[], []]]] }
`)).toEqual(['bad.yaml:6: cases[0].inputs.x: x width must be an integer >= 1, got 0 (only the batch and channel dimensions may be 0: there would be no output windows)']);
    expect(errorsOf(`
cases:
  - name: t
    op: maxpool2d
    attributes: { kernel: 1 }
    inputs: { x: [[[[1], []]]] }
`)).toEqual(['bad.yaml:6: cases[0].inputs.x[0][0][1]: ragged values: item has shape [0], item 0 has [1]']);
  });

  it('refuses bench on a zero-size case: nothing to time', () => {
    expect(errorsOf(`
cases:
  - name: t
    op: avgpool2d
    bench: { threshold: 0.2 }
    attributes: { kernel: 2 }
    inputs: { x: { shape: [0, 2, 4, 4] } }
`)).toEqual(['bad.yaml:5: cases[0].bench: a case with zero-size batch has no work to time: remove bench (it is still checked)']);
    expect(errorsOf(`
cases:
  - name: t
    op: conv2d
    bench: true
    inputs: { x: { shape: [0, 0, 4, 4] }, w: { shape: [0, 0, 1, 1] } }
`)[0]).toMatch(/bench: a case with zero-size batch and input channels and output channels has no work to time/);
    expect(one(`
cases:
  - name: t
    op: avgpool2d
    bench: false
    attributes: { kernel: 2 }
    inputs: { x: { shape: [0, 2, 4, 4] } }
`).bench).toBe(false);
  });

  it('checks dy, bias and expected shapes against the zero-size geometry', () => {
    expect(errorsOf(`
cases:
  - name: t
    op: conv2d
    inputs: { x: { shape: [1, 2, 3, 3] }, w: { shape: [0, 2, 1, 1] }, bias: [1] }
`)).toEqual(['bad.yaml:5: cases[0].inputs.bias: bias shape [1] must be [0] (output channels)']);
    expect(errorsOf(`
cases:
  - name: t
    op: conv2d
    direction: backward
    inputs: { x: { shape: [0, 2, 3, 3] }, w: { shape: [1, 2, 1, 1] }, dy: { shape: [1, 1, 3, 3] } }
`)).toEqual(['bad.yaml:6: cases[0].inputs.dy: shape [1,1,3,3] must be [0,1,3,3] (NCHW)']);
  });
});

describe('references, comparisons and the second call of zero-size cases', () => {
  const { cases } = loadCases([FILE]);
  const byName = (name: string) => {
    const c = cases.find((k) => k.name === name);
    if (!c) throw new Error(`no case ${name}`);
    return c;
  };

  it('reference64 gives empty outputs, the bias, and zeros as the rules say', () => {
    const batch = referenceOutputs(byName('conv zero batch'), 'backward');
    expect([batch.dx?.value.length, batch.dw?.shape, batch.db?.shape]).toEqual([0, [4, 3, 3, 3], [4]]);
    expect([...(batch.dw?.value ?? []), ...(batch.db?.value ?? [])].every((v) => Object.is(v, 0))).toBe(true);
    const noInput = byName('conv no input channels');
    const y = referenceOutputs(noInput, 'forward').y;
    const bias = noInput.op === 'conv2d' ? noInput.bias?.data ?? [] : [];
    expect(y?.shape).toEqual([2, 4, 3, 3]);
    expect(Array.from(y?.value ?? []).every((v, i) => v === bias[Math.floor(i / 9) % 4])).toBe(true);
    const noOutput = referenceOutputs(byName('conv no output channels'), 'backward');
    expect([noOutput.dx?.shape, noOutput.dw?.value.length, noOutput.db?.value.length]).toEqual([[2, 3, 5, 5], 0, 0]);
    expect(Array.from(noOutput.dx?.value ?? []).every((v) => v === 0)).toBe(true);
    const pool = byName('max pool no channels');
    for (const computation of computationsOf(pool)) {
      for (const r of Object.values(referenceOutputs(pool, computation))) expect(r?.value.length).toBe(0);
    }
  });

  it('the second call of an empty case changes nothing it could see, and its references stay empty', () => {
    const c = byName('conv no input channels');
    const refs = referenceOutputs(c, 'forward');
    const m = mirrorOf(c, 'forward', refs);
    expect(m.c.x.data.length).toBe(0);
    expect(Array.from(m.references?.(refs).y?.value ?? [])).toEqual(Array.from(refs.y?.value ?? []).map((v) => -2 * v));
    const pool = byName('avg pool zero batch');
    const pm = mirrorOf(pool, 'backward', referenceOutputs(pool, 'backward'));
    expect(pm.references?.(referenceOutputs(pool, 'backward')).dx?.value.length).toBe(0);
  });
});

describe('zero-length frames in the host protocol', () => {
  it('an empty tensor is a frame of 0 bytes between others, and reads back with its shape', () => {
    const tensors = [
      { name: 'x', shape: [0, 3, 5, 5], data: new Float32Array(0) },
      { name: 'w', shape: [2, 1], data: Float32Array.from([1.5, -2]) },
      { name: 'bias', shape: [0], data: new Float32Array(0) },
    ];
    const reader = new MessageReader(() => 100);
    for (const b of encode({ type: 'call', id: 1 }, tensors)) reader.push(Buffer.from(b));
    const m = reader.next();
    expect(m?.tensors.map((t) => [t.name, t.shape, Array.from(t.data)])).toEqual([['x', [0, 3, 5, 5], []], ['w', [2, 1], [1.5, -2]], ['bias', [0], []]]);
    // A message of nothing but empty frames is whole as soon as its header is.
    for (const b of encode({ type: 'call', id: 2 }, [tensors[0], tensors[2]])) reader.push(Buffer.from(b));
    expect(reader.next()?.tensors.map((t) => t.data.length)).toEqual([0, 0]);
    expect(reader.next()).toBeUndefined();
  });
});

describe('built-in kernels on zero-size cases, in their hosts', () => {
  const hosts: RemoteImplementation[] = [];
  afterAll(async () => { await Promise.all(hosts.map((h) => h.close())); });
  const { cases } = loadCases([FILE]);

  for (const name of ['naive', 'im2col', 'views']) {
    it(`${name} passes every computation it has of ${FILE}, the second call included`, async () => {
      const impl = await startImplementation(name, DEFAULT_LIMITS);
      hosts.push(impl);
      const bad: string[] = [];
      let passed = 0;
      for (const c of cases) {
        for (const computation of computationsOf(c)) {
          const r = await checkImplementation(impl, c, computation, referenceOutputs(c, computation));
          if (r.state === 'passed') passed++;
          else if (r.state !== 'skipped') bad.push(`${c.id} ${computation}: ${r.state} ${JSON.stringify(r).slice(0, 300)}`);
        }
      }
      expect(bad).toEqual([]);
      expect(passed).toBeGreaterThan(30);
    }, 60_000);
  }

  it('an empty output may share its (empty) buffer: one constant for dw and db of a conv with no output channels passes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convbench-empty-'));
    const file = join(dir, 'empty.ts');
    writeFileSync(file, [
      'const EMPTY = new Float32Array(0);',
      'export default {',
      "  name: 'empty-shared', layout: 'NCHW',",
      '  conv2dBackward: (x: { shape: number[]; data: Float32Array }, w: { shape: number[] }) =>',
      '    ({ dx: { shape: x.shape, data: new Float32Array(x.data.length) }, dw: { shape: w.shape, data: EMPTY }, db: { shape: [0], data: EMPTY } }),',
      '};',
      '',
    ].join('\n'));
    const impl = await startImplementation(file, DEFAULT_LIMITS);
    hosts.push(impl);
    const c = one(`
cases:
  - name: t
    op: conv2d
    direction: backward
    inputs: { x: { shape: [1, 2, 3, 3] }, w: { shape: [0, 2, 2, 2] } }
`);
    const r = await checkImplementation(impl, c, 'backward', referenceOutputs(c, 'backward'));
    expect(r.state, JSON.stringify(r).slice(0, 400)).toBe('passed');
  }, 30_000);
});
