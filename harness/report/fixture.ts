// A small but realistic report for the renderers' tests: one conv case (forward and backward) and
// one max-pool case whose id is hostile (HTML, '&', '|'), every result state, an oracle
// disagreement, measured / errored / n/a timings (on the conv, ONNX Runtime 100x faster than
// tfjs-cpu, as a JS kernel against a native one), a speed gate and a bad case file.
import type { CheckResult, TensorCheck } from '../check.ts';
import { conv2dGeometry, pool2dGeometry } from '../geometry.ts';
import { type Report, REPORT_FORMAT, REPORT_VERSION, type Timing } from './types.ts';

export const CONV_ID = 'resnet50 conv2d x=[1,64,56,56] w=[64,64,3,3] s=1 p=SAME_UPPER';
export const EVIL_ID = '<img src=x onerror=alert(1)> & | maxpool2d x=[1,64,112,112] k=3 s=2';

const convGeometry = conv2dGeometry([1, 64, 56, 56], [64, 64, 3, 3], { padding: 'SAME_UPPER' });
const poolGeometry = pool2dGeometry([1, 64, 112, 112], { kernel: [3, 3], strides: [2, 2], padding: [1, 1, 1, 1] });

const ok = (elements: number): TensorCheck['comparison'] => ({ ok: true, elements, failures: 0, maxRatio: 0.31, maxUlps: 2, mismatches: [] });
const passedChecks = (tensor: TensorCheck['tensor'], elements: number): TensorCheck[] => [
  { tensor, against: 'reference64', comparison: ok(elements) },
];

const Y_CONV = 64 * 56 * 56;
const Y_POOL = 64 * 56 * 56;

/** The failing implementation result: a NaN where a value should be, and a large error. */
const im2colForward: CheckResult = {
  caseId: CONV_ID, subject: 'im2col', kind: 'implementation', computation: 'forward', state: 'failed',
  checks: [
    {
      tensor: 'y', against: 'reference64',
      comparison: {
        ok: false, elements: Y_CONV, failures: 2, maxRatio: Number.POSITIVE_INFINITY, maxUlps: Number.POSITIVE_INFINITY,
        mismatches: [
          { index: 3137, coord: [0, 1, 0, 1], got: Number.NaN, want: 1.25, error: Number.POSITIVE_INFINITY, budget: 3.1e-6, ratio: Number.POSITIVE_INFINITY, ulps: Number.POSITIVE_INFINITY },
          { index: 200703, coord: [0, 63, 55, 55], got: -0.5, want: -0.4999, error: 1e-4, budget: 2.9e-6, ratio: 34.48, ulps: 1678 },
        ],
      },
    },
    { tensor: 'y', against: 'tfjs-cpu', comparison: { ...ok(Y_CONV), ok: false, failures: 1, maxRatio: 17.2, maxUlps: 1678, mismatches: [] } },
  ],
};

const results: CheckResult[] = [
  // Oracles, conv forward: tfjs-wasm disagrees with reference64.
  { caseId: CONV_ID, subject: 'tfjs-cpu', kind: 'oracle', computation: 'forward', state: 'passed', checks: passedChecks('y', Y_CONV) },
  {
    caseId: CONV_ID, subject: 'tfjs-wasm', kind: 'oracle', computation: 'forward', state: 'failed',
    checks: [{
      tensor: 'y', against: 'reference64',
      comparison: {
        ok: false, elements: Y_CONV, failures: 1, maxRatio: 2.5, maxUlps: 96,
        mismatches: [{ index: 0, coord: [0, 0, 0, 0], got: 0.7500001, want: 0.75, error: 7.4e-6, budget: 2.96e-6, ratio: 2.5, ulps: 96 }],
      },
    }],
  },
  { caseId: CONV_ID, subject: 'ort', kind: 'oracle', computation: 'forward', state: 'passed', checks: passedChecks('y', Y_CONV) },
  // Implementations, conv forward.
  { caseId: CONV_ID, subject: 'naive', kind: 'implementation', computation: 'forward', state: 'passed', checks: passedChecks('y', Y_CONV) },
  im2colForward,
  { caseId: CONV_ID, subject: 'views', kind: 'implementation', computation: 'forward', state: 'passed', checks: passedChecks('y', Y_CONV) },
  // Conv backward.
  {
    caseId: CONV_ID, subject: 'tfjs-cpu', kind: 'oracle', computation: 'backward', state: 'passed',
    checks: [...passedChecks('dx', Y_CONV), ...passedChecks('dw', 64 * 64 * 9), ...passedChecks('db', 64)],
  },
  { caseId: CONV_ID, subject: 'tfjs-wasm', kind: 'oracle', computation: 'backward', state: 'errored', error: 'Error: Kernel Conv2DBackpropFilter not registered for backend wasm' },
  { caseId: CONV_ID, subject: 'ort', kind: 'oracle', computation: 'backward', state: 'n/a', reason: 'n/a for ort: ONNX has no conv2d backward operator' },
  {
    caseId: CONV_ID, subject: 'naive', kind: 'implementation', computation: 'backward', state: 'passed',
    checks: [...passedChecks('dx', Y_CONV), ...passedChecks('dw', 64 * 64 * 9), ...passedChecks('db', 64)],
  },
  { caseId: CONV_ID, subject: 'im2col', kind: 'implementation', computation: 'backward', state: 'errored', error: 'RangeError: offset is out of bounds' },
  { caseId: CONV_ID, subject: 'views', kind: 'implementation', computation: 'backward', state: 'skipped', reason: 'views does not implement conv2d backward' },
  // Max pool forward (the hostile id).
  { caseId: EVIL_ID, subject: 'tfjs-cpu', kind: 'oracle', computation: 'forward', state: 'passed', checks: passedChecks('y', Y_POOL) },
  { caseId: EVIL_ID, subject: 'tfjs-wasm', kind: 'oracle', computation: 'forward', state: 'passed', checks: passedChecks('y', Y_POOL) },
  { caseId: EVIL_ID, subject: 'ort', kind: 'oracle', computation: 'forward', state: 'n/a', reason: 'n/a for ort: MaxPool cannot <skip> NaN & "propagateNan: false"' },
  { caseId: EVIL_ID, subject: 'naive', kind: 'implementation', computation: 'forward', state: 'passed', checks: passedChecks('y', Y_POOL) },
  {
    caseId: EVIL_ID, subject: 'im2col', kind: 'implementation', computation: 'forward', state: 'failed',
    checks: [{
      tensor: 'y', against: 'expected',
      comparison: {
        ok: false, elements: Y_POOL, failures: Y_POOL, maxRatio: Number.POSITIVE_INFINITY, maxUlps: Number.POSITIVE_INFINITY, mismatches: [],
        problem: 'shape [1,64,55,55] (193600 values), want [1,64,56,56]',
      },
    }],
  },
  { caseId: EVIL_ID, subject: 'views', kind: 'implementation', computation: 'forward', state: 'passed', checks: passedChecks('y', Y_POOL) },
];

function measured(
  caseId: string, engine: string, kind: Timing['kind'], threads: number, samplesMs: number[], work: number, unit: 'GFLOP/s' | 'GB/s',
): Timing {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const medianMs = sorted[Math.floor(sorted.length / 2)];
  const meanMs = samplesMs.reduce((a, b) => a + b, 0) / samplesMs.length;
  return {
    caseId, computation: 'forward', engine, kind, threads, processes: 1, state: 'measured', samplesMs, medianMs,
    p99Ms: sorted[sorted.length - 1], meanMs, rmePercent: 1.7, throughput: work / (medianMs * 1e6), throughputUnit: unit,
    ratioToFastest: 1,
  };
}

/** ratioToFastest and ratioToTfjsCpu, as the bench fills them in. */
function ratios(timings: Timing[]): Timing[] {
  return timings.map((t) => {
    if (t.state !== 'measured') return t;
    const same = timings.filter((o) => o.state === 'measured' && o.caseId === t.caseId && o.computation === t.computation);
    const fastest = Math.min(...same.map((o) => (o.state === 'measured' ? o.medianMs : Infinity)));
    const cpu = same.find((o) => o.engine === 'tfjs-cpu');
    return { ...t, ratioToFastest: t.medianMs / fastest, ...(cpu?.state === 'measured' ? { ratioToTfjsCpu: t.medianMs / cpu.medianMs } : {}) };
  });
}

const timings = ratios([
  measured(CONV_ID, 'tfjs-cpu', 'oracle', 1, [61.2, 60.8, 62.0, 60.9, 75.3], convGeometry.forwardFlops, 'GFLOP/s'),
  measured(CONV_ID, 'im2col', 'implementation', 1, [21.4, 20.9, 21.1, 22.8, 21.0], convGeometry.forwardFlops, 'GFLOP/s'),
  measured(CONV_ID, 'ort', 'oracle', 1, [0.612, 0.609, 0.615, 0.611, 0.7], convGeometry.forwardFlops, 'GFLOP/s'),
  { caseId: CONV_ID, computation: 'forward', engine: 'tfjs-wasm', kind: 'oracle', threads: 4, processes: 1, state: 'errored', error: 'RuntimeError: memory access out of bounds' },
  measured(EVIL_ID, 'naive', 'implementation', 1, [4.1, 4.0, 4.3, 4.2, 4.05], poolGeometry.forwardBytes, 'GB/s'),
  measured(EVIL_ID, 'tfjs-wasm', 'oracle', 4, [1.21, 1.19, 1.25, 1.2, 1.6], poolGeometry.forwardBytes, 'GB/s'),
  { caseId: EVIL_ID, computation: 'forward', engine: 'ort', kind: 'oracle', threads: 1, processes: 1, state: 'n/a', reason: 'n/a for ort: MaxPool cannot skip NaN' },
]);

export function fixtureReport(): Report {
  return {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    name: 'pr-1234',
    createdAt: '2025-06-01T12:00:00.000Z',
    environment: {
      node: 'v20.19.1', platform: 'linux', arch: 'x64', cpuModel: 'AMD EPYC 7763 64-Core Processor', cores: 4, memoryGiB: 15.6,
      packages: { '@tensorflow/tfjs-core': '4.22.0', 'onnxruntime-node': '1.23.0', tinybench: '6.2.3' },
      settings: { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1', CI: 'true' },
    },
    implementations: [
      { name: 'naive', layout: 'NCHW', source: 'built-in' },
      { name: 'im2col', layout: 'NCHW', source: 'built-in' },
      { name: 'views', layout: 'NHWC', source: 'implementations/views/index.ts' },
    ],
    oracles: [
      { name: 'tfjs-cpu', versions: { '@tensorflow/tfjs-core': '4.22.0', backend: 'cpu' }, threads: 1 },
      { name: 'tfjs-wasm', versions: { '@tensorflow/tfjs-core': '4.22.0', backend: 'wasm', simd: 'true' }, threads: 4 },
      { name: 'ort', versions: { 'onnxruntime-node': '1.23.0' }, threads: 1 },
    ],
    absentOracles: [{ name: 'tfjs-node', reason: "Cannot find module '@tensorflow/tfjs-node' (optional dependency not installed)" }],
    caseErrors: [{ file: 'cases/conv2d/broken.yaml', line: 12, field: 'cases[0].w', message: 'shape [2,3,3] <must> have rank 4' }],
    cases: [
      { id: CONV_ID, name: 'resnet50', file: 'cases/bench/resnet.yaml', line: 3, op: 'conv2d', direction: 'both', layout: 'NCHW', bench: true, geometry: convGeometry },
      { id: EVIL_ID, name: '<img src=x onerror=alert(1)> & |', file: 'cases/pool/evil.yaml', line: 7, op: 'maxpool2d', direction: 'forward', layout: 'NHWC', bench: true, geometry: poolGeometry },
    ],
    results,
    disagreements: [{
      caseId: CONV_ID, computation: 'forward', tensor: 'y', engine: 'tfjs-wasm', agreeing: ['tfjs-cpu', 'ort'], disagreeing: [],
      detail: 'y(n, c, y, x) = (0, 0, 0, 0): got 0.7500001, want 0.75, error 7.400e-6, budget 2.960e-6 (2.50x), 96 ulp',
    }],
    timings,
    gate: {
      mode: 'baseline', baselineName: 'main',
      regressions: [EVIL_ID], stillFailing: [],
      rows: [
        { caseId: CONV_ID, computation: 'forward', candidate: 'im2col', reference: 'tfjs-cpu', logRatios: [[-1.07, -1.06], [-1.08, -1.05]], estimate: -1.065, low: -1.08, high: -1.05, baseline: -1.02, threshold: 0.1, verdict: 'faster' },
        { caseId: EVIL_ID, computation: 'forward', candidate: 'naive', reference: 'tfjs-wasm', logRatios: [[1.2, 1.22], [1.25, 1.19]], estimate: 1.21, low: 1.19, high: 1.25, baseline: 1.0, threshold: 0.1, verdict: 'slower' },
      ],
      ok: false,
    },
  };
}

/** A must-reject entry the loader refused as expected. */
export const REJECTED = {
  name: 'stride zero', file: 'cases/rejects/invalid.yaml', line: 5, pattern: '/strides(\\[\\d\\])?: must be >= 1/', ok: true,
  message: 'cases/rejects/invalid.yaml:8: cases[0].attributes.strides[1]: must be >= 1',
};
/** A must-reject entry that loaded (it fails the run), with a hostile name. */
export const NOT_REJECTED = {
  name: '<b>negative pad</b> & |', file: 'cases/rejects/pads.yaml', line: 12, pattern: '/pads: must be >= 0/', ok: false,
  message: 'expected the loader to reject it with /pads: must be >= 0/, but it loaded',
};

/**
 * The fixture with two must-reject entries, the passing one first in the report (the renderings
 * put the failing one first), and one overflow-prone result: views' conv forward passed with 3
 * elements accepted as overflowed against reference64.
 */
export function fixtureWithRejections(): Report {
  const r = fixtureReport();
  r.rejections = [{ ...REJECTED }, { ...NOT_REJECTED }];
  r.results = r.results.map((x) => (x.subject === 'views' && x.caseId === CONV_ID && x.computation === 'forward' && x.state === 'passed'
    ? { ...x, checks: x.checks.map((k) => ({ ...k, comparison: { ...k.comparison, overflowProne: 5, overflowed: 3 } })) }
    : x));
  return r;
}
