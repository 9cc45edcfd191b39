// `convbench coverage`: which semantic features the cases exercise, per op and direction, measured
// from each case's resolved geometry and data (what a kernel receives), never from its name or the
// attributes as written: explicit pads that equal a SAME split are that SAME split, and a ceil-mode
// window the geometry drops is seen through the output size. Every feature is one row of FEATURES;
// a feature with no case in one of its cells is a hole, and the command exits 1 on it (for CI).
import { parseArgs } from 'node:util';
import { type Case, type ConvCase, hasBackward, hasForward, hasIndices, loadCases, type Op, type PoolCase } from './cases/load.ts';
import type { CommandOutput } from './fuzz.ts';
import type { Conv2dGeometry, Pool2dGeometry } from './geometry.ts';
import { COMPUTATIONS, type Computation, opHas } from './invoke.ts';
import { BUNDLED_CASES } from './paths.ts';
import { safe, safeLine } from './terminal.ts';

/** One semantic feature: the ops (and directions) it applies to, and whether a case exercises it. */
export interface Feature {
  name: string;
  ops: readonly Op[];
  /** The computations it applies to (default every computation of its ops: forward, backward, and max pooling's indices). */
  directions?: readonly Computation[];
  description: string;
  has: (c: Case) => boolean;
}

export const OPS: readonly Op[] = ['conv2d', 'maxpool2d', 'avgpool2d'];
const ALL = OPS;
const POOLS: readonly Op[] = ['maxpool2d', 'avgpool2d'];
const CONV: readonly Op[] = ['conv2d'];
const MAX: readonly Op[] = ['maxpool2d'];
const AVG: readonly Op[] = ['avgpool2d'];

// ---- geometry ----

type Geometry = Conv2dGeometry | Pool2dGeometry;

/** One spatial axis of a resolved geometry. */
interface Axis { size: number; out: number; kernel: number; stride: number; dilation: number; pad0: number; pad1: number; extent: number }

function axesOf(g: Geometry): [Axis, Axis] {
  return [
    { size: g.inHeight, out: g.outHeight, kernel: g.kernelHeight, stride: g.strideHeight, dilation: g.dilationHeight, pad0: g.padTop, pad1: g.padBottom, extent: g.effectiveKernelHeight },
    { size: g.inWidth, out: g.outWidth, kernel: g.kernelWidth, stride: g.strideWidth, dilation: g.dilationWidth, pad0: g.padLeft, pad1: g.padRight, extent: g.effectiveKernelWidth },
  ];
}

const either = (g: Geometry, test: (a: Axis) => boolean): boolean => axesOf(g).some(test);

/** The first tap of window o. */
const start = (a: Axis, o: number): number => o * a.stride - a.pad0;

/** The padding SAME gives this axis ([start, end]), or undefined when the output size is not SAME's. */
function sameSplit(a: Axis): number | undefined {
  if (a.out !== Math.ceil(a.size / a.stride)) return undefined;
  const total = Math.max((a.out - 1) * a.stride + a.extent - a.size, 0);
  return a.pad0 + a.pad1 === total ? total : undefined;
}

/** The padding of an axis is SAME's with an odd total, the odd pad at the start (LOWER) or the end (UPPER). */
function oddSame(a: Axis, lower: boolean): boolean {
  const total = sameSplit(a);
  return total !== undefined && total % 2 === 1 && (lower ? a.pad0 === a.pad1 + 1 : a.pad1 === a.pad0 + 1);
}

/** Pools: ceil rounding of this span would add a window starting in the end padding (the window ceil mode drops). */
function dropsEndWindow(a: Axis): boolean {
  const span = a.size + a.pad0 + a.pad1 - a.extent;
  return span % a.stride !== 0 && a.out === Math.floor(span / a.stride) + 1 && start(a, a.out) >= a.size;
}

/** Per axis and output index: the in-bounds taps of the window, in kernel order. */
function tapsOf(a: Axis): number[][] {
  const taps: number[][] = [];
  for (let o = 0; o < a.out; o++) {
    const row: number[] = [];
    for (let k = 0; k < a.kernel; k++) {
      const i = start(a, o) + k * a.dilation;
      if (i >= 0 && i < a.size) row.push(i);
    }
    taps.push(row);
  }
  return taps;
}

/** The windows of an axis that contain input index i. */
function windowsAt(a: Axis, i: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < a.kernel; k++) {
    const t = i + a.pad0 - k * a.dilation;
    if (t >= 0 && t % a.stride === 0 && t / a.stride < a.out) out.push(t / a.stride);
  }
  return out;
}

// ---- data ----

const anyOf = (data: Float32Array, test: (v: number) => boolean): boolean => {
  for (const v of data) if (test(v)) return true;
  return false;
};

/** x, and for conv the weights too. */
const inputsOf = (c: Case): Float32Array[] => (c.op === 'conv2d' ? [c.x.data, c.w.data] : [c.x.data]);
const inInput = (test: (v: number) => boolean) => (c: Case): boolean => inputsOf(c).some((d) => anyOf(d, test));

/**
 * Some window has a padding (or ceil-overhang) tap and a non-finite input tap (in any channel: for
 * conv every channel is in some group's window at the same place).
 */
function nonFiniteInPaddedWindow(c: Case): boolean {
  if (!anyOf(c.x.data, (v) => !Number.isFinite(v))) return false;
  const g = c.geometry;
  const [ah, aw] = axesOf(g);
  const rows = tapsOf(ah);
  const cols = tapsOf(aw);
  const channels = c.op === 'conv2d' ? c.geometry.inChannels : c.geometry.channels;
  const { inHeight: H, inWidth: W } = g;
  for (let oy = 0; oy < ah.out; oy++) {
    for (let ox = 0; ox < aw.out; ox++) {
      if (rows[oy].length === ah.kernel && cols[ox].length === aw.kernel) continue; // no padding tap
      for (let n = 0; n < g.batch; n++) {
        for (let ch = 0; ch < channels; ch++) {
          const plane = (n * channels + ch) * H * W;
          for (const y of rows[oy]) for (const x of cols[ox]) if (!Number.isFinite(c.x.data[plane + y * W + x])) return true;
        }
      }
    }
  }
  return false;
}

// ---- max pooling windows ----

/** Per plane and window: the maximum (NaN when the window's output is NaN) and where it is (flat indices in the plane). */
interface MaxWindow { max: number; at: number[] }

function maxWindows(c: PoolCase, plane: number, rows: number[][], cols: number[][]): MaxWindow[] {
  const g = c.geometry;
  const base = plane * g.inHeight * g.inWidth;
  const out: MaxWindow[] = [];
  for (const r of rows) {
    for (const cl of cols) {
      let max = Number.NEGATIVE_INFINITY;
      let at: number[] = [];
      let nan = false;
      for (const y of r) {
        for (const x of cl) {
          const i = y * g.inWidth + x;
          const v = c.x.data[base + i];
          if (Number.isNaN(v)) { nan = true; continue; }
          if (v > max || at.length === 0) { max = v; at = [i]; } else if (v === max) at.push(i);
        }
      }
      out.push(nan && (g.propagateNan || at.length === 0) ? { max: Number.NaN, at: [] } : { max, at });
    }
  }
  return out;
}

/** Whether `test` holds for some window of some plane of a max-pool case. */
function someMaxWindow(c: Case, test: (w: MaxWindow, all: MaxWindow[], ah: Axis, aw: Axis, cols: number) => boolean): boolean {
  if (c.op !== 'maxpool2d') return false;
  const [ah, aw] = axesOf(c.geometry);
  const rows = tapsOf(ah);
  const cols = tapsOf(aw);
  for (let plane = 0; plane < c.geometry.batch * c.geometry.channels; plane++) {
    const all = maxWindows(c, plane, rows, cols);
    if (all.some((w) => test(w, all, ah, aw, c.geometry.inWidth))) return true;
  }
  return false;
}

/** A window whose finite (or +inf) maximum is at two or more taps. */
const tieInWindow = (w: MaxWindow): boolean => w.at.length >= 2 && w.max > Number.NEGATIVE_INFINITY;

/** A window with a tied maximum, one of whose tied taps is also in another window with the same maximum. */
function tieAcrossWindows(w: MaxWindow, all: MaxWindow[], ah: Axis, aw: Axis, width: number): boolean {
  if (!tieInWindow(w)) return false;
  const self = all.indexOf(w);
  for (const i of w.at) {
    for (const oy of windowsAt(ah, Math.floor(i / width))) {
      for (const ox of windowsAt(aw, i % width)) {
        const other = oy * aw.out + ox;
        if (other !== self && all[other].max === w.max) return true;
      }
    }
  }
  return false;
}

// ---- conv ----

const conv = (test: (c: ConvCase, g: Conv2dGeometry) => boolean) => (c: Case): boolean => c.op === 'conv2d' && test(c, c.geometry);
const pool = (test: (c: PoolCase, g: Pool2dGeometry) => boolean) => (c: Case): boolean => c.op !== 'conv2d' && test(c, c.geometry);
const geometry = (test: (g: Geometry) => boolean) => (c: Case): boolean => test(c.geometry);

/** The reduction length of one conv output: input channels per group times the kernel taps. */
export const reductionLength = (g: Conv2dGeometry): number => (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth;

/** The largest share of a conv output's exact value in the sum of its terms' magnitudes that counts as cancellation. */
export const CANCELLATION_RATIO = 1e-3;

/**
 * Some finite conv output whose exact value (in float64: the float32 products are exact, and the
 * sum's rounding is far below the ratio) is below CANCELLATION_RATIO of the sum of |terms| (the
 * in-bounds products and the bias), with that sum > 0.
 */
function cancels(c: ConvCase, g: Conv2dGeometry): boolean {
  const [ah, aw] = axesOf(g);
  const rows = tapsOf(ah);
  const cols = tapsOf(aw);
  const { inHeight: H, inWidth: W, kernelHeight: KH, kernelWidth: KW } = g;
  const cpg = g.inChannels / g.groups;
  const opg = g.outChannels / g.groups;
  for (let n = 0; n < g.batch; n++) {
    for (let o = 0; o < g.outChannels; o++) {
      const c0 = Math.floor(o / opg) * cpg;
      const b = c.bias ? c.bias.data[o] : 0;
      for (let oy = 0; oy < ah.out; oy++) {
        for (let ox = 0; ox < aw.out; ox++) {
          let sum = b;
          let mag = Math.abs(b);
          for (let ci = 0; ci < cpg; ci++) {
            const xBase = ((n * g.inChannels) + c0 + ci) * H * W;
            const wBase = (o * cpg + ci) * KH * KW;
            for (const y of rows[oy]) {
              const ky = (y - start(ah, oy)) / ah.dilation;
              for (const x of cols[ox]) {
                const kx = (x - start(aw, ox)) / aw.dilation;
                const t = c.x.data[xBase + y * W + x] * c.w.data[wBase + ky * KW + kx];
                sum += t;
                mag += Math.abs(t);
              }
            }
          }
          if (Number.isFinite(mag) && mag > 0 && Math.abs(sum) < CANCELLATION_RATIO * mag) return true;
        }
      }
    }
  }
  return false;
}

const pads = (g: Geometry): number => g.padTop + g.padLeft + g.padBottom + g.padRight;

/**
 * The features, one a row. Geometry features read the resolved geometry (what kernels get); data
 * features read x (and w for conv). Add a feature by adding a row.
 */
export const FEATURES: readonly Feature[] = [
  { name: 'ceil-mode overhang', ops: POOLS, description: 'the last window extends past the input and its pads (ceil mode)', has: geometry((g) => either(g, (a) => start(a, a.out - 1) + a.extent > a.size + a.pad1)) },
  { name: 'window starts in end pad', ops: ALL, description: 'conv: a window starts in the bottom/right padding; pools: ceil rounding would add a window starting there (the one ceil mode drops)', has: (c) => (c.op === 'conv2d' ? either(c.geometry, (a) => start(a, a.out - 1) >= a.size) : either(c.geometry, dropsEndWindow)) },
  { name: 'count_include_pad with pads', ops: AVG, description: 'countIncludePad with nonzero padding: pads count in the divisor', has: pool((_, g) => g.countIncludePad && pads(g) > 0) },
  { name: 'SAME_LOWER odd split', ops: ALL, description: 'an axis padded as SAME with an odd total, the odd pad at the start', has: geometry((g) => either(g, (a) => oddSame(a, true))) },
  { name: 'SAME_UPPER odd split', ops: ALL, description: 'an axis padded as SAME with an odd total, the odd pad at the end', has: geometry((g) => either(g, (a) => oddSame(a, false))) },
  { name: 'dilation with stride', ops: ALL, description: 'an axis with dilation > 1 and stride > 1', has: geometry((g) => either(g, (a) => a.dilation > 1 && a.stride > 1)) },
  { name: 'grouped (1 < groups < C)', ops: CONV, description: 'groups between 1 and the input channels', has: conv((_, g) => g.groups > 1 && g.groups < g.inChannels) },
  { name: 'depthwise multiplier > 1', ops: CONV, description: 'groups = input channels > 1, output channels a multiple >= 2 of them', has: conv((_, g) => g.groups === g.inChannels && g.inChannels > 1 && g.outChannels >= 2 * g.inChannels) },
  { name: 'batch > 1', ops: ALL, description: 'more than one image', has: geometry((g) => g.batch > 1) },
  { name: 'H != W', ops: ALL, description: 'input height differs from width', has: geometry((g) => g.inHeight !== g.inWidth) },
  { name: 'kH != kW', ops: ALL, description: 'kernel height differs from width', has: geometry((g) => g.kernelHeight !== g.kernelWidth) },
  { name: 'asymmetric pads', ops: ALL, description: 'top != bottom or left != right', has: geometry((g) => g.padTop !== g.padBottom || g.padLeft !== g.padRight) },
  { name: 'NaN in input', ops: ALL, description: 'x (or w for conv) holds a NaN', has: inInput(Number.isNaN) },
  { name: '+inf in input', ops: ALL, description: 'x (or w for conv) holds +inf', has: inInput((v) => v === Number.POSITIVE_INFINITY) },
  { name: '-inf in input', ops: ALL, description: 'x (or w for conv) holds -inf', has: inInput((v) => v === Number.NEGATIVE_INFINITY) },
  { name: 'non-finite in padded window', ops: ALL, description: 'a window with padding (or overhang) taps holds a NaN or infinity of x', has: nonFiniteInPaddedWindow },
  { name: 'max-pool tie in window', ops: MAX, description: "a window's maximum (> -inf) is at two or more taps", has: (c) => someMaxWindow(c, tieInWindow) },
  { name: 'max-pool tie across windows', ops: MAX, description: 'a tied maximum of a window is also in an overlapping window with the same maximum', has: (c) => someMaxWindow(c, tieAcrossWindows) },
  { name: 'all -inf window', ops: MAX, description: "every in-bounds tap of a window is -inf", has: (c) => someMaxWindow(c, (w) => w.max === Number.NEGATIVE_INFINITY) },
  { name: 'large K (>= 256)', ops: CONV, description: 'reduction length (C / groups) * kH * kW >= 256', has: conv((_, g) => reductionLength(g) >= 256) },
  { name: 'cancellation', ops: CONV, directions: ['forward'], description: `an output whose exact value is below ${CANCELLATION_RATIO} of the sum of |terms|`, has: conv(cancels) },
  { name: 'NaN skipped', ops: MAX, description: 'propagateNan false with a NaN in x: NaNs are skipped (an all-NaN window still gives NaN)', has: pool((c, g) => !g.propagateNan && anyOf(c.x.data, Number.isNaN)) },
  { name: 'indices storage order 1', ops: MAX, directions: ['indices'], description: 'storageOrder 1: the indices are column-major within each plane (ONNX storage_order 1)', has: pool((_, g) => g.storageOrder === 1) },
  { name: 'indices across planes', ops: MAX, directions: ['indices'], description: 'N > 1 and C > 1: an index must count the planes before its own', has: pool((_, g) => g.batch > 1 && g.channels > 1) },
  { name: 'conv window in padding', ops: CONV, description: 'a window entirely in padding (its output is the bias)', has: conv((_, g) => axesOf(g).some((a) => tapsOf(a).some((t) => t.length === 0))) },
  { name: 'zero-size batch', ops: ALL, description: 'N = 0: empty activations (conv: dw and db are zeros, empty sums)', has: geometry((g) => g.batch === 0) },
  {
    name: 'zero-size channels', ops: ALL, description: 'C = 0 (conv: no input channels, y is the bias; or no output channels, dx is zeros)',
    has: (c) => (c.op === 'conv2d' ? c.geometry.inChannels === 0 || c.geometry.outChannels === 0 : c.geometry.channels === 0),
  },
];

// ---- the matrix ----

export interface CoverageColumn { op: Op; direction: Computation }
/** Each op's computations: forward and backward, and for max pooling indices. */
export const COLUMNS: readonly CoverageColumn[] = OPS.flatMap((op) => COMPUTATIONS.filter((k) => opHas(op, k)).map((direction) => ({ op, direction })));

/** One cell: undefined where the feature does not apply, else the ids of the cases that exercise it. */
export interface CoverageRow { feature: Feature; cells: (string[] | undefined)[] }
export interface CoverageMatrix {
  columns: readonly CoverageColumn[];
  rows: CoverageRow[];
  /** The cells a feature applies to that no case exercises. */
  empty: { feature: string; op: Op; direction: Computation }[];
  cases: number;
}

const applies = (f: Feature, col: CoverageColumn): boolean => f.ops.includes(col.op) && (f.directions ?? COMPUTATIONS).includes(col.direction);
const runs = (c: Case, direction: Computation): boolean => (direction === 'forward' ? hasForward(c) : direction === 'backward' ? hasBackward(c) : hasIndices(c));

/** Which cases exercise which feature, per op and direction. Each predicate runs once per case. */
export function coverageMatrix(cases: readonly Case[], features: readonly Feature[] = FEATURES): CoverageMatrix {
  const rows: CoverageRow[] = features.map((feature) => {
    const cells: (string[] | undefined)[] = COLUMNS.map((col) => (applies(feature, col) ? [] : undefined));
    for (const c of cases) {
      if (!feature.ops.includes(c.op) || !feature.has(c)) continue;
      COLUMNS.forEach((col, i) => { if (col.op === c.op && runs(c, col.direction)) cells[i]?.push(c.id); });
    }
    return { feature, cells };
  });
  const empty = rows.flatMap((r) => r.cells.flatMap((cell, i) => (cell !== undefined && cell.length === 0 ? [{ feature: r.feature.name, ...COLUMNS[i] }] : [])));
  return { columns: COLUMNS, rows, empty, cases: cases.length };
}

const DIRECTION_SHORT: Record<Computation, string> = { forward: 'fwd', backward: 'bwd', indices: 'idx' };

/** The matrix as text: features x op/direction, a count per cell, "." where a feature does not apply, "EMPTY" for a hole. */
export function formatCoverage(m: CoverageMatrix): string[] {
  const heads = m.columns.map((c) => `${c.op} ${DIRECTION_SHORT[c.direction]}`);
  const nameWidth = Math.max('feature'.length, ...m.rows.map((r) => r.feature.name.length));
  const widths = heads.map((h) => Math.max(h.length, 'EMPTY'.length));
  const line = (first: string, cells: string[]) => `${first.padEnd(nameWidth)}  ${cells.map((s, i) => s.padStart(widths[i])).join('  ')}`.trimEnd();
  const out = [line('feature', heads)];
  for (const r of m.rows) out.push(line(r.feature.name, r.cells.map((cell) => (cell === undefined ? '.' : cell.length === 0 ? 'EMPTY' : String(cell.length)))));
  out.push('', `cases per cell, of ${m.cases} cases; "." the feature does not apply, EMPTY no case has it`, '');
  for (const r of m.rows) out.push(`${r.feature.name.padEnd(nameWidth)}  ${r.feature.description}`);
  out.push('');
  if (m.empty.length === 0) out.push('coverage: every feature has a case in every cell it applies to');
  else {
    out.push(`coverage: ${m.empty.length} empty cell${m.empty.length === 1 ? '' : 's'}:`);
    for (const e of m.empty) out.push(`  ${e.feature}: ${e.op} ${e.direction}`);
  }
  return out;
}

export const COVERAGE_HELP = `usage: convbench coverage [options]

Prints which semantic features the cases exercise (derived from each case's resolved geometry and
data), as a matrix of features x op/direction with the number of cases per cell.

  --cases <path>      case files or folders (repeatable; default: the cases bundled with convbench)

Exit codes: 0 every feature has a case in every cell it applies to, 1 some cell is empty (listed),
2 bad input (a case file that does not load, no case files, a bad flag).`;

const STANDARD_OUTPUT: CommandOutput = { out: (text) => { process.stdout.write(text); }, err: process.stderr };

/** `convbench coverage`: 0 no hole, 1 an empty cell, 2 bad input. */
export async function coverageCommand(argv: string[], io: CommandOutput = STANDARD_OUTPUT): Promise<number> {
  const say = (line: string) => io.out(`${safeLine(line)}\n`);
  const complain = (line: string) => { io.err.write(`${safeLine(line)}\n`); };
  try {
    const { values: v } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: { cases: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
    });
    if (v.help) { io.out(`${COVERAGE_HELP}\n`); return 0; }
    const paths = v.cases?.length ? v.cases : [BUNDLED_CASES];
    const loaded = loadCases(paths);
    for (const e of loaded.errors) complain(`convbench coverage: ${safe(e.message)}`);
    if (loaded.files.length === 0 && loaded.errors.length === 0) {
      complain(`convbench coverage: no case files (*.yaml) in ${paths.map(safe).join(', ')}`);
      return 2;
    }
    const matrix = coverageMatrix(loaded.cases);
    for (const l of formatCoverage(matrix)) say(l);
    if (loaded.errors.length > 0) {
      complain(`convbench coverage: ${loaded.errors.length} case error${loaded.errors.length === 1 ? '' : 's'}: the matrix counts only the cases that loaded`);
      return 2;
    }
    return matrix.empty.length > 0 ? 1 : 0;
  } catch (e) {
    const parseError = e instanceof TypeError && 'code' in e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS');
    if (parseError) {
      complain(`convbench coverage: ${safe(e.message)}`);
      return 2;
    }
    complain(`convbench coverage: harness error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    return 2;
  }
}
