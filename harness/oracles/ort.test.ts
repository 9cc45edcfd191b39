// The ONNX Runtime oracle: exact on the CS231n seed, agreement with reference64 on index-breaking
// geometry forward and backward, every declared semantic difference measured on the engine, and
// session reuse.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Case, DEFAULT_CASE_LIMITS, loadCaseText, loadCases, type PoolCase } from '../cases/load.ts';
import { checkOutputs, computationsOf, describeFailure, referenceOutputs } from '../check.ts';
import { pool2dGeometry } from '../geometry.ts';
import type { Computation, Outputs } from '../invoke.ts';
import { type AttributeValue, GraphBuilder } from './onnx-model.ts';
import { ceilModeFlag, loadOrtOracle, NCHWC_CANDIDATES, OPSET, OrtOracle, REASONS } from './ort.ts';
import { maxPool2dForward64 } from './reference64.ts';

let oracle: OrtOracle;

beforeAll(async () => {
  const { oracles, absent } = await loadOrtOracle();
  expect(absent).toEqual([]);
  const o = oracles[0];
  if (!(o instanceof OrtOracle)) throw new Error('loadOrtOracle did not return an OrtOracle');
  oracle = o;
});
afterAll(async () => { await oracle.release(); });

function load(text: string): Case[] {
  const { cases, errors } = loadCaseText(text, 'ort.test.yaml');
  expect(errors.map((e) => e.message)).toEqual([]);
  return cases;
}

function only(text: string): Case {
  const cases = load(text);
  expect(cases).toHaveLength(1);
  return cases[0];
}

function asPool(c: Case): PoolCase {
  if (c.op === 'conv2d') throw new Error(`${c.id} is not a pooling case`);
  return c;
}

async function run(c: Case, computation: Computation): Promise<Outputs> {
  const p = await oracle.prepare(c, computation);
  return p.collect(await p.call());
}

/** Runs the case and checks it against reference64 (and its exact expected values, if any). */
async function expectAgrees(c: Case, computation: Computation): Promise<void> {
  expect(oracle.unsupported(c, computation), `${c.id} ${computation}`).toBeUndefined();
  const checks = checkOutputs(c, computation, await run(c, computation), referenceOutputs(c, computation));
  const result = { caseId: c.id, subject: 'ort', kind: 'oracle' as const, computation, state: 'failed' as const, checks };
  expect(checks.every((k) => k.comparison.ok), describeFailure(result)).toBe(true);
}

/** One node on one float32 input, straight on the engine (for attributes the oracle never sets). */
async function runNode(
  op: string, x: Float32Array, shape: number[], attrs: Record<string, AttributeValue>, w?: { data: Float32Array; shape: number[] }, opset = OPSET,
) {
  const b = new GraphBuilder('probe');
  const inputs = [b.input('x', shape)];
  if (w) inputs.push(b.floats(w.data, w.shape));
  b.node(op, inputs, attrs, ['y']);
  b.output('y');
  const session = await ort.InferenceSession.create(b.toBytes(opset), { logSeverityLevel: 4, graphOptimizationLevel: 'all' });
  try {
    const r = await session.run({ x: new ort.Tensor('float32', x, shape) });
    const y = r.y;
    return { dims: [...y.dims], data: Array.from(y.data as Float32Array), inferred: session.outputMetadata[0] };
  } finally {
    await session.release();
  }
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const FLT_LOWEST = -3.4028234663852886e38;

describe('loading', () => {
  it('records its version, opset and thread settings', async () => {
    expect(oracle.name).toBe('ort');
    // The declared differences below are measured on this minor version.
    expect(oracle.versions['onnxruntime-node']).toMatch(/^1\.30\./);
    expect(oracle.versions.opset).toBe('19');
    expect(oracle.threads).toBe(1);
    const { oracles } = await loadOrtOracle({ threads: 2 });
    expect(oracles[0].threads).toBe(2);
  });

  it('measures the NCHWc block: the channel multiple at which a MaxPool forward runs in MLAS, dilated or not', () => {
    expect([0, ...NCHWC_CANDIDATES]).toContain(oracle.nchwcBlock);
    // MLAS on x86-64: blocks of 16 channels with AVX-512F, else 8.
    if (process.arch === 'x64' && existsSync('/proc/cpuinfo')) {
      const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].split(/\s+/) ?? [];
      expect(oracle.nchwcBlock).toBe(flags.includes('avx512f') ? 16 : 8);
    }
  });
});

describe('agreement', () => {
  it('reproduces the CS231n outputs exactly (all three spellings)', async () => {
    const { cases, errors } = loadCases([`${repoRoot}cases/seeds/cs231n.yaml`], DEFAULT_CASE_LIMITS, repoRoot);
    expect(errors).toEqual([]);
    expect(cases).toHaveLength(3);
    for (const c of cases) {
      expect(c.expected.y).toBeDefined();
      await expectAgrees(c, 'forward');
    }
  });

  const conv = load(`cases:
  - name: ort conv
    op: conv2d
    attributes: { strides: [2, 3], padding: [1, 0, 2, 1] }
    inputs: { x: { shape: [2, 3, 11, 7] }, w: { shape: [4, 3, 3, 2] }, bias: { shape: [4] } }
    matrix:
      attributes.strides: [1, [2, 3]]
      attributes.padding: [VALID, [1, 0, 2, 1], SAME_UPPER]
      attributes.dilations: [1, 2]
  - name: ort conv groups
    op: conv2d
    attributes: { groups: 3, strides: [2, 3], padding: [1, 0, 2, 1] }
    inputs: { x: { shape: [2, 6, 11, 7] }, w: { shape: [9, 2, 3, 2] } }
    matrix:
      attributes.dilations: [1, [2, 1]]
  - name: ort conv depthwise
    op: conv2d
    attributes: { groups: 4, strides: 2, padding: SAME_LOWER, dilations: 2 }
    inputs: { x: { shape: [2, 4, 9, 8] }, w: { shape: [8, 1, 3, 3] }, bias: { shape: [8] } }
  - name: ort conv pads beyond the kernel
    op: conv2d
    attributes: { strides: 2, padding: [3, 1, 0, 2] }
    inputs: { x: { shape: [1, 2, 5, 4] }, w: { shape: [3, 2, 2, 2] } }
  - name: ort conv 1x1
    op: conv2d
    attributes: { strides: [3, 2] }
    inputs: { x: { shape: [3, 5, 7, 4] }, w: { shape: [2, 5, 1, 1] } }
`);

  it('conv forward and backward agree with reference64: N,C>1, 11x7, strides, asymmetric pads, SAME, dilation, groups, depthwise, no bias', async () => {
    expect(conv.length).toBe(12 + 2 + 3);
    expect(conv.some((c) => c.op === 'conv2d' && c.bias === undefined)).toBe(true);
    for (const c of conv) for (const computation of computationsOf(c)) await expectAgrees(c, computation);
  });

  const pools = load(`cases:
  - name: ort maxpool
    op: maxpool2d
    attributes: { kernel: [3, 2] }
    inputs: { x: { shape: [2, 3, 11, 7] } }
    matrix:
      attributes.strides: [1, [2, 3]]
      attributes.padding: [VALID, [1, 0, 2, 1]]
      attributes.ceilMode: [false, true]
  - name: ort maxpool dilated
    op: maxpool2d
    attributes: { kernel: 3, dilations: [2, 1], padding: [2, 1, 1, 0], strides: [1, 2], ceilMode: true }
    inputs: { x: { shape: [2, 3, 12, 9] } }
  - name: ort maxpool ties
    op: maxpool2d
    attributes: { kernel: 3, padding: 1 }
    inputs: { x: { shape: [2, 3, 9, 8], integers: [-1, 1] } }
  - name: ort avgpool
    op: avgpool2d
    attributes: { kernel: [3, 2] }
    inputs: { x: { shape: [2, 3, 11, 7] } }
    matrix:
      attributes.strides: [1, [2, 3]]
      attributes.padding: [VALID, [1, 1, 1, 1], [1, 0, 2, 1]]
      attributes.ceilMode: [false, true]
      attributes.countIncludePad: [false, true]
  - name: ort avgpool overhang
    # ceil mode: the last windows reach past the bottom/right padding; the overhang is not counted.
    op: avgpool2d
    attributes: { kernel: 3, strides: 2, padding: 1, ceilMode: true }
    inputs: { x: { shape: [2, 3, 12, 8] } }
    matrix:
      attributes.countIncludePad: [false, true]
  - name: ort avgpool dilated
    op: avgpool2d
    attributes: { kernel: 3, dilations: [2, 1], padding: [2, 1, 1, 1], strides: [2, 2], ceilMode: true }
    inputs: { x: { shape: [2, 3, 12, 9] } }
    matrix:
      attributes.countIncludePad: [false, true]
  # 48 channels (a multiple of 8 and 16): the forward runs in ORT's NCHWc kernels.
  - name: ort avgpool nchwc
    op: avgpool2d
    attributes: { kernel: 3, dilations: [2, 1], padding: [2, 1, 1, 2], strides: [2, 1], ceilMode: true }
    inputs: { x: { shape: [1, 48, 9, 7] } }
    matrix:
      attributes.countIncludePad: [false, true]
  - name: ort maxpool nchwc
    op: maxpool2d
    attributes: { kernel: 3, dilations: [1, 2], padding: [1, 2, 2, 0], strides: [2, 1], ceilMode: true }
    inputs: { x: { shape: [1, 48, 9, 7] } }
`);

  it('pool forward and backward agree with reference64: ceil mode, count_include_pad both ways, dilation, ties, NCHWc', async () => {
    expect(pools.length).toBe(8 + 1 + 1 + 24 + 2 + 2 + 2 + 1);
    // Some cases really need ceil_mode = 1 (ceil and floor sizes differ).
    expect(pools.filter((c) => c.op !== 'conv2d' && ceilModeFlag(c.geometry) === 1).length).toBeGreaterThanOrEqual(6);
    const declined: string[] = [];
    for (const c of pools) {
      for (const computation of computationsOf(c)) {
        const why = oracle.unsupported(c, computation);
        if (why) declined.push(`${c.id} ${computation}: ${why}`);
        else await expectAgrees(c, computation);
      }
    }
    // Nothing is declined (ORT 1.23 declined count_include_pad forwards with bottom pad != left pad).
    expect(declined).toEqual([]);
  });
});

describe('semantics measured on the engine', () => {
  it('SAME with dilation: explicit pads work; auto_pad SAME_* + dilation is refused by Conv and mis-sized by pooling', async () => {
    // Our adapter passes the resolved pads, so dilated SAME convs run (also covered above).
    const c = only(`cases:
  - name: ort same dilated
    op: conv2d
    attributes: { padding: SAME_UPPER, dilations: 2 }
    inputs: { x: { shape: [1, 1, 7, 1] }, w: { shape: [1, 1, 3, 1] } }
`);
    await expectAgrees(c, 'forward');
    await expectAgrees(c, 'backward');
    // ORT's own auto_pad: Conv refuses at run time.
    const x = Float32Array.from({ length: 7 }, (_, i) => i + 1);
    await expect(runNode('Conv', x, [1, 1, 7, 1], { kernel_shape: [3, 1], dilations: [2, 1], auto_pad: 'SAME_UPPER' }, { data: Float32Array.of(1, 1, 1), shape: [1, 1, 3, 1] }))
      .rejects.toThrow(/Dilation not supported for AutoPadType::SAME_UPPER/);
    // MaxPool / AveragePool: the pads come from the undilated kernel (total 2, not 4), so the
    // output has 5 rows, not ceil(7 / 1) = 7.
    const same = pool2dGeometry([1, 1, 7, 1], { kernel: [3, 1], dilations: [2, 1], padding: 'SAME_UPPER' });
    expect(same.outHeight).toBe(7);
    for (const op of ['MaxPool', 'AveragePool']) {
      const y = await runNode(op, x, [1, 1, 7, 1], { kernel_shape: [3, 1], dilations: [2, 1], auto_pad: 'SAME_UPPER' });
      expect(y.dims).toEqual([1, 1, 5, 1]);
    }
    expect((await runNode('MaxPool', x, [1, 1, 7, 1], { kernel_shape: [3, 1], dilations: [2, 1], auto_pad: 'SAME_UPPER' })).data).toEqual([4, 5, 6, 7, 6]);
  });

  it('ceil mode: the kernel drops a window that would start in the end padding (as we do); ONNX shape inference does not', async () => {
    const c = asPool(only(`cases:
  - name: ort ceil last window
    op: maxpool2d
    attributes: { kernel: [2, 1], strides: [2, 1], padding: [1, 0, 1, 0], ceilMode: true }
    inputs: { x: { shape: [1, 1, 5, 1], values: [1, 2, 3, 4, 5] } }
`));
    expect(c.geometry.outHeight).toBe(3);
    // Ceil and floor agree here (3), so the oracle passes ceil_mode 0; with ceil_mode 1 the
    // engine still computes 3 rows while the model's inferred output shape says 4.
    expect(ceilModeFlag(c.geometry)).toBe(0);
    await expectAgrees(c, 'forward');
    await expectAgrees(c, 'backward');
    const y = await runNode('MaxPool', c.x.data, [1, 1, 5, 1], { kernel_shape: [2, 1], strides: [2, 1], pads: [1, 0, 1, 0], ceil_mode: 1 });
    expect(y.dims).toEqual([1, 1, 3, 1]);
    expect(y.data).toEqual([1, 3, 5]);
    expect(y.inferred.isTensor && y.inferred.shape).toEqual([1, 1, 4, 1]);
  });

  it('count_include_pad: the bottom padding counts in full; ceil-mode overhang never counts (AveragePool-19 and -11 alike)', async () => {
    const [symmetric, skewed] = load(`cases:
  - name: ort cip overhang
    op: avgpool2d
    attributes: { kernel: 3, strides: 2, padding: [1, 1, 1, 1], ceilMode: true, countIncludePad: true }
    inputs: { x: { shape: [1, 2, 6, 6] } }
  - name: ort cip skewed
    op: avgpool2d
    attributes: { kernel: [2, 2], strides: 2, padding: [1, 0, 1, 0], countIncludePad: true }
    inputs: { x: { shape: [1, 1, 6, 6], values: [1,1,1,1,1,1, 1,1,1,1,1,1, 1,1,1,1,1,1, 1,1,1,1,1,1, 1,1,1,1,1,1, 1,1,1,1,1,1] } }
`);
    expect(ceilModeFlag(asPool(symmetric).geometry)).toBe(1);
    await expectAgrees(symmetric, 'forward');
    expect(oracle.unsupported(skewed, 'forward')).toBeUndefined();
    // The last row of windows covers input row 5 and bottom padding row 6: divisor 4, so 0.5
    // (ORT 1.23's AveragePool-19 clipped the window at 6 + pads[1] = 6 rows and gave 1).
    const y = (await run(skewed, 'forward')).y;
    expect(y?.shape).toEqual([1, 1, 4, 3]);
    expect(Array.from(y?.data ?? [])).toEqual([0.5, 0.5, 0.5, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5]);
    await expectAgrees(skewed, 'forward');
    await expectAgrees(skewed, 'backward');
    // Below opset 19 (AveragePool-11, the MLAS kernel) the same now, ceil-mode overhang included
    // (1.23's AveragePool-11 always divided by the full kernel area).
    const ones = new Float32Array(36).fill(1);
    const v11 = await runNode('AveragePool', ones, [1, 1, 6, 6], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 0, 1, 0], count_include_pad: 1 }, undefined, 18);
    expect(v11.data).toEqual([0.5, 0.5, 0.5, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5]);
    const overhang = { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1, ceil_mode: 1 };
    // Top-right window: rows -1..1 (2 inside), columns 5..7 (1 inside, 6 padding, 7 overhang): 2 / 6.
    expect((await runNode('AveragePool', ones, [1, 1, 6, 6], overhang, undefined, 18)).data[3]).toBeCloseTo(2 / 6, 6);
    expect((await runNode('AveragePool', ones, [1, 1, 6, 6], overhang)).data[3]).toBeCloseTo(2 / 6, 6);
  });

  it('dilated average pooling and pads between the kernel and its dilated extent', async () => {
    const c = asPool(only(`cases:
  - name: ort pool pad vs dilated extent
    op: avgpool2d
    attributes: { kernel: 2, dilations: 2, padding: [2, 0, 0, 0] }
    inputs: { x: { shape: [1, 2, 6, 5] } }
`));
    // Our geometry allows pads below the dilated extent (3); ORT requires them below the kernel (2).
    expect(oracle.unsupported(c, 'forward')).toBe(REASONS.poolPadNotBelowKernel);
    await expect(oracle.prepare(c, 'forward')).rejects.toThrow(/Pad should be smaller than kernel/);
    const max: PoolCase = { ...c, op: 'maxpool2d' };
    expect(oracle.unsupported(max, 'backward')).toBe(REASONS.poolPadNotBelowKernel);
    // Average pooling's backward needs no pooling op, so it runs.
    await expectAgrees(c, 'backward');
  });

  const nanCases = (propagateNan: boolean) => load(`cases:
  - name: ort nan
    op: maxpool2d
    attributes: { kernel: [1, 3], strides: [1, 1], propagateNan: ${propagateNan} }
    inputs: { x: [[[[1, .nan, 0, 2, 5]]]], dy: [[[[10, 20, 30]]]] }
  - name: ort nan dilated
    # windows (1, 0), (NaN, 2), (0, 5): the NaN is a first tap
    op: maxpool2d
    attributes: { kernel: [1, 2], dilations: [1, 2], propagateNan: ${propagateNan} }
    inputs: { x: [[[[1, .nan, 0, 2, 5]]]] }
  - name: ort nan stride 3
    op: maxpool2d
    attributes: { kernel: [1, 3], strides: [1, 3], propagateNan: ${propagateNan} }
    inputs: { x: [[[[1, .nan, 0, 2, 5, 4]]]] }
  - name: ort nan dilated second tap
    # windows (1, NaN), (0, 2)
    op: maxpool2d
    attributes: { kernel: [1, 2], dilations: [1, 2], propagateNan: ${propagateNan} }
    inputs: { x: [[[[1, 0, .nan, 2]]]] }
  - name: ort nan dilated all nan
    # windows (NaN, NaN), (0, 1)
    op: maxpool2d
    attributes: { kernel: [1, 2], dilations: [1, 2], propagateNan: ${propagateNan} }
    inputs: { x: [[[[.nan, 0, .nan, 1]]]] }
`);

  it('NaN in the scalar max-pool loop (dilated forward, Indices for backward): propagated at a window\'s first tap, skipped elsewhere', async () => {
    const [undilated, firstTap, , secondTap, allNan] = nanCases(true);
    const [undilatedSkip, firstTapSkip, stride3Skip, secondTapSkip, allNanSkip] = nanCases(false);
    const values = async (c: Case) => Array.from((await run(c, 'forward')).y?.data ?? []);
    // The loop takes the first in-bounds tap, then each strictly greater one: a NaN first tap stays.
    for (const c of [firstTap, firstTapSkip]) expect(await values(c)).toEqual([1, Number.NaN, 5]);
    for (const c of [secondTap, secondTapSkip]) expect(await values(c)).toEqual([1, 2]);
    for (const c of [allNan, allNanSkip]) expect(await values(c)).toEqual([Number.NaN, 1]);
    // So each case agrees with one of the two NaN rules: propagating when every NaN is a first tap,
    // skipping when no first tap is NaN (or the window is all NaN).
    for (const c of [firstTap, allNan, secondTapSkip, allNanSkip]) {
      await expectAgrees(c, 'forward');
      await expectAgrees(c, 'backward');
    }
    await expectAgrees(stride3Skip, 'backward');
    for (const c of [secondTap, firstTapSkip]) {
      expect(oracle.unsupported(c, 'forward')).toBe(REASONS.maxNanFirstTap);
      expect(oracle.unsupported(c, 'backward')).toBe(REASONS.maxNanFirstTap);
    }
    // Backward of the undilated case: windows [1, NaN, 0], [NaN, 0, 2], [0, 2, 5] get Indices 0, 1, 4,
    // neither the propagating nor the skipping gradient.
    for (const c of [undilated, undilatedSkip]) {
      expect(oracle.unsupported(c, 'backward')).toBe(REASONS.maxNanFirstTap);
      expect(Array.from((await run(c, 'backward')).dx?.data ?? [])).toEqual([10, 20, 0, 0, 30]);
    }
    expect(Array.from(referenceOutputs(undilated, 'backward').dx?.value ?? [])).toEqual([0, 30, 0, 0, 30]);
    expect(Array.from(referenceOutputs(undilatedSkip, 'backward').dx?.value ?? [])).toEqual([10, 0, 0, 20, 30]);
  });

  it('NaN in undilated max pooling (MLAS): neither propagated nor skipped, whatever propagateNan says', async () => {
    for (const propagateNan of [true, false]) {
      const [undilated, , stride3] = nanCases(propagateNan);
      expect(oracle.unsupported(undilated, 'forward')).toBe(REASONS.maxNanMlas);
      expect(oracle.unsupported(stride3, 'forward')).toBe(REASONS.maxNanMlas);
      // Vector kernel: windows [1, NaN, 0] -> 0 (the NaN reset the maximum), [NaN, 0, 2] -> 2, [0, 2, 5] -> 5.
      expect(Array.from((await run(undilated, 'forward')).y?.data ?? [])).toEqual([0, 2, 5]);
      // Generic kernel (stride > 2): the NaN is skipped: [1, NaN, 0] -> 1.
      expect(Array.from((await run(stride3, 'forward')).y?.data ?? [])).toEqual([1, 5]);
    }
  });

  it('max pooling: MLAS starts from -FLT_MAX (an all -inf window may yield it); the scalar loop from the first tap', async () => {
    const [c, lowest] = load(`cases:
  - name: ort minus inf
    op: maxpool2d
    attributes: { kernel: 2, strides: 1, padding: 1 }
    inputs:
      x: [[[[-.inf, -.inf, 1],
            [-.inf, .inf, -2]]]]
  - name: ort lowest
    op: maxpool2d
    attributes: { kernel: 2, strides: 1, padding: 1 }
    inputs:
      x: [[[[-3.4028234663852886e38, -3.4028234663852886e38, 1],
            [-3.4028234663852886e38, 5, -2]]]]
`);
    expect(oracle.unsupported(c, 'forward')).toBe(REASONS.maxMinusInfMlas);
    const y = (await run(c, 'forward')).y;
    expect(y?.data[0]).toBe(FLT_LOWEST); // the top-left window holds only x[0,0] = -inf
    expect(y?.data[1]).toBe(Number.NEGATIVE_INFINITY); // x[0,0] and x[0,1], both -inf: right here
    // Backward: Indices start at the first tap, so every window (all -inf, or all -FLT_MAX) has its
    // argmax (ORT 1.23 started at -FLT_MAX and left such windows without a valid index).
    await expectAgrees(c, 'backward');
    await expectAgrees(lowest, 'forward');
    await expectAgrees(lowest, 'backward');
    // Dilated (the scalar loop): -inf, as we do.
    const dilated = only(`cases:
  - name: ort minus inf dilated
    op: maxpool2d
    attributes: { kernel: [1, 2], dilations: [1, 2] }
    inputs: { x: [[[[-.inf, 3, -.inf, 1]]]] }
`);
    expect(Array.from((await run(dilated, 'forward')).y?.data ?? [])).toEqual([Number.NEGATIVE_INFINITY, 3]);
    await expectAgrees(dilated, 'forward');
    await expectAgrees(dilated, 'backward');
  });

  it('NCHWc: with the channel count a multiple of the block, a dilated MaxPool forward is MLAS too (-FLT_MAX start, first-tap NaN skipped)', async () => {
    const block = oracle.nchwcBlock;
    if (block === 0) return; // no NCHWc on this CPU (the measurement is pinned in 'loading')
    const dilated = (row: string, channels: number, propagateNan = true) => only(`cases:
  - name: ort nchwc ${channels}
    op: maxpool2d
    attributes: { kernel: [1, 2], dilations: [1, 2], propagateNan: ${propagateNan} }
    inputs: { x: { shape: [1, ${channels}, 1, ${row.split(',').length}], values: [${Array(channels).fill(row).join(', ')}] } }
`);
    const perChannel = async (c: Case) => Array.from((await run(c, 'forward')).y?.data.slice(0, c.x.shape[3] - 2) ?? []);
    const minusInf = dilated('-.inf, 3, -.inf, 1', block);
    expect(oracle.unsupported(minusInf, 'forward')).toBe(REASONS.maxMinusInfMlas);
    expect(await perChannel(minusInf)).toEqual([FLT_LOWEST, 3]);
    await expectAgrees(minusInf, 'backward'); // Indices: no NCHWc
    for (const propagateNan of [true, false]) {
      // The reverse of the scalar loop: a NaN is skipped at a window's first tap, kept elsewhere.
      const first = dilated('.nan, 1, 0, 2, 5', block, propagateNan);
      expect(oracle.unsupported(first, 'forward')).toBe(REASONS.maxNanMlas);
      expect(await perChannel(first)).toEqual([0, 2, 5]);
      const second = dilated('1, 0, .nan, 2', block, propagateNan);
      expect(oracle.unsupported(second, 'forward')).toBe(REASONS.maxNanMlas);
      expect(await perChannel(second)).toEqual([Number.NaN, 2]);
    }
    // One channel short of a multiple: the scalar loop.
    if (block > 1) {
      const scalar = dilated('-.inf, 3, -.inf, 1', block - 1);
      expect(oracle.unsupported(scalar, 'forward')).toBeUndefined();
      expect(await perChannel(scalar)).toEqual([Number.NEGATIVE_INFINITY, 3]);
    }
  });

  it('max-pool ties: Indices (hence the gradient) go to the first maximum in row-major window order', async () => {
    const c = only(`cases:
  - name: ort ties
    op: maxpool2d
    attributes: { kernel: 2, strides: 2 }
    inputs:
      x: [[[[0, 3, 3, 3], [3, 3, 1, 3]]]]
      dy: [[[[10, 20]]]]
`);
    expect(Array.from((await run(c, 'backward')).dx?.data ?? [])).toEqual([0, 10, 20, 0, 0, 0, 0, 0]);
    await expectAgrees(c, 'backward');
  });
});

describe('sessions', () => {
  it('one session per distinct graph, reused across cases and calls; release frees them', async () => {
    const o = (await loadOrtOracle()).oracles[0];
    if (!(o instanceof OrtOracle)) throw new Error('not an OrtOracle');
    const [a, b, other] = load(`cases:
  - name: ort cache a
    op: conv2d
    attributes: { strides: 2, padding: 1 }
    inputs: { x: { shape: [1, 2, 6, 5] }, w: { shape: [3, 2, 3, 3] } }
  - name: ort cache b
    op: conv2d
    attributes: { strides: 2, padding: 1 }
    inputs: { x: { shape: [1, 2, 6, 5], uniform: [-1, 1], seed: 3 }, w: { shape: [3, 2, 3, 3], uniform: [-1, 1], seed: 4 } }
  - name: ort cache other
    op: conv2d
    attributes: { strides: 1, padding: 1 }
    inputs: { x: { shape: [1, 2, 6, 5] }, w: { shape: [3, 2, 3, 3] } }
`);
    expect(o.sessionCount).toBe(0);
    const pa = await o.prepare(a, 'forward');
    await o.prepare(a, 'forward');
    const pb = await o.prepare(b, 'forward');
    expect(o.sessionCount).toBe(1);
    // Same session, each case's own inputs.
    expect(pa.collect(await pa.call()).y?.data).not.toEqual(pb.collect(await pb.call()).y?.data);
    await o.prepare(a, 'backward');
    await o.prepare(other, 'forward');
    expect(o.sessionCount).toBe(3);
    await o.release();
    expect(o.sessionCount).toBe(0);
  });
});
