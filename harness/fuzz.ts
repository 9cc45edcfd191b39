// `convbench fuzz`: random valid geometry and data over the whole attribute space, every selected
// kernel against reference64, with fast-check. Each generated case is written as case-file YAML and
// loaded with loadCaseText, so what is fuzzed is exactly what a committed case would be; a failure
// (a wrong result, an error, a crash, a hang) is shrunk by fast-check to a minimal case and given
// back as ready-to-commit YAML, with the seed and the path that replay it.
//
// The kernel hosts are started once and reused: each run is runSuite on one case with the
// implementations already started (a host that crashed or hung is started again by its next call).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { type Case, type Direction, loadCaseText, type Op } from './cases/load.ts';
import { generate, type Generator } from './cases/generate.ts';
import { type CheckResult, describeFailure, type SubjectKind } from './check.ts';
import { conv2dGeometry, convOutputShape, GeometryError, type Padding, pool2dGeometry, poolOutputShape } from './geometry.ts';
import { DEFAULT_LIMITS, type HostLimits } from './host/host.ts';
import type { RemoteImplementation } from './host/remote.ts';
import { BUILT_IN_NAMES, ImplementationLoadError } from './implementations.ts';
import { type Computation, COMPUTATIONS, methodOf } from './invoke.ts';
import { activationShapeFromNchw, type Layout, weightShapeFromOihw } from './layout.ts';
import { loadOracles } from './oracles/load.ts';
import type { Oracle } from './oracles/oracle.ts';
import { progress, type ProgressStream } from './progress.ts';
import { describeDisagreement, type Disagreement, runSuite } from './run.ts';
import { selectImplementations, UsageError } from './session.ts';
import { sizeOf } from './tensor.ts';
import { safe, safeLine } from './terminal.ts';

export const FUZZ_OPS: readonly Op[] = ['conv2d', 'maxpool2d', 'avgpool2d'];
export const DEFAULT_FUZZ_RUNS = 200;
/** Seconds one kernel call may take: the fuzzed shapes are tiny, so a call this long is a hang. */
export const DEFAULT_FUZZ_TIME_LIMIT_S = 10;
/** The file name fuzzed cases are loaded under (it appears in their `file` field only). */
export const FUZZ_FILE = 'fuzz.yaml';

// ---------------------------------------------------------------------------------------------
// The generated case, as plain data (what fast-check generates and shrinks)

/** Padding as a case file writes it: a keyword, one integer for every side, or [top, left, bottom, right]. */
export type PaddingSpec = 'VALID' | 'SAME_UPPER' | 'SAME_LOWER' | number | readonly [number, number, number, number];
export type DataKind = 'uniform' | 'integers';
/** A value put into a generated tensor at a position (index modulo its size): NaN or an infinity. */
export interface Special { index: number; value: number }
/** One tensor: its canonical shape (NCHW / OIHW / [O]), the loader's generator and seed, and special values. */
export interface TensorSpec { shape: readonly number[]; kind: DataKind; seed: number; specials: readonly Special[] }

interface SpecBase {
  layout: Layout;
  strides: readonly [number, number];
  dilations: readonly [number, number];
  padding: PaddingSpec;
  x: TensorSpec;
  dy: TensorSpec;
}
export interface ConvSpec extends SpecBase { op: 'conv2d'; groups: number; w: TensorSpec; bias?: TensorSpec }
export interface PoolSpec extends SpecBase {
  op: 'maxpool2d' | 'avgpool2d';
  kernel: readonly [number, number];
  ceilMode: boolean;
  /** avgpool2d only. */
  countIncludePad?: boolean;
  /** maxpool2d only. */
  propagateNan?: boolean;
}
/** A valid case, fully resolved: every shape follows from the attributes (geometry.ts). */
export type FuzzSpec = ConvSpec | PoolSpec;

/** The generators' ranges; shapes stay at a few elements per axis. */
const RANGE = {
  batch: 2, groups: 3, perGroup: 3, channels: 4, extra: 4, kernel: 4, stride: 3, dilation: 3, pad: 3,
} as const;
const INTEGER_RANGE: readonly [number, number] = [-3, 3];
const UNIFORM_RANGE: readonly [number, number] = [-1, 1];

type Pair = readonly [number, number];
const int = (min: number, max: number) => fc.integer({ min, max });
const pairOf = (min: number, max: number) => fc.tuple(int(min, max), int(min, max));
/** Seeds do not shrink: a smaller seed is no simpler a case. */
const seedArb = fc.noShrink(fc.integer({ min: 0, max: 0xffffffff }));
const dataArb = fc.record({ kind: fc.constantFrom<DataKind>('uniform', 'integers'), seed: seedArb });
const paddingArb: fc.Arbitrary<PaddingSpec> = fc.oneof(
  { withCrossShrink: true },
  { arbitrary: fc.constant<PaddingSpec>('VALID'), weight: 2 },
  { arbitrary: fc.constant<PaddingSpec>('SAME_UPPER'), weight: 1 },
  { arbitrary: fc.constant<PaddingSpec>('SAME_LOWER'), weight: 1 },
  { arbitrary: int(0, RANGE.pad), weight: 1 },
  { arbitrary: fc.tuple(int(0, RANGE.pad), int(0, RANGE.pad), int(0, RANGE.pad), int(0, RANGE.pad)), weight: 4 },
);
const specialValue = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
/** Mostly none; else a few NaNs and infinities (max pooling's NaN policy, all -inf windows). */
const specialsArb: fc.Arbitrary<Special[]> = fc.oneof(
  { withCrossShrink: true },
  { arbitrary: fc.constant<Special[]>([]), weight: 3 },
  { arbitrary: fc.array(fc.record({ index: fc.nat({ max: 4095 }), value: specialValue }), { minLength: 1, maxLength: 4 }), weight: 2 },
);
const layoutArb = fc.constantFrom<Layout>('NCHW', 'NHWC');

const padsOf = (p: PaddingSpec): [number, number, number, number] | undefined =>
  typeof p === 'number' ? [p, p, p, p] : typeof p === 'string' ? undefined : [p[0], p[1], p[2], p[3]];
const asPadding = (p: PaddingSpec): Padding => (typeof p === 'number' ? [p, p, p, p] : p);
const extentOf = (k: number, d: number) => (k - 1) * d + 1;

/** The smallest size an axis may have for a non-empty output, plus `extra`. */
function axisSize(extent: number, pad0: number, pad1: number, extra: number): number {
  return Math.max(1, extent - pad0 - pad1) + extra;
}

interface RawConv {
  layout: Layout; batch: number; groups: number; inPerGroup: number; outPerGroup: number; extra: Pair;
  kernel: Pair; strides: Pair; dilations: Pair; padding: PaddingSpec; bias: boolean;
  x: { kind: DataKind; seed: number }; w: { kind: DataKind; seed: number }; b: { kind: DataKind; seed: number }; dy: { kind: DataKind; seed: number };
}

/** A raw draw made valid: the input is just large enough for the window and padding, plus `extra`. */
function convSpecOf(r: RawConv): ConvSpec {
  const [kH, kW] = r.kernel;
  const pads = padsOf(r.padding) ?? [0, 0, 0, 0];
  const same = typeof r.padding === 'string' && r.padding !== 'VALID';
  const height = same ? 1 + r.extra[0] : axisSize(extentOf(kH, r.dilations[0]), pads[0], pads[2], r.extra[0]);
  const width = same ? 1 + r.extra[1] : axisSize(extentOf(kW, r.dilations[1]), pads[1], pads[3], r.extra[1]);
  const channels = r.groups * r.inPerGroup;
  const outChannels = r.groups * r.outPerGroup;
  const xShape = [r.batch, channels, height, width];
  const wShape = [outChannels, r.inPerGroup, kH, kW];
  const g = conv2dGeometry(xShape, wShape, { strides: r.strides, dilations: r.dilations, padding: asPadding(r.padding), groups: r.groups });
  const t = (shape: readonly number[], d: { kind: DataKind; seed: number }): TensorSpec => ({ shape, kind: d.kind, seed: d.seed, specials: [] });
  return {
    op: 'conv2d', layout: r.layout, strides: r.strides, dilations: r.dilations, padding: r.padding, groups: r.groups,
    x: t(xShape, r.x), w: t(wShape, r.w), ...(r.bias ? { bias: t([outChannels], r.b) } : {}), dy: t(convOutputShape(g), r.dy),
  };
}

interface RawPool {
  op: 'maxpool2d' | 'avgpool2d'; layout: Layout; batch: number; channels: number; extra: Pair;
  kernel: Pair; strides: Pair; dilations: Pair; padding: PaddingSpec; ceilMode: boolean;
  /** countIncludePad (avgpool2d) or not propagateNan (maxpool2d): false, where it shrinks to, is the default. */
  flag: boolean;
  x: { kind: DataKind; seed: number }; specials: Special[]; dy: { kind: DataKind; seed: number };
}

/**
 * A raw draw made valid: explicit pads are cut to less than the window's extent, the input is just
 * large enough, plus `extra`; and where a window would lie wholly in padding (a dilation larger
 * than the input), the input grows to the dilation.
 */
function poolSpecOf(r: RawPool): PoolSpec {
  const [kH, kW] = r.kernel;
  const [eH, eW] = [extentOf(kH, r.dilations[0]), extentOf(kW, r.dilations[1])];
  const raw = padsOf(r.padding);
  let padding: PaddingSpec = r.padding;
  if (raw) {
    const cut: [number, number, number, number] = [Math.min(raw[0], eH - 1), Math.min(raw[1], eW - 1), Math.min(raw[2], eH - 1), Math.min(raw[3], eW - 1)];
    padding = typeof r.padding === 'number' && cut.every((p) => p === cut[0]) ? cut[0] : cut;
  }
  const pads = padsOf(padding) ?? [0, 0, 0, 0];
  const same = typeof padding === 'string' && padding !== 'VALID';
  let height = same ? 1 + r.extra[0] : axisSize(eH, pads[0], pads[2], r.extra[0]);
  let width = same ? 1 + r.extra[1] : axisSize(eW, pads[1], pads[3], r.extra[1]);
  const attrs = {
    kernel: r.kernel, strides: r.strides, dilations: r.dilations, padding: asPadding(padding), ceilMode: r.ceilMode,
    ...(r.op === 'avgpool2d' ? { countIncludePad: r.flag } : { propagateNan: !r.flag }),
  };
  const geometry = () => pool2dGeometry([r.batch, r.channels, height, width], attrs);
  let g;
  try {
    g = geometry();
  } catch (e) {
    if (!(e instanceof GeometryError)) throw e;
    // Only a window before the input can miss it, and only when the dilation steps over the whole input.
    height = Math.max(height, r.dilations[0]);
    width = Math.max(width, r.dilations[1]);
    g = geometry();
  }
  const xShape = [r.batch, r.channels, height, width];
  return {
    op: r.op, layout: r.layout, strides: r.strides, dilations: r.dilations, padding, kernel: r.kernel, ceilMode: r.ceilMode,
    ...(r.op === 'avgpool2d' ? { countIncludePad: r.flag } : { propagateNan: !r.flag }),
    x: { shape: xShape, kind: r.x.kind, seed: r.x.seed, specials: r.op === 'maxpool2d' ? r.specials : [] },
    dy: { shape: poolOutputShape(g), kind: r.dy.kind, seed: r.dy.seed, specials: [] },
  };
}

const convArb: fc.Arbitrary<FuzzSpec> = fc.record({
  layout: layoutArb, batch: int(1, RANGE.batch), groups: int(1, RANGE.groups), inPerGroup: int(1, RANGE.perGroup), outPerGroup: int(1, RANGE.perGroup),
  extra: pairOf(0, RANGE.extra), kernel: pairOf(1, RANGE.kernel), strides: pairOf(1, RANGE.stride), dilations: pairOf(1, RANGE.dilation),
  padding: paddingArb, bias: fc.boolean(), x: dataArb, w: dataArb, b: dataArb, dy: dataArb,
}).map(convSpecOf);

const poolArb = (op: 'maxpool2d' | 'avgpool2d'): fc.Arbitrary<FuzzSpec> => fc.record({
  op: fc.constant(op), layout: layoutArb, batch: int(1, RANGE.batch), channels: int(1, RANGE.channels), extra: pairOf(0, RANGE.extra),
  kernel: pairOf(1, RANGE.kernel), strides: pairOf(1, RANGE.stride), dilations: pairOf(1, RANGE.dilation), padding: paddingArb,
  ceilMode: fc.boolean(), flag: fc.boolean(), x: dataArb, specials: op === 'maxpool2d' ? specialsArb : fc.constant<Special[]>([]), dy: dataArb,
}).map(poolSpecOf);

/** Every op's cases, in FUZZ_OPS order (so the same seed and path give the same case whatever order --op names them in). */
export function fuzzArbitrary(ops: readonly Op[] = FUZZ_OPS): fc.Arbitrary<FuzzSpec> {
  const arbs = FUZZ_OPS.filter((op) => ops.includes(op)).map((op) => (op === 'conv2d' ? convArb : poolArb(op)));
  if (arbs.length === 0) throw new UsageError('fuzz: no op to fuzz');
  return arbs.length === 1 ? arbs[0] : fc.oneof(...arbs);
}

// ---------------------------------------------------------------------------------------------
// Case-file YAML

/** A float32 value as the shortest YAML number that reads back as the same float32 (NaN, infinities, -0 included). */
export function yamlNumber(v: number): string {
  if (Number.isNaN(v)) return '.nan';
  if (v === Number.POSITIVE_INFINITY) return '.inf';
  if (v === Number.NEGATIVE_INFINITY) return '-.inf';
  if (Object.is(v, -0)) return '-0.0';
  const f = Math.fround(v);
  for (let digits = 1; digits <= 9; digits++) {
    const text = String(Number(f.toPrecision(digits)));
    if (Math.fround(Number(text)) === f) return text;
  }
  return String(f);
}

const list = (values: readonly (number | string)[]) => `[${values.join(', ')}]`;
const pairText = ([a, b]: Pair) => (a === b ? `${a}` : list([a, b]));
const paddingText = (p: PaddingSpec) => (typeof p === 'string' || typeof p === 'number' ? `${p}` : list(p));

/** The values the loader would generate for a tensor, in the case's layout, with its specials put in. */
function literalValues(t: TensorSpec, shape: readonly number[]): Float32Array {
  const [low, high] = t.kind === 'integers' ? INTEGER_RANGE : UNIFORM_RANGE;
  const gen: Generator = { kind: t.kind, low, high, seed: t.seed };
  const data = generate(sizeOf(shape), gen);
  for (const s of t.specials) data[s.index % data.length] = s.value;
  return data;
}

/** One tensor as a flow mapping: a seeded generator, or literal values when it holds special values. */
function tensorText(t: TensorSpec, shape: readonly number[]): string {
  if (t.specials.length > 0) return `{ shape: ${list(shape)}, values: ${list([...literalValues(t, shape)].map(yamlNumber))} }`;
  const range = t.kind === 'integers' ? INTEGER_RANGE : UNIFORM_RANGE;
  return `{ shape: ${list(shape)}, ${t.kind}: ${list(range)}, seed: ${t.seed} }`;
}

export interface YamlOptions {
  /** The case's name (default "fuzz"). */
  name?: string;
  /** Default both; a forward case leaves out dy. */
  direction?: Direction;
  /** Comment lines above the document. */
  comments?: readonly string[];
}

/** The spec as a case file: a `cases:` document with one case, attributes at their defaults left out. */
export function caseYaml(spec: FuzzSpec, options: YamlOptions = {}): string {
  const direction = options.direction ?? 'both';
  const activation = (s: readonly number[]) => activationShapeFromNchw(s, spec.layout);
  const attributes: string[] = [];
  if (spec.op !== 'conv2d') attributes.push(`kernel: ${pairText(spec.kernel)}`);
  if (spec.strides[0] !== 1 || spec.strides[1] !== 1) attributes.push(`strides: ${pairText(spec.strides)}`);
  if (spec.dilations[0] !== 1 || spec.dilations[1] !== 1) attributes.push(`dilations: ${pairText(spec.dilations)}`);
  if (spec.padding !== 'VALID') attributes.push(`padding: ${paddingText(spec.padding)}`);
  if (spec.op === 'conv2d' && spec.groups !== 1) attributes.push(`groups: ${spec.groups}`);
  if (spec.op !== 'conv2d' && spec.ceilMode) attributes.push('ceilMode: true');
  if (spec.op === 'avgpool2d' && spec.countIncludePad) attributes.push('countIncludePad: true');
  if (spec.op === 'maxpool2d' && spec.propagateNan === false) attributes.push('propagateNan: false');
  const inputs = [`      x: ${tensorText(spec.x, activation(spec.x.shape))}`];
  if (spec.op === 'conv2d') {
    inputs.push(`      w: ${tensorText(spec.w, weightShapeFromOihw(spec.w.shape, spec.layout))}`);
    if (spec.bias) inputs.push(`      bias: ${tensorText(spec.bias, spec.bias.shape)}`);
  }
  if (direction !== 'forward') inputs.push(`      dy: ${tensorText(spec.dy, activation(spec.dy.shape))}`);
  return [
    ...(options.comments ?? []).map((c) => `# ${safe(c)}`.trimEnd()),
    'cases:',
    `  - name: ${JSON.stringify(options.name ?? 'fuzz')}`,
    `    op: ${spec.op}`,
    `    direction: ${direction}`,
    `    layout: ${spec.layout}`,
    ...(attributes.length ? [`    attributes: { ${attributes.join(', ')} }`] : []),
    '    inputs:',
    ...inputs,
    '',
  ].join('\n');
}

/** A YAML text the fuzzer made, loaded as any case file is; it must give exactly one case. */
export function loadFuzzCase(yaml: string): Case {
  const { cases, errors } = loadCaseText(yaml, FUZZ_FILE);
  if (errors.length > 0 || cases.length !== 1) {
    throw new Error(`convbench fuzz made a case that does not load (a bug of the fuzzer): ${errors[0]?.message ?? `${cases.length} cases`}\n${yaml}`);
  }
  return cases[0];
}

// ---------------------------------------------------------------------------------------------
// The loop

export interface FuzzOptions {
  /** As `--impl` takes them (default: the built-ins). */
  implementations?: readonly string[];
  /** Ops to fuzz (default: every op that some implementation has). */
  ops?: readonly string[];
  /** Random cases to try (default 200). */
  runs?: number;
  /** fast-check's seed (default random; the result gives it). */
  seed?: number;
  /** Replay: fast-check's counterexample path from an earlier failure (with its seed). */
  path?: string;
  /** Oracles to compare with besides reference64 (default none). */
  oracles?: readonly string[];
  /** Seconds one kernel call may take before its host is killed (default 10). */
  timeLimitSeconds?: number;
  /** Told once the implementations have started: what is fuzzed (without `ops`, the ops some implementation has). */
  onStart?(info: { ops: Op[]; implementations: string[]; oracles: string[] }): void;
  /** Told after each case: runs so far, or shrinking steps once a failure was found. */
  onProgress?(p: FuzzProgress): void;
}

export interface FuzzProgress { phase: 'running' | 'shrinking'; runs: number; of: number; shrinkSteps: number; shrunk: number }

/**
 * What one engine did over the runs (shrinking not counted): an implementation's computations
 * passed, n/a or skipped (any other state is the failure that ends the runs); an oracle's passed,
 * n/a, or disagreeing with reference64 (failed or errored: never a failure of the run).
 */
export interface FuzzTally { engine: string; kind: SubjectKind; passed: number; 'n/a': number; skipped: number; disagreed: number }

export interface FuzzFailure {
  /** The minimal failing case as a case file, ready to commit. */
  yaml: string;
  /** Its id as the loader makes it. */
  caseId: string;
  /** The failing (failed or errored) implementation results on that case. */
  results: CheckResult[];
  /** describeFailure of each. */
  description: string;
  /** fast-check's counterexample path: with the seed, `--seed <seed> --path <path>` replays it. */
  path: string;
  /** convbench's arguments that replay it. */
  replay: string[];
  /** Loading `yaml` again and checking it failed again in the same way. */
  reproduced: boolean;
  /** Smaller failing cases fast-check found on the way to this one. */
  shrinks: number;
  /** The run that first failed (1-based). */
  failedRun: number;
}

export interface FuzzResult {
  /** No failure, and something was checked. */
  ok: boolean;
  seed: number;
  ops: Op[];
  implementations: string[];
  oracles: string[];
  /** Random cases run (up to and including the first failure). */
  runs: number;
  /** Computations that passed, over all implementations. */
  checked: number;
  tallies: FuzzTally[];
  /** Oracle disagreements with reference64 seen (never failures). */
  disagreements: Disagreement[];
  failure?: FuzzFailure;
  /** How long it took, in ms. */
  elapsedMs: number;
}

interface Outcome { c: Case; results: CheckResult[]; failures: CheckResult[]; disagreements: Disagreement[] }

async function runCase(yaml: string, implementations: readonly RemoteImplementation[], oracles: readonly Oracle[]): Promise<Outcome> {
  const c = loadFuzzCase(yaml);
  const { results, disagreements } = await runSuite({ cases: [c], implementations, oracles });
  const failures = results.filter((r) => r.kind === 'implementation' && (r.state === 'failed' || r.state === 'errored'));
  return { c, results, failures, disagreements };
}

function checkOps(ops: readonly string[] | undefined): Op[] {
  const bad = (ops ?? []).find((o) => !FUZZ_OPS.some((op) => op === o));
  if (bad !== undefined) throw new UsageError(`--op: unknown op "${bad}" (one of ${FUZZ_OPS.join(', ')})`);
  return FUZZ_OPS.filter((op) => !ops?.length || ops.includes(op));
}

/** The oracles convbench knows (oracles/load.ts), checked before any is loaded. */
const ORACLE_NAMES = ['tfjs-node', 'tfjs-wasm', 'tfjs-cpu', 'ort'];

async function chosenOracles(names: readonly string[] | undefined): Promise<Oracle[]> {
  const asked = (names ?? []).filter((n) => n !== 'none');
  const named = asked.find((n) => !ORACLE_NAMES.includes(n));
  if (named !== undefined) throw new UsageError(`--oracle: unknown oracle "${named}" (known: ${ORACLE_NAMES.join(', ')}, or none)`);
  if (asked.length === 0) return [];
  const found = await loadOracles();
  const known = [...found.oracles.map((o) => o.name), ...found.absent.map((a) => a.name)];
  const unknown = asked.find((n) => !known.includes(n));
  const absent = found.absent.find((a) => asked.includes(a.name));
  const release = () => Promise.all(found.oracles.map((o) => o.release()));
  if (unknown !== undefined || absent) {
    await release();
    throw new UsageError(unknown !== undefined ? `--oracle: unknown oracle "${unknown}" (known: ${known.join(', ')}, or none)` : `--oracle: ${absent?.name} is absent: ${absent?.reason}`);
  }
  const chosen = found.oracles.filter((o) => asked.includes(o.name));
  await Promise.all(found.oracles.filter((o) => !chosen.includes(o)).map((o) => o.release()));
  return chosen;
}

/** The failing implementation results, by subject and computation, as a key to compare runs. */
const failureKeys = (rs: readonly CheckResult[]) => new Set(rs.map((r) => `${r.subject} ${r.computation}`));

/** The arguments of `convbench fuzz` that replay a failure. */
function replayArgs(o: { implementations: readonly string[]; ops: readonly string[]; oracles: readonly string[]; seed: number; path: string; timeLimitSeconds?: number }): string[] {
  return [
    'fuzz', ...o.implementations.flatMap((s) => ['--impl', s]), ...o.ops.flatMap((op) => ['--op', op]), ...o.oracles.flatMap((n) => ['--oracle', n]),
    ...(o.timeLimitSeconds !== undefined ? ['--time-limit', String(o.timeLimitSeconds)] : []),
    '--seed', String(o.seed), '--path', o.path,
  ];
}

/** Random 31-bit seed. */
const randomSeed = () => Math.floor(Math.random() * 2 ** 31);

/**
 * Fuzzes the implementations: `runs` random cases (each a case file loaded with loadCaseText), each
 * checked on every implementation against reference64 (and the chosen oracles). The first failure is
 * shrunk to a minimal case, checked again from its printed YAML, and returned. Throws UsageError on
 * bad options, ImplementationLoadError when an implementation cannot be started.
 */
export async function fuzz(options: FuzzOptions = {}): Promise<FuzzResult> {
  const started = performance.now();
  const ops = checkOps(options.ops);
  const runs = options.runs ?? DEFAULT_FUZZ_RUNS;
  if (!Number.isSafeInteger(runs) || runs < 1) throw new UsageError(`--runs must be a positive integer, got ${runs}`);
  const seed = options.seed ?? randomSeed();
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer, got ${seed}`);
  if (options.path !== undefined && !/^\d+(:\d+)*$/.test(options.path)) throw new UsageError(`--path must be a fast-check path like 12:0:3, got "${options.path}"`);
  const timeLimit = options.timeLimitSeconds ?? DEFAULT_FUZZ_TIME_LIMIT_S;
  if (!(timeLimit > 0 && timeLimit <= 86_400)) throw new UsageError(`--time-limit must be a number of seconds in (0, 86400], got ${timeLimit}`);
  const limits: HostLimits = { ...DEFAULT_LIMITS, callTimeLimitMs: 1000 * timeLimit };
  const specs = options.implementations?.length ? [...options.implementations] : [...BUILT_IN_NAMES];

  const oracles = await chosenOracles(options.oracles);
  let implementations: RemoteImplementation[] = [];
  try {
    implementations = await selectImplementations(specs, limits);
    const has = (impl: RemoteImplementation, op: Op) => COMPUTATIONS.some((k) => impl.hello.ops.includes(methodOf(op, k)));
    const idle = implementations.find((impl) => !ops.some((op) => has(impl, op)));
    if (idle) {
      throw new UsageError(`${idle.source}: ${idle.name} implements none of the fuzzed ops ${ops.join(', ')} (it has ${idle.hello.ops.join(', ') || 'no ops'}); nothing was run`);
    }
    // Without --op, only the ops some implementation has: no run is spent on a case every kernel skips.
    const fuzzed = options.ops?.length ? ops : ops.filter((op) => implementations.some((impl) => has(impl, op)));
    const arbitrary = fuzzArbitrary(fuzzed);
    options.onStart?.({ ops: fuzzed, implementations: implementations.map((i) => i.name), oracles: oracles.map((o) => o.name) });

    const tally = (engine: string, kind: SubjectKind): FuzzTally => ({ engine, kind, passed: 0, 'n/a': 0, skipped: 0, disagreed: 0 });
    const tallies: FuzzTally[] = [...implementations.map((i) => tally(i.name, 'implementation')), ...oracles.map((o) => tally(o.name, 'oracle'))];
    const disagreements: Disagreement[] = [];
    const failing = new Map<string, Outcome>(); // YAML text -> its outcome, for every failing case met
    let harnessError: { error: unknown } | undefined;
    let runsDone = 0;
    let failedRun = 0;
    let shrinkSteps = 0;
    let shrunk = 0;
    const property = fc.asyncProperty(arbitrary, async (spec) => {
      if (harnessError) return true; // the loop is over: let fast-check finish at once
      try {
        const yaml = caseYaml(spec);
        const outcome = await runCase(yaml, implementations, oracles);
        const found = failedRun > 0;
        if (found) shrinkSteps++;
        else runsDone++;
        if (outcome.failures.length > 0) {
          failing.set(yaml, outcome);
          if (found) shrunk++;
          else failedRun = runsDone;
        } else if (!found) {
          disagreements.push(...outcome.disagreements);
          for (const r of outcome.results) {
            const t = tallies.find((x) => x.engine === r.subject && x.kind === r.kind);
            if (t) t[r.state === 'failed' || r.state === 'errored' ? 'disagreed' : r.state]++;
          }
        }
        options.onProgress?.({ phase: failedRun > 0 ? 'shrinking' : 'running', runs: runsDone, of: runs, shrinkSteps, shrunk });
        return outcome.failures.length === 0;
      } catch (e) {
        harnessError = { error: e };
        return true;
      }
    });
    const details = await fc.check(property, { numRuns: runs, seed, ...(options.path !== undefined ? { path: options.path } : {}), endOnFailure: false });
    if (harnessError) throw harnessError.error;
    const base = {
      seed, ops: fuzzed, implementations: implementations.map((i) => i.name), oracles: oracles.map((o) => o.name), tallies, disagreements,
      checked: tallies.reduce((n, t) => n + (t.kind === 'implementation' ? t.passed : 0), 0),
    };
    if (!details.failed || details.counterexample === null) {
      return { ...base, ok: base.checked > 0, runs: runsDone, elapsedMs: performance.now() - started };
    }
    const spec = details.counterexample[0];
    const outcome = failing.get(caseYaml(spec));
    if (!outcome) throw new Error('convbench fuzz: fast-check reported a counterexample the fuzzer did not see fail');
    const path = details.counterexamplePath ?? '';
    // The ops decide what is generated: the replay names them unless they are every op.
    const replay = replayArgs({ implementations: specs, ops: fuzzed.length < FUZZ_OPS.length ? fuzzed : [], oracles: oracles.map((o) => o.name), seed, path, timeLimitSeconds: options.timeLimitSeconds });
    const failure = await minimalYaml(spec, outcome, { seed, path, replay }, implementations, oracles);
    return {
      ...base, ok: false, runs: failedRun,
      failure: { ...failure, path, replay, shrinks: details.numShrinks, failedRun },
      elapsedMs: performance.now() - started,
    };
  } finally {
    await Promise.all([...implementations.map((i) => i.close()), ...oracles.map((o) => o.release())]);
  }
}

/**
 * The minimal case as it will be printed: named after its seed, narrowed to the direction
 * that failed, loaded again from that text and checked again. When the narrowed text does not fail
 * the same way, the case with both directions is given (and checked) instead.
 */
async function minimalYaml(
  spec: FuzzSpec, outcome: Outcome, at: { seed: number; path: string; replay: string[] },
  implementations: readonly RemoteImplementation[], oracles: readonly Oracle[],
): Promise<Pick<FuzzFailure, 'yaml' | 'caseId' | 'results' | 'description' | 'reproduced'>> {
  const computations = new Set<Computation>(outcome.failures.map((r) => r.computation));
  const narrowed: Direction = computations.size === 1 ? [...computations][0] : 'both';
  const want = failureKeys(outcome.failures);
  const text = (direction: Direction) => caseYaml(spec, {
    name: `fuzz seed ${at.seed}`, direction,
    comments: [
      `Found by convbench fuzz: ${[...want].join(', ')} failed.`,
      `Replay: convbench ${at.replay.map(shellWord).join(' ')}`,
    ],
  });
  const attempt = async (direction: Direction) => {
    const yaml = text(direction);
    const again = await runCase(yaml, implementations, oracles);
    const keys = failureKeys(again.failures);
    return { yaml, again, reproduced: [...want].every((k) => keys.has(k)) };
  };
  let pick = await attempt(narrowed);
  if (!pick.reproduced && narrowed !== 'both') pick = await attempt('both');
  const results = pick.again.failures.length > 0 ? pick.again.failures : outcome.failures;
  return { yaml: pick.yaml, caseId: pick.again.c.id, results, description: results.map(describeFailure).join('\n'), reproduced: pick.reproduced };
}

/** A word for a POSIX shell: as it is when plain, else single-quoted. */
export function shellWord(w: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`;
}

// ---------------------------------------------------------------------------------------------
// The command

export const FUZZ_HELP = `usage: convbench fuzz [options]

Checks every implementation on random valid cases against reference64: conv2d (batch, channels,
groups, depthwise with a multiplier, H != W, kH != kW, strides, dilations, explicit asymmetric pads,
SAME_UPPER, SAME_LOWER, VALID, bias or none), maxpool2d and avgpool2d (kernel, strides,
dilations, pads, ceil mode, count_include_pad, NaN policy with NaNs and infinities in x), NCHW and
NHWC case layouts, forward and backward. Each case is written as case-file YAML and loaded like a
committed case. A failure (a wrong result, an error, a crash, a hang) is shrunk to a minimal case
and printed as a ready-to-commit case file, with the seed and path that replay it.

  --impl <spec>       a built-in (naive, im2col, views, fast), a module path, "cmd:<command>" or a
                      .json manifest, as for run (repeatable; default: all built-ins)
  --op <op>           only conv2d, maxpool2d or avgpool2d (repeatable; default: every op that
                      some implementation has)
  --runs <n>          random cases to try (default ${DEFAULT_FUZZ_RUNS})
  --seed <n>          fast-check's seed (default: random, printed)
  --path <path>       with --seed: replay the failure at this fast-check path (printed with it;
                      give the same --impl, --op and --oracle: they decide what is generated)
  --oracle <name>     also compare with an oracle that agrees with reference64: tfjs-node,
                      tfjs-wasm, tfjs-cpu, ort (repeatable; default: none)
  --time-limit <s>    seconds one kernel call may take before its host is killed and the case
                      fails (default ${DEFAULT_FUZZ_TIME_LIMIT_S})
  --save <file>       also write the minimal failing case to this file

Exit codes: 0 every case passed (and something was checked), 1 a failure was found (its case
printed), 2 bad input or harness error.`;

/** Plain decimals: Number() would also take "0x10", "Infinity" and "1e400". */
function numberFlag(flag: string, text: string | undefined, integer: boolean, allowNegative = false): number | undefined {
  if (text === undefined) return undefined;
  const ok = integer ? (allowNegative ? /^-?\d+$/ : /^\d+$/) : /^\d+(\.\d+)?$/;
  const v = ok.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isFinite(v) || (!allowNegative && !(v > 0)) || (integer && !Number.isSafeInteger(v))) {
    throw new UsageError(`${flag} must be a ${allowNegative ? '' : 'positive '}${integer ? 'integer' : 'number'}, got "${text}"`);
  }
  return v;
}

/** Where the command writes: its report to `out`, progress and errors to `err`. */
export interface CommandOutput { out(text: string): void; err: ProgressStream }
const STANDARD_OUTPUT: CommandOutput = { out: (text) => { process.stdout.write(text); }, err: process.stderr };

/** `convbench fuzz`: 0 all passed, 1 a failure found (its YAML printed), 2 bad input or harness error. */
export async function fuzzCommand(argv: string[], io: CommandOutput = STANDARD_OUTPUT): Promise<number> {
  const say = (line: string) => io.out(`${safeLine(line)}\n`);
  const complain = (line: string) => { io.err.write(`${safeLine(line)}\n`); };
  try {
    const { values: v } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        impl: { type: 'string', multiple: true }, op: { type: 'string', multiple: true }, oracle: { type: 'string', multiple: true },
        runs: { type: 'string' }, seed: { type: 'string' }, path: { type: 'string' }, 'time-limit': { type: 'string' },
        save: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
    if (v.help) { io.out(`${FUZZ_HELP}\n`); return 0; }
    const seed = numberFlag('--seed', v.seed, true, true) ?? randomSeed();
    if (Math.abs(seed) > 2 ** 32) throw new UsageError(`--seed must be a 32-bit integer, got "${v.seed}"`);
    if (v.path !== undefined && v.seed === undefined) throw new UsageError('--path replays a failure of one seed: give its --seed too');
    const runs = numberFlag('--runs', v.runs, true) ?? DEFAULT_FUZZ_RUNS;
    const timeLimitSeconds = numberFlag('--time-limit', v['time-limit'], false);
    checkOps(v.op);
    const impls = v.impl?.length ? v.impl : [...BUILT_IN_NAMES];
    const oracles = (v.oracle ?? []).filter((o) => o !== 'none');
    const bar = progress('fuzzing', io.err);
    let shrinking = false;
    let lastLine = Date.now();
    const result = await fuzz({
      implementations: impls, ops: v.op, runs, seed, ...(v.path !== undefined ? { path: v.path } : {}), oracles,
      ...(timeLimitSeconds !== undefined ? { timeLimitSeconds } : {}),
      onStart: (info) => {
        say(`fuzz: seed ${seed}${v.path !== undefined ? `, replaying path ${safe(v.path)}` : `, ${runs} runs`} of ${info.ops.join(', ')} ` +
          `on ${info.implementations.map(safe).join(', ')}; against reference64${info.oracles.map((o) => `, ${safe(o)}`).join('')}`);
      },
      onProgress: (p) => {
        if (p.phase === 'running') { bar.update(p.runs, v.path !== undefined ? 1 : p.of, ''); return; }
        if (!shrinking) { shrinking = true; bar.done(); complain(`fuzz: run ${p.runs} failed; shrinking it`); }
        if (p.shrinkSteps > 0 && Date.now() - lastLine > 5000) {
          lastLine = Date.now();
          complain(`fuzz: shrinking: ${p.shrinkSteps} cases tried, ${p.shrunk} smaller failing ones`);
        }
      },
    });
    bar.done();
    const seconds = (result.elapsedMs / 1000).toFixed(1);
    for (const d of result.disagreements.slice(0, 3)) say(`note: ${safe(describeDisagreement(d))}`);
    if (result.disagreements.length > 3) say(`note: ${result.disagreements.length - 3} more oracle disagreements with reference64`);
    const tallies = result.tallies.map((t) => `${safe(t.engine)} ${t.passed} passed${t['n/a'] ? `, ${t['n/a']} n/a` : ''}` +
      `${t.skipped ? `, ${t.skipped} skipped` : ''}${t.disagreed ? `, ${t.disagreed} disagreed with reference64` : ''}`).join('; ');
    if (!result.failure) {
      say(`fuzz: ${result.runs} runs passed in ${seconds} s (seed ${result.seed}): ${tallies}`);
      if (!result.ok) { complain('convbench fuzz: nothing was checked (every computation skipped or n/a)'); return 2; }
      return 0;
    }
    const f = result.failure;
    const where = v.path !== undefined ? `replaying path ${safe(v.path)}` : `at run ${f.failedRun} of ${runs}`;
    say(`fuzz: FAILED ${where} (seed ${result.seed}), shrunk ${f.shrinks} times, in ${seconds} s`);
    say(f.description);
    say('');
    say(`minimal failing case${f.reproduced ? '' : ' (WARNING: it did not fail again when loaded from this text: the failure may be flaky)'}, ready to commit:`);
    say('');
    io.out(safeLine(f.yaml));
    say('');
    say(`replay: convbench ${f.replay.map(shellWord).join(' ')}`);
    if (v.save !== undefined) {
      try {
        writeFileSync(v.save, f.yaml);
        const selection = f.replay.slice(1, f.replay.indexOf('--seed'));
        const check = ['run', '--cases', v.save, ...selection, ...(oracles.length ? [] : ['--oracle', 'none']), '--no-bench'];
        say(`saved: ${safe(v.save)}; check it with: convbench ${check.map(shellWord).join(' ')}`);
      } catch (e) {
        complain(`convbench fuzz: --save: cannot write ${safe(v.save)}: ${safe(e instanceof Error ? e.message : String(e))}`);
      }
    }
    return 1;
  } catch (e) {
    const parseError = e instanceof TypeError && 'code' in e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS');
    if (e instanceof UsageError || e instanceof ImplementationLoadError || parseError) {
      complain(`convbench fuzz: ${safe(e.message)}`);
      return 2;
    }
    complain(`convbench fuzz: harness error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    return 2;
  }
}
