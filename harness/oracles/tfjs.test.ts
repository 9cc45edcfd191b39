// The TF.js oracles (one per backend present): exact on the CS231n seed, agreement with reference64
// on index-breaking geometry forward and backward, every declared limitation shown on the engine
// itself (it throws, or it computes something else), no tensor leak, and interleaved backends.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { type Case, type ConvCase, loadCaseText, loadCases, type PoolCase } from '../cases/load.ts';
import { checkOutputs, computationsOf, referenceOutputs } from '../check.ts';
import type { Computation, Outputs } from '../invoke.ts';
import { nchwToNhwc, nhwcToNchw, oihwToHwio } from '../layout.ts';
import type { Tensor } from '../tensor.ts';
import type { Oracle } from './oracle.ts';
import { CPU_BACKWARD_MAC_LIMIT, loadTfjsOracles, TFJS_ORACLE_NAMES, type TfjsBackend } from './tfjs.ts';

const { oracles, absent } = await loadTfjsOracles();
afterAll(async () => { for (const o of oracles) await o.release(); });

const byName = (name: string): Oracle | undefined => oracles.find((o) => o.name === name);
const cpu = byName('tfjs-cpu');
const wasm = byName('tfjs-wasm');
const BACKEND_OF = new Map(Object.entries(TFJS_ORACLE_NAMES).map(([backend, name]) => [name, backend as TfjsBackend]));

function load(text: string): Case[] {
  const { cases, errors } = loadCaseText(text, 'tfjs.test.yaml');
  expect(errors.map((e) => e.message)).toEqual([]);
  return cases;
}
const conv = (c: Case): ConvCase => { if (c.op !== 'conv2d') throw new Error(`${c.id} is not a conv case`); return c; };
const pool = (c: Case): PoolCase => { if (c.op === 'conv2d') throw new Error(`${c.id} is not a pool case`); return c; };

async function run(o: Oracle, c: Case, computation: Computation): Promise<Outputs> {
  const p = await o.prepare(c, computation);
  return p.collect(await p.call());
}

/** Failing checks against reference64 (and the exact expected values), one line each. */
function disagreements(c: Case, computation: Computation, out: Outputs): string[] {
  return checkOutputs(c, computation, out, referenceOutputs(c, computation)).filter((k) => !k.comparison.ok).map((k) =>
    `${k.tensor} vs ${k.against}: ${k.comparison.problem ?? `${k.comparison.failures}/${k.comparison.elements} outside (x${k.comparison.maxRatio.toPrecision(3)} budget)`}`);
}

/** Runs `f` on a TF.js backend directly (not through an oracle), disposing every tensor it makes. */
async function onBackend<T>(backend: TfjsBackend, f: () => T): Promise<T> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  tf.engine().startScope();
  try {
    return f();
  } finally {
    tf.engine().endScope();
    expect(tf.memory().numTensors).toBe(before);
  }
}
const t4 = (t: Tensor): tf.Tensor4D => tf.tensor4d(t.data, [t.shape[0], t.shape[1], t.shape[2], t.shape[3]]);
const fromNhwc = (t: tf.Tensor): Tensor => nhwcToNchw({ shape: [...t.shape], data: Float32Array.from(t.dataSync()) });

describe('loading', () => {
  it('has the cpu and wasm backends; tfjs-node is present or absent with a one-line reason', () => {
    expect(oracles.map((o) => o.name)).toEqual(expect.arrayContaining(['tfjs-wasm', 'tfjs-cpu']));
    expect(absent.map((a) => a.name)).not.toContain('tfjs-cpu');
    const node = absent.find((a) => a.name === 'tfjs-node');
    expect(node !== undefined || byName('tfjs-node') !== undefined).toBe(true);
    if (node) expect(node.reason).toMatch(/^@tensorflow\/tfjs-node [^\n]+$/);
  });

  it('records package versions, the backend and the thread count', () => {
    const core = (createRequire(import.meta.url)('@tensorflow/tfjs-core/package.json') as { version: string }).version;
    for (const o of oracles) {
      expect(o.versions['@tensorflow/tfjs-core']).toBe(core);
      expect(o.versions.backend).toBe(BACKEND_OF.get(o.name));
    }
    expect(cpu?.threads).toBe(1);
    expect(wasm?.versions['@tensorflow/tfjs-backend-wasm']).toMatch(/^\d+\.\d+\.\d+/);
    expect(wasm?.threads).toBeGreaterThanOrEqual(1);
  });
});

describe.each(oracles.map((o) => [o.name, o] as const))('%s', (_, o) => {
  it('reproduces the CS231n seed exactly (and its two padded twins)', async () => {
    const { cases, errors } = loadCases([fileURLToPath(new URL('../../cases/seeds/cs231n.yaml', import.meta.url))]);
    expect(errors).toEqual([]);
    expect(cases).toHaveLength(3);
    for (const c of cases) {
      expect(o.unsupported(c, 'forward')).toBeUndefined();
      const out = await run(o, c, 'forward');
      expect(c.expected.y).toBeDefined();
      expect(disagreements(c, 'forward', out), c.id).toEqual([]);
      expect(Array.from(out.y?.data ?? [])).toEqual(Array.from(c.expected.y?.data ?? []));
    }
  });

  // Index breakers: N, C > 1, H != W, strides that differ per axis, asymmetric explicit padding,
  // SAME_UPPER ('same') and SAME_LOWER (explicit), depthwise with a multiplier, groups 3, dilation,
  // pools with every padding form. Max-pool data is positive, so that the wasm backend's
  // FLT_MIN bug (see below) stays out of the way.
  const breakers = load(`cases:
  - name: plain asym
    op: conv2d
    attributes: { strides: [2, 1], padding: [1, 0, 2, 1] }
    inputs: { x: { shape: [2, 3, 7, 5] }, w: { shape: [4, 3, 3, 2] }, bias: { shape: [4] } }
  - name: same lower
    op: conv2d
    attributes: { strides: 2, padding: SAME_LOWER }
    inputs: { x: { shape: [2, 3, 8, 7] }, w: { shape: [5, 3, 3, 4] } }
  - name: same upper
    op: conv2d
    attributes: { strides: [2, 3], padding: SAME_UPPER }
    inputs: { x: { shape: [1, 2, 9, 8] }, w: { shape: [3, 2, 4, 3] }, bias: { shape: [3] } }
  - name: depthwise
    op: conv2d
    attributes: { groups: 4, strides: [1, 2], padding: [0, 1, 1, 0] }
    inputs: { x: { shape: [2, 4, 7, 6] }, w: { shape: [8, 1, 3, 2] }, bias: { shape: [8] } }
  - name: groups 3
    op: conv2d
    attributes: { groups: 3, strides: 2, padding: 1 }
    inputs: { x: { shape: [2, 6, 7, 5] }, w: { shape: [9, 2, 3, 3] }, bias: { shape: [9] } }
  - name: dilated
    op: conv2d
    direction: forward
    attributes: { dilations: [2, 1], padding: SAME_UPPER }
    inputs: { x: { shape: [2, 3, 9, 8] }, w: { shape: [4, 3, 3, 2] } }
  - name: maxpool asym
    op: maxpool2d
    attributes: { kernel: [3, 2], strides: [2, 1], padding: [1, 0, 1, 1] }
    inputs: { x: { shape: [2, 3, 7, 6], uniform: [0.5, 2] } }
  - name: maxpool same lower
    op: maxpool2d
    attributes: { kernel: 3, strides: 2, padding: SAME_LOWER }
    inputs: { x: { shape: [2, 2, 8, 7], uniform: [0.5, 2] } }
  - name: maxpool ceil
    op: maxpool2d
    attributes: { kernel: 3, strides: 2, padding: [1, 0, 0, 1], ceilMode: true }
    inputs: { x: { shape: [1, 2, 7, 6], uniform: [0.5, 2] } }
  - name: avgpool valid
    op: avgpool2d
    attributes: { kernel: [2, 3], strides: 2 }
    inputs: { x: { shape: [2, 3, 7, 8] } }
  - name: avgpool same
    op: avgpool2d
    attributes: { kernel: 3, strides: 2, padding: SAME_UPPER }
    inputs: { x: { shape: [2, 3, 7, 8] } }
  - name: avgpool pad
    op: avgpool2d
    attributes: { kernel: 3, strides: [1, 2], padding: [1, 1, 2, 0] }
    inputs: { x: { shape: [2, 3, 6, 7] } }
  - name: avgpool pad cip
    op: avgpool2d
    attributes: { kernel: 3, strides: [1, 2], padding: [1, 1, 2, 0], countIncludePad: true }
    inputs: { x: { shape: [2, 3, 6, 7] } }
  - name: avgpool ceil
    op: avgpool2d
    attributes: { kernel: 2, strides: 2, ceilMode: true }
    inputs: { x: { shape: [1, 2, 7, 5] } }
`);
  const convNames = ['plain asym', 'same lower', 'same upper', 'depthwise', 'groups 3'];
  // What each backend declares n/a among the breakers ("name computation").
  const NA: Record<string, string[]> = {
    'tfjs-cpu': ['avgpool same backward', 'avgpool pad backward', 'avgpool pad cip forward', 'avgpool ceil backward'],
    'tfjs-wasm': [...convNames.map((n) => `${n} backward`), 'maxpool ceil forward', 'maxpool ceil backward', 'avgpool same backward',
      'avgpool pad backward', 'avgpool pad cip forward', 'avgpool ceil forward', 'avgpool ceil backward'],
  };

  it('agrees with reference64 forward and backward on index-breaking geometry', async () => {
    const declined: string[] = [];
    for (const c of breakers) {
      // TF.js has no ONNX-style max-pool indices: that computation is always n/a.
      for (const computation of computationsOf(c)) {
        if (computation === 'indices') { expect(o.unsupported(c, computation)).toMatch(/maxPoolWithArgmax/); continue; }
        if (o.unsupported(c, computation)) { declined.push(`${c.name} ${computation}`); continue; }
        expect(disagreements(c, computation, await run(o, c, computation)), `${c.id} ${computation}`).toEqual([]);
      }
    }
    if (NA[o.name]) expect(declined).toEqual(NA[o.name]);
  });

  it('does not leak tensors across prepare / call / release cycles', async () => {
    await o.release();
    const before = tf.memory().numTensors;
    for (let round = 0; round < 3; round++) {
      for (const c of breakers) {
        for (const computation of computationsOf(c)) {
          if (o.unsupported(c, computation)) continue;
          const p = await o.prepare(c, computation);
          for (let i = 0; i < 3; i++) p.collect(await p.call());
        }
      }
      await o.release();
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

describe('declared limitations, each shown on the engine', () => {
  const each = (names: string[]) => oracles.filter((o) => names.includes(o.name));

  it('stride > 1 with dilation > 1: conv2d rejects it everywhere, the cpu depthwise kernel too; wasm depthwise runs it right', async () => {
    const [plain, depthwise] = load(`cases:
  - name: s2 d2
    op: conv2d
    attributes: { strides: [2, 1], dilations: [1, 2], padding: 1 }
    inputs: { x: { shape: [1, 2, 9, 9] }, w: { shape: [3, 2, 3, 3] } }
  - name: s2 d2 depthwise
    op: conv2d
    direction: forward
    attributes: { groups: 4, strides: 2, dilations: 2, padding: [1, 2, 2, 1] }
    inputs: { x: { shape: [2, 4, 11, 9] }, w: { shape: [8, 1, 3, 2] } }
`).map(conv);
    for (const o of oracles) {
      for (const computation of ['forward', 'backward'] as const) expect(o.unsupported(plain, computation)).toBe('TF.js rejects stride > 1 together with dilation > 1');
      await expect(o.prepare(plain, 'forward')).rejects.toThrow('stride > 1 together with dilation > 1');
      const backend = BACKEND_OF.get(o.name) ?? 'cpu';
      await onBackend(backend, () => expect(() => tf.conv2d(t4(nchwToNhwc(plain.x)), t4(oihwToHwio(plain.w)), [2, 1], 'same', 'NHWC', [1, 2]))
        .toThrow('Either strides or dilations must be 1'));
    }
    if (cpu) {
      expect(cpu.unsupported(depthwise, 'forward')).toBe('TF.js rejects stride > 1 together with dilation > 1');
      await onBackend('cpu', () => expect(() => tf.depthwiseConv2d(t4(nchwToNhwc(depthwise.x)), tf.ones([3, 2, 4, 2]) as tf.Tensor4D, 2, 'valid', 'NHWC', 2))
        .toThrow('Either strides or dilations must be 1'));
    }
    if (wasm) {
      expect(wasm.unsupported(depthwise, 'forward')).toBeUndefined();
      expect(disagreements(depthwise, 'forward', await run(wasm, depthwise, 'forward'))).toEqual([]);
    }
  });

  it('no gradient for dilated convolution: tf.grad asserts it, and the backprop kernels take no dilation', async () => {
    const c = conv(load(`cases:
  - name: dilated
    op: conv2d
    attributes: { dilations: 2 }
    inputs: { x: { shape: [1, 2, 7, 7], uniform: [1, 2] }, w: { shape: [3, 2, 3, 3] } }
`)[0]);
    for (const o of each(['tfjs-cpu', 'tfjs-node'])) {
      expect(o.unsupported(c, 'backward')).toBe('TF.js has no gradient for dilated convolution');
      await expect(o.prepare(c, 'backward')).rejects.toThrow('no gradient for dilated convolution');
    }
    expect(wasm?.unsupported(c, 'backward')).toBe('the wasm backend has no filter-gradient kernel (Conv2DBackpropFilter)');
    // The gradients tf.grad would run (registered by the @tensorflow/tfjs union package) assert it.
    const core = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/package.json'));
    for (const grad of ['Conv2D_grad.js', 'DepthwiseConv2dNative_grad.js']) {
      const source = readFileSync(join(core, 'dist', 'gradients', grad), 'utf8');
      expect(/util\.assert\(conv_util\.tupleValuesAreOne\(\$?dilations\)/.test(source), grad).toBe(true);
      expect(source.includes('dilation rates'), grad).toBe(true);
    }
    if (!cpu) return;
    // And the kernels have no dilation: the filter gradient fails, the input gradient is wrong.
    await onBackend('cpu', () => {
      const [x, w, dy] = [t4(nchwToNhwc(c.x)), t4(oihwToHwio(c.w)), t4(nchwToNhwc(c.dy))];
      expect(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 2, filterShape: [3, 3, 2, 3] }))
        .toThrow('out of range');
      const dx = tf.engine().runKernel<tf.Tensor4D>('Conv2DBackpropInput', { dy, filter: w }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 2, inputShape: [1, 7, 7, 2] });
      expect(disagreements(c, 'backward', { dx: fromNhwc(dx) }).filter((d) => d.startsWith('dx'))).not.toEqual([]);
    });
  });

  it.skipIf(!wasm)('the wasm backend has no conv gradient kernels', async () => {
    const [plain, depthwise] = load(`cases:
  - name: plain
    op: conv2d
    inputs: { x: { shape: [1, 2, 5, 5] }, w: { shape: [3, 2, 3, 3] } }
  - name: depthwise
    op: conv2d
    attributes: { groups: 2 }
    inputs: { x: { shape: [1, 2, 5, 5] }, w: { shape: [2, 1, 3, 3] } }
`).map(conv);
    const o = wasm as Oracle;
    expect(o.unsupported(plain, 'backward')).toBe('the wasm backend has no filter-gradient kernel (Conv2DBackpropFilter)');
    expect(o.unsupported(depthwise, 'backward')).toBe('the wasm backend has no depthwise gradient kernels (DepthwiseConv2dNativeBackpropInput/Filter)');
    await expect(o.prepare(plain, 'backward')).rejects.toThrow('no filter-gradient kernel');
    for (const kernel of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter']) {
      await onBackend('wasm', () => expect(() => tf.engine().runKernel(kernel, { x: tf.ones([1, 5, 5, 2]), dy: tf.ones([1, 3, 3, 2]), filter: tf.ones([3, 3, 2, 1]) },
        { strides: 1, pad: 'valid', dilations: 1, filterShape: [3, 3, 2, 1], inputShape: [1, 5, 5, 2] }))
        .toThrow(`Kernel '${kernel}' not registered for backend 'wasm'`));
    }
  });

  it('pools have no dilation: the MaxPool kernel ignores a dilations attribute', async () => {
    const c = pool(load(`cases:
  - name: dilated
    op: maxpool2d
    attributes: { kernel: 2, dilations: 2 }
    inputs: { x: { shape: [1, 2, 7, 7] } }
`)[0]);
    for (const o of oracles) {
      expect(o.unsupported(c, 'forward')).toBe('TF.js pools have no dilation');
      await expect(o.prepare(c, 'forward')).rejects.toThrow('no dilation');
      await onBackend(BACKEND_OF.get(o.name) ?? 'cpu', () => {
        const y = tf.engine().runKernel<tf.Tensor4D>('MaxPool', { x: t4(nchwToNhwc(c.x)) }, { filterSize: 2, strides: 1, pad: 'valid', dilations: 2 });
        expect(y.shape).toEqual([1, 6, 6, 2]); // undilated; dilated windows give 5x5
      });
    }
  });

  it('ceil mode: cpu runs it (dimRoundingMode), wasm ignores it, AvgPoolGrad has none', async () => {
    const [max, avg, same] = load(`cases:
  - name: max ceil
    op: maxpool2d
    attributes: { kernel: 3, strides: 2, ceilMode: true }
    inputs: { x: { shape: [1, 2, 8, 6], uniform: [1, 2] } }
  - name: avg ceil
    op: avgpool2d
    attributes: { kernel: 2, strides: 2, ceilMode: true }
    inputs: { x: { shape: [1, 2, 7, 5], uniform: [1, 2] } }
  - name: ceil equals floor
    op: maxpool2d
    attributes: { kernel: 3, strides: 2, ceilMode: true }
    inputs: { x: { shape: [1, 2, 7, 9], uniform: [1, 2] } }
`).map(pool);
    for (const o of oracles) {
      expect(o.unsupported(same, 'forward')).toBeUndefined();
      expect(disagreements(same, 'forward', await run(o, same, 'forward'))).toEqual([]);
    }
    if (cpu) {
      for (const c of [max, avg]) {
        expect(cpu.unsupported(c, 'forward')).toBeUndefined();
        expect(disagreements(c, 'forward', await run(cpu, c, 'forward'))).toEqual([]);
      }
      expect(cpu.unsupported(max, 'backward')).toBeUndefined();
      expect(disagreements(max, 'backward', await run(cpu, max, 'backward'))).toEqual([]);
      expect(cpu.unsupported(avg, 'backward')).toBe("TF.js's average-pool gradient has no ceil mode (AvgPoolGrad takes no dimRoundingMode)");
      await expect(cpu.prepare(avg, 'backward')).rejects.toThrow('AvgPoolGrad takes no dimRoundingMode');
      // AvgPoolGrad sizes dy in floor mode whatever it is told: its dx is wrong.
      await onBackend('cpu', () => {
        const dx = tf.engine().runKernel<tf.Tensor4D>('AvgPoolGrad', { dy: t4(nchwToNhwc(avg.dy)), input: t4(nchwToNhwc(avg.x)) },
          { filterSize: 2, strides: 2, pad: [[0, 0], [0, 0], [0, 0], [0, 0]], dimRoundingMode: 'ceil' });
        expect(disagreements(avg, 'backward', { dx: fromNhwc(dx) })).not.toEqual([]);
      });
    }
    if (wasm) {
      for (const c of [max, avg]) {
        expect(wasm.unsupported(c, 'forward')).toBe("the wasm backend's pools have no ceil mode (they ignore dimRoundingMode 'ceil')");
        await expect(wasm.prepare(c, 'forward')).rejects.toThrow('no ceil mode');
      }
      // XNNPACK sizes the output itself, in floor mode: the ceil-mode row and column are not the
      // maxima of their windows (they hold whatever the output buffer held).
      await onBackend('wasm', () => {
        const y = tf.maxPool(t4(nchwToNhwc(max.x)), 3, 2, [[0, 0], [0, 0], [0, 0], [0, 0]], 'ceil');
        expect(y.shape).toEqual([1, 4, 3, 2]);
        expect(disagreements(max, 'forward', { y: fromNhwc(y) })).not.toEqual([]);
      });
    }
  });

  it.skipIf(!wasm)('wasm: an average-pool window holding a NaN gives -inf (cpu gives NaN)', async () => {
    const [c] = load(`cases:
  - name: avg nan
    op: avgpool2d
    direction: forward
    attributes: { kernel: 2, strides: 2 }
    inputs:
      x: [[[[1, .nan, 2, 3], [4, 5, 6, 7]]]]
`).map(pool);
    const o = wasm as Oracle;
    expect(o.unsupported(c, 'forward')).toBe('turns a NaN in an average-pool window into -inf');
    expect(Array.from((await run(o, c, 'forward')).y?.data ?? [])).toEqual([Number.NEGATIVE_INFINITY, 4.5]);
    await o.release();
    const cpu = byName('tfjs-cpu');
    if (cpu) {
      expect(cpu.unsupported(c, 'forward')).toBeUndefined();
      expect(disagreements(c, 'forward', await run(cpu, c, 'forward'))).toEqual([]);
    }
  });

  it('averages exclude padding; the cpu and wasm average-pool gradients include it', async () => {
    const [exclude, include] = load(`cases:
  - name: avg
    op: avgpool2d
    attributes: { kernel: 3, strides: 2, padding: [1, 0, 1, 1] }
    inputs:
      x: { shape: [1, 2, 6, 5], uniform: [-1, 1], seed: 7 }
      dy: { shape: [1, 2, 3, 2], uniform: [-1, 1], seed: 8 }
    matrix:
      attributes.countIncludePad: [false, true]
`).map(pool);
    for (const o of oracles) {
      expect(o.unsupported(include, 'forward')).toBe('averages always exclude padding');
      expect(o.unsupported(exclude, 'forward')).toBeUndefined();
      // The semantics probe can run it: prepare() works, and gives the excluding average.
      const y = await run(o, include, 'forward');
      expect(disagreements(include, 'forward', y)).not.toEqual([]);
      expect(disagreements(exclude, 'forward', y)).toEqual([]);
      if (o.name === 'tfjs-node') continue;
      expect(o.unsupported(exclude, 'backward')).toBe('its average-pool gradient divides by the whole window, padding included (its forward excludes it)');
      expect(o.unsupported(include, 'backward')).toBeUndefined();
      const dx = await run(o, exclude, 'backward');
      expect(disagreements(exclude, 'backward', dx)).not.toEqual([]);
      expect(disagreements(include, 'backward', dx)).toEqual([]);
    }
  });

  describe('max pooling and NaN', () => {
    const [propagate, skip, allNan] = load(`cases:
  - name: nan
    op: maxpool2d
    attributes: { kernel: 2, strides: 2 }
    inputs:
      x: [[[[.nan, 1, 2, 3], [4, 5, .nan, 7], [8, 9, 10, 11], [12, 13, 14, .nan]]]]
    matrix:
      attributes.propagateNan: [true, false]
  - name: all nan window
    op: maxpool2d
    attributes: { kernel: 2, strides: 2, propagateNan: false }
    inputs:
      x: [[[[.nan, .nan, 2, 3], [.nan, .nan, 6, 7]]]]
`).map(pool);

    it.skipIf(!cpu)('cpu: ignores NaN (declared with propagateNan), gives -inf for an all-NaN window', async () => {
      const o = cpu as Oracle;
      expect(o.unsupported(propagate, 'forward')).toBe('ignores NaN in max-pool windows');
      expect(o.unsupported(propagate, 'backward')).toBe('ignores NaN in max-pool windows');
      const y = await run(o, propagate, 'forward');
      expect(Array.from(y.y?.data ?? [])).toEqual([5, 7, 13, 14]);
      expect(disagreements(propagate, 'forward', y)).not.toEqual([]);
      for (const computation of ['forward', 'backward'] as const) {
        expect(o.unsupported(skip, computation)).toBeUndefined();
        expect(disagreements(skip, computation, await run(o, skip, computation))).toEqual([]);
      }
      expect(o.unsupported(allNan, 'forward')).toBe('gives -inf for an all-NaN max-pool window');
      expect(Array.from((await run(o, allNan, 'forward')).y?.data ?? [])).toEqual([Number.NEGATIVE_INFINITY, 7]);
      expect(o.unsupported(allNan, 'backward')).toBe('drops the gradient of a max-pool window whose maximum is -inf (or that is all NaN)');
    });

    it.skipIf(!wasm)('wasm: forward, a window with a NaN gives a result that depends on where the NaN is; backward ignores NaN', async () => {
      const o = wasm as Oracle;
      for (const c of [propagate, skip]) expect(o.unsupported(c, 'forward')).toBe('mishandles NaN in max-pool windows (the result depends on where the NaN is)');
      // Neither propagated nor skipped: XNNPACK's max drops values next to a NaN in an order that
      // depends on the NaN's tap (here window [NaN, 1; 4, 5] gives -inf).
      const y = await run(o, propagate, 'forward');
      expect(disagreements(propagate, 'forward', y)).not.toEqual([]);
      expect(disagreements(skip, 'forward', y)).not.toEqual([]);
      // MaxPoolGrad finds its own argmax, with a comparison that is false for NaN.
      expect(o.unsupported(propagate, 'backward')).toBe('ignores NaN in max-pool windows');
      expect(disagreements(propagate, 'backward', await run(o, propagate, 'backward'))).not.toEqual([]);
      expect(o.unsupported(skip, 'backward')).toBeUndefined();
      expect(disagreements(skip, 'backward', await run(o, skip, 'backward'))).toEqual([]);
    });
  });

  describe('max-pool gradient routing', () => {
    const [ties, negative, positive, infinities, atZero] = load(`cases:
  - name: ties
    op: maxpool2d
    direction: backward
    attributes: { kernel: 2, strides: 2 }
    inputs:
      x: [[[[3, 3, 1, 2], [3, 3, 2, 2]]]]
      dy: [[[[1, 10]]]]
  - name: negative
    op: maxpool2d
    direction: backward
    attributes: { kernel: 2, strides: 2 }
    inputs:
      x: [[[[-4, -1, 5, 6], [-3, -2, 7, 8]]]]
      dy: [[[[1, 10]]]]
  - name: positive
    op: maxpool2d
    direction: backward
    attributes: { kernel: 3, strides: [2, 1], padding: [1, 1, 0, 1] }
    inputs: { x: { shape: [2, 2, 7, 6], uniform: [0.5, 2] } }
  - name: infinities
    op: maxpool2d
    attributes: { kernel: 2, strides: 1, padding: 1 }
    inputs:
      x: [[[[-.inf, -.inf, 1], [-.inf, .inf, -2]]]]
  - name: negative at element 0
    op: maxpool2d
    direction: backward
    attributes: { kernel: 2, strides: 2 }
    inputs:
      x: [[[[-1, -4, 5, 6], [-3, -2, 7, 8]]]]
      dy: [[[[1, 10]]]]
`).map(pool);

    it('cpu: first maximum on ties; drops the gradient of a window whose maximum is -inf', async () => {
      if (!cpu) return;
      for (const c of [ties, negative, positive]) {
        expect(cpu.unsupported(c, 'backward')).toBeUndefined();
        expect(disagreements(c, 'backward', await run(cpu, c, 'backward'))).toEqual([]);
      }
      expect(Array.from((await run(cpu, ties, 'backward')).dx?.data ?? [])).toEqual([1, 0, 0, 10, 0, 0, 0, 0]);
      expect(cpu.unsupported(infinities, 'forward')).toBeUndefined();
      expect(disagreements(infinities, 'forward', await run(cpu, infinities, 'forward'))).toEqual([]);
      expect(cpu.unsupported(infinities, 'backward')).toBe('drops the gradient of a max-pool window whose maximum is -inf (or that is all NaN)');
      const dx = await run(cpu, infinities, 'backward');
      const ref = referenceOutputs(infinities, 'backward').dx;
      // The corner window holds only x[0][0] = -inf: reference64 routes its gradient there.
      expect(dx.dx?.data[0]).not.toBe(ref?.value[0]);
    });

    it.skipIf(!wasm)('wasm: last maximum on ties; misroutes windows whose maximum is below FLT_MIN', async () => {
      const o = wasm as Oracle;
      expect(o.unsupported(ties, 'backward')).toBe('sends a max-pool gradient to the last of tied maxima, not the first');
      expect(Array.from((await run(o, ties, 'backward')).dx?.data ?? [])).toEqual([0, 0, 0, 0, 0, 1, 0, 10]);
      const fltMin = 'misroutes the gradient of a max-pool window whose maximum is below FLT_MIN (its search starts at FLT_MIN, not -inf)';
      expect(o.unsupported(negative, 'backward')).toBe(fltMin);
      expect(o.unsupported(infinities, 'backward')).toBe(fltMin);
      // The all-negative window [-4, -1; -3, -2] must send its gradient to -1; wasm does not.
      const dx = Array.from((await run(o, negative, 'backward')).dx?.data ?? []);
      expect(dx[1]).toBe(0);
      expect(dx[7]).toBe(10);
      expect(o.unsupported(positive, 'backward')).toBeUndefined();
      expect(disagreements(positive, 'backward', await run(o, positive, 'backward'))).toEqual([]);
      // Such a window's gradient goes to x's element 0 when the window covers it: right when the
      // maximum is there.
      expect(o.unsupported(atZero, 'backward')).toBeUndefined();
      expect(disagreements(atZero, 'backward', await run(o, atZero, 'backward'))).toEqual([]);
    });
  });

  it.skipIf(!cpu)('cpu conv backward above the MAC limit is too slow', () => {
    const [small, large] = load(`cases:
  - name: small
    op: conv2d
    inputs: { x: { shape: [1, 8, 16, 16] }, w: { shape: [8, 8, 3, 3] } }
  - name: large
    op: conv2d
    inputs: { x: { shape: [2, 16, 32, 32] }, w: { shape: [16, 16, 3, 3] } }
`).map(conv);
    const o = cpu as Oracle;
    expect(small.geometry.forwardFlops / 2).toBeLessThan(CPU_BACKWARD_MAC_LIMIT);
    expect(o.unsupported(small, 'backward')).toBeUndefined();
    const macs = large.geometry.forwardFlops / 2;
    expect(o.unsupported(large, 'backward')).toBe(`too slow: ${macs} MACs > ${CPU_BACKWARD_MAC_LIMIT} (the cpu filter gradient runs at ~5 M MACs/s)`);
    expect(o.unsupported(large, 'forward')).toBeUndefined();
    expect(wasm?.unsupported(large, 'forward')).toBeUndefined();
  });

  it('cpu skips padding taps: a non-finite w (forward) or dy (backward) meeting padding stays finite; wasm forward multiplies the zeros', async () => {
    const [fwd, bwd, inside, unpadded] = load(`cases:
  - name: inf w meets padding
    op: conv2d
    direction: forward
    attributes: { padding: 1 }
    inputs: { x: [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], w: [[[[.inf, 1], [-1, 2]]]] }
  - name: inf dy meets padding
    op: conv2d
    direction: backward
    attributes: { padding: 1 }
    inputs:
      x: [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]
      w: [[[[1, 2], [3, 4]]]]
      dy: [[[[.inf, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]]]]
  - name: inf dy with an in-bounds window
    op: conv2d
    attributes: { padding: [0, 0, 1, 1] }
    inputs:
      x: [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]
      w: [[[[1, 2], [3, 4]]]]
      dy: [[[[.inf, 1, 1], [1, 1, 1], [1, 1, 1]]]]
  - name: inf w without padding
    op: conv2d
    direction: forward
    inputs: { x: [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], w: [[[[.inf, 1], [-1, 2]]]] }
`).map(conv);
    if (cpu) {
      expect(cpu.unsupported(fwd, 'forward')).toBe('skips padding taps, so a non-finite weight meeting padding stays finite');
      const y = (await run(cpu, fwd, 'forward')).y;
      expect(y?.data[0]).toBe(2); // reference64: 0 * inf + 1 * 0 + -1 * 0 + 2 * 1 = NaN
      expect(disagreements(fwd, 'forward', { y: y ?? { shape: [], data: new Float32Array() } })).not.toEqual([]);
      expect(cpu.unsupported(bwd, 'backward')).toBe('skips padding taps, so a non-finite dy meeting padding leaves dw finite');
      const out = await run(cpu, bwd, 'backward');
      expect(Array.from(out.dw?.data ?? [])).toEqual([45, 45, 45, Number.POSITIVE_INFINITY]); // each tap reads x once (sum 45); reference64: NaN, NaN, NaN, inf
      expect(disagreements(bwd, 'backward', out).join('\n')).toMatch(/^dw vs reference64/);
      // Where no non-finite value meets padding it is supported, and agrees.
      for (const computation of ['forward', 'backward'] as const) {
        expect(cpu.unsupported(inside, computation)).toBeUndefined();
        expect(disagreements(inside, computation, await run(cpu, inside, computation))).toEqual([]);
      }
      expect(cpu.unsupported(unpadded, 'forward')).toBeUndefined();
      expect(disagreements(unpadded, 'forward', await run(cpu, unpadded, 'forward'))).toEqual([]);
      await cpu.release();
    }
    if (wasm) {
      expect(wasm.unsupported(fwd, 'forward')).toBeUndefined();
      expect(disagreements(fwd, 'forward', await run(wasm, fwd, 'forward'))).toEqual([]);
      await wasm.release();
    }
  });

  it("wasm conv gives zeros when an axis's SAME padding total is negative; cpu agrees; pools and non-'same' calls are unaffected", async () => {
    // Width: 8 columns, kernel 2, stride 5: 2 outputs, total (2 - 1) * 5 + 2 - 8 = -1 (clamped to 0).
    // Height: kernel 3 pads 1 + 1, so TF.js is given 'same' (for SAME_LOWER too: the split is even).
    const x = '[[[[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16], [17, 18, 19, 20, 21, 22, 23, 24]]]]';
    const [upper, lower, column, depthwise, explicit, valid, maxPool, avgPool] = load(`cases:
  - name: same total negative
    op: conv2d
    direction: forward
    attributes: { strides: [1, 5] }
    inputs: { x: ${x}, w: [[[[1, 2], [3, 4], [5, 6]]]] }
    matrix:
      attributes.padding: [SAME_UPPER, SAME_LOWER]
  - name: same total negative, 3x1 kernel
    op: conv2d
    direction: forward
    attributes: { strides: [1, 4], padding: SAME_UPPER }
    inputs: { x: { shape: [1, 1, 3, 6], integers: [1, 9] }, w: { shape: [1, 1, 3, 1], integers: [1, 3] } }
  - name: same total negative, depthwise
    op: conv2d
    direction: forward
    attributes: { strides: [1, 5], padding: SAME_UPPER, groups: 2 }
    inputs: { x: { shape: [1, 2, 3, 8], integers: [1, 9] }, w: { shape: [2, 1, 3, 2], integers: [1, 3] } }
  - name: same lower odd split, given as explicit pads
    op: conv2d
    direction: forward
    attributes: { strides: [1, 5], padding: SAME_LOWER }
    inputs: { x: { shape: [1, 1, 4, 8], integers: [1, 9] }, w: { shape: [1, 1, 2, 2], integers: [1, 3] } }
  - name: no pad at all, given as valid
    op: conv2d
    direction: forward
    attributes: { strides: [1, 5], padding: SAME_UPPER }
    inputs: { x: { shape: [1, 1, 1, 8], integers: [1, 9] }, w: { shape: [1, 1, 1, 2], integers: [1, 3] } }
  - name: same total negative, pool
    op: maxpool2d
    attributes: { kernel: [3, 2], strides: [1, 5], padding: SAME_UPPER }
    inputs: { x: ${x} }
    matrix:
      op: [maxpool2d, avgpool2d]
`);
    const reason = "gives zeros when an axis's SAME padding total is negative (XNNPACK does not clamp it at 0)";
    const negative = [upper, lower, column, depthwise].map(conv);
    if (wasm) {
      for (const c of negative) {
        expect(wasm.unsupported(c, 'forward')).toBe(reason);
        const y = await run(wasm, c, 'forward');
        expect(Array.from(y.y?.data ?? [])).toEqual(new Array<number>(y.y?.data.length ?? 0).fill(0));
        expect(disagreements(c, 'forward', y)).not.toEqual([]);
      }
      for (const c of [explicit, valid, maxPool, avgPool]) {
        expect(wasm.unsupported(c, 'forward')).toBeUndefined();
        expect(disagreements(c, 'forward', await run(wasm, c, 'forward'))).toEqual([]);
      }
      await wasm.release();
    }
    if (cpu) {
      for (const c of [...negative, explicit, valid, maxPool, avgPool]) {
        expect(cpu.unsupported(c, 'forward')).toBeUndefined();
        expect(disagreements(c, 'forward', await run(cpu, c, 'forward'))).toEqual([]);
      }
      // y(0,0,0,0..1) under SAME_UPPER: rows -1..1 (the -1 is padding) at columns 0-1 and 5-6.
      expect(Array.from((await run(cpu, upper, 'forward')).y?.data.slice(0, 2) ?? [])).toEqual([3 * 1 + 4 * 2 + 5 * 9 + 6 * 10, 3 * 6 + 4 * 7 + 5 * 14 + 6 * 15]);
      await cpu.release();
    }
  });

  it('the semantics probe can prepare every semantic n/a; prepare throws only what the engine cannot express', async () => {
    const [cip, nan] = load(`cases:
  - name: cip
    op: avgpool2d
    attributes: { kernel: 2, padding: [1, 0, 0, 1], countIncludePad: true }
    inputs: { x: { shape: [1, 1, 3, 3] } }
  - name: nan
    op: maxpool2d
    attributes: { kernel: 2 }
    inputs: { x: [[[[.nan, 1], [2, 3]]]] }
`).map(pool);
    for (const o of oracles) {
      for (const c of [cip, nan]) {
        expect(o.unsupported(c, 'forward')).toBeDefined();
        expect((await run(o, c, 'forward')).y?.shape).toEqual([1, 1, c.geometry.outHeight, c.geometry.outWidth]);
      }
    }
  });
});

describe('interleaved backends', () => {
  it.skipIf(!cpu || !wasm)('each call runs on its own backend, however calls interleave', async () => {
    const c = load(`cases:
  - name: ties
    op: maxpool2d
    direction: backward
    attributes: { kernel: 2, strides: 2 }
    inputs:
      x: [[[[3, 3, 1, 2], [3, 3, 2, 2]]]]
      dy: [[[[1, 10]]]]
`)[0];
    // cpu sends a tie's gradient to the first maximum, wasm to the last: the answer names the backend.
    const pc = await (cpu as Oracle).prepare(c, 'backward');
    const pw = await (wasm as Oracle).prepare(c, 'backward');
    const raws = await Promise.all([pc.call(), pw.call(), pc.call(), pw.call(), pw.call(), pc.call()]);
    const dx = raws.map((r, i) => Array.from((i === 1 || i === 3 || i === 4 ? pw : pc).collect(r).dx?.data ?? []));
    for (const i of [0, 2, 5]) expect(dx[i]).toEqual([1, 0, 0, 10, 0, 0, 0, 0]);
    for (const i of [1, 3, 4]) expect(dx[i]).toEqual([0, 0, 0, 0, 0, 1, 0, 10]);
  });
});
