// Load, validate and expand YAML case files into runnable cases (canonical NCHW / OIHW tensors
// plus a geometry record). Every problem names file, line and field; other cases still load.
// The format is schema.ts (checked in validate.ts), the bounds limits.ts, the reading of paths files.ts.
import { isAbsolute, relative } from 'node:path';
import type { ErrorObject } from 'ajv';
import { isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import {
  conv2dGeometry, convOutputShape, type Conv2dGeometry, GeometryError, type Padding, pool2dGeometry,
  type Pool2dGeometry, poolOutputShape, zeroSizeDimensions,
} from '../geometry.ts';
import { isRecord } from '../guards.ts';
import { activationShapeFromNchw, activationShapeToNchw, activationToNchw, type Layout, weightShapeToOihw, weightsToOihw } from '../layout.ts';
import { formatShape, sameShape, sizeOf, type Tensor } from '../tensor.ts';
import { caseFiles, readCaseFile } from './files.ts';
import { fnv1a, generate, type Generator } from './generate.ts';
import { beyond, type CaseLimits, caseLimits, DEFAULT_CASE_LIMITS, expandsPast } from './limits.ts';
import type { Direction, ExpectedTolerance, Nested, Op, OutputName, RawAttributes, RawCase, RawExpected, RawPadding, RawPair, RawTensor } from './raw.ts';
import { bestSchemaError, caseErrors, describeSchemaError, finiteCopy, isRawCase, validateFile } from './validate.ts';

export type { Direction, Op, OutputName } from './raw.ts';
export { CASE_LIMIT_FLAGS, type CaseLimits, caseLimits, DEFAULT_CASE_LIMITS } from './limits.ts';
export { type CaseFileEntry, caseFiles } from './files.ts';

interface CaseBase {
  /** Unique: the name followed by the geometry, e.g. `cs231n conv2d x=[1,3,7,7] w=[2,3,3,3] s=2 p=VALID`. */
  id: string;
  name: string;
  file: string;
  line: number;
  direction: Direction;
  /** Layout the case was written in (its tensors are stored here in NCHW / OIHW). */
  layout: Layout;
  toleranceFactor: number;
  bench: boolean;
  /** Per-case slowdown threshold of the speed gate (0.1 = 10%), when the case sets one. */
  gateThreshold?: number;
  /** Time limit of one kernel call of this case (the file's timeLimitSeconds * 1000), when it sets one. */
  timeLimitMs?: number;
  /** Expected outputs, NCHW / OIHW: exact, unless `expectedTolerance` is set. */
  expected: Partial<Record<OutputName, Tensor>>;
  /** The case's `tolerance.expected`: its expected outputs were computed elsewhere and compare within it. */
  expectedTolerance?: ExpectedTolerance;
}
export interface ConvCase extends CaseBase { op: 'conv2d'; geometry: Conv2dGeometry; x: Tensor; w: Tensor; bias?: Tensor; dy: Tensor }
export interface PoolCase extends CaseBase { op: 'maxpool2d' | 'avgpool2d'; geometry: Pool2dGeometry; x: Tensor; dy: Tensor }
export type Case = ConvCase | PoolCase;

export const hasForward = (c: Case): boolean => c.direction === 'forward' || c.direction === 'both';
export const hasBackward = (c: Case): boolean => c.direction === 'backward' || c.direction === 'both';
/** Max pooling's indices computation (maxPool2dWithIndices) runs with forward, or alone. */
export const hasIndices = (c: Case): boolean => c.op === 'maxpool2d' && c.direction !== 'backward';

export class CaseError extends Error {
  constructor(readonly file: string, readonly line: number, readonly field: string, readonly detail: string) {
    super(`${file}:${line}: ${field ? `${field}: ` : ''}${detail}`);
    this.name = 'CaseError';
  }
}

/**
 * A must-reject entry (`reject:` in the file) as the loader judged it: `ok` when it refused the
 * entry with messages that all match `pattern`; `message` is the loader's message when ok, else
 * what went wrong.
 */
export interface Rejection { name: string; file: string; line: number; pattern: string; ok: boolean; message: string }

export interface LoadResult { cases: Case[]; errors: CaseError[]; rejections: Rejection[]; files: string[] }

/** Bytes of tensors kept so far by one load, against maxTotalBytes. */
interface Budget { used: number }

/** A case that would take the load past maxTotalBytes: it and the rest of its matrix are skipped. */
class OverBudget extends CaseError {}

type Path = (string | number)[];

/** Where things are in one YAML document. */
class Locator {
  constructor(private doc: Document, private lines: LineCounter, readonly file: string) {}

  /** Line of the deepest existing node along `path` (1-based). */
  line(path: Path): number {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true);
      if (node && typeof node === 'object' && 'range' in node && Array.isArray(node.range)) {
        return this.lines.linePos(node.range[0]).line;
      }
    }
    return 1;
  }

  error(path: Path, detail: string): CaseError {
    return new CaseError(this.file, this.line(path), fieldName(path), detail);
  }
}

function fieldName(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** The schema error that names the case's problem, at its line. */
function schemaErrors(errors: ErrorObject[], base: Path, loc: Locator): CaseError {
  const e = bestSchemaError(errors);
  const path: Path = [...base, ...e.instancePath.split('/').slice(1).map((p) => (/^\d+$/.test(p) ? Number(p) : p))];
  return loc.error(path, describeSchemaError(e));
}

/**
 * A copy of `target` with `value` at the dot path `keys` (a missing or non-object step becomes an
 * object). Only the objects along the path are copied; the rest (large literal tensors) is shared.
 */
function withValue(target: Record<string, unknown>, keys: string[], value: unknown): Record<string, unknown> {
  const [key, ...rest] = keys;
  const next = target[key];
  return { ...target, [key]: rest.length === 0 ? value : withValue(isRecord(next) ? next : {}, rest, value) };
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const OPEN = -1; // being walked: meeting it again means an alias inside itself
const BAD = -2; // holds a problem: every alias to it is one too

interface Problem { path: Path; detail: string }

/**
 * Walks the parsed YAML once per distinct node, before anything copies it: rejects the keys
 * __proto__, constructor and prototype (also as a step of a matrix dot path such as
 * `attributes.__proto__`), and aliases that contain themselves. Returns the number of values with
 * every alias expanded, for the maxFileBytes bound.
 */
function checkTree(v: object, path: Path, seen: Map<object, number>, problems: Problem[]): number {
  const known = seen.get(v);
  if (known === OPEN) problems.push({ path, detail: 'a YAML alias that contains itself' });
  else if (known === BAD) problems.push({ path, detail: 'a YAML alias to a node with a problem reported above' });
  if (known !== undefined) return Math.max(known, 1);
  seen.set(v, OPEN);
  const before = problems.length;
  const child = (x: unknown, key: string | number) => (typeof x === 'object' && x !== null ? checkTree(x, [...path, key], seen, problems) : 1);
  let size = 1;
  if (Array.isArray(v)) v.forEach((x: unknown, i) => { size += child(x, i); });
  else {
    for (const [key, x] of Object.entries(v)) {
      const bad = key.split('.').find((k) => FORBIDDEN_KEYS.has(k));
      if (bad !== undefined) problems.push({ path: [...path, key], detail: `"${bad}" is not allowed as a key (it names a JavaScript prototype)` });
      else size += child(x, key);
    }
  }
  seen.set(v, problems.length > before ? BAD : size);
  return size;
}

/** Path and line of the first YAML alias in a document (where an alias bound is reported). */
function firstAlias(doc: Document, lines: LineCounter): { path: Path; line: number } | undefined {
  let found: { path: Path; line: number } | undefined;
  visit(doc, {
    Alias(_key, node, ancestors) {
      const chain: unknown[] = [...ancestors, node];
      const path: Path = [];
      chain.forEach((a, i) => {
        if (isSeq(a)) path.push(a.items.indexOf(chain[i + 1]));
        else if (isPair(a) && isScalar(a.key) && a.value === chain[i + 1]) path.push(String(a.key.value));
      });
      found = { path, line: node.range ? lines.linePos(node.range[0]).line : 1 };
      return visit.BREAK;
    },
  });
  return found;
}

/** The cross product of a case's matrix, as lists of [dot path, value]. */
function expandMatrix(matrix: Record<string, unknown[]>): [string, unknown][][] {
  let combos: [string, unknown][][] = [[]];
  for (const [key, values] of Object.entries(matrix)) {
    combos = combos.flatMap((combo) => values.map((v): [string, unknown][] => [...combo, [key, v]]));
  }
  return combos;
}

const pair = (v: RawPair | undefined): [number, number] | undefined =>
  v === undefined ? undefined : typeof v === 'number' ? [v, v] : [v[0], v[1]];

function padding(v: RawPadding | undefined): Padding | undefined {
  if (v === undefined || typeof v === 'string') return v;
  if (typeof v === 'number') return [v, v, v, v];
  const [t, l, b, r] = v;
  return [t, l, b, r];
}

function flatten(v: number | Nested, path: Path, loc: Locator): { shape: number[]; values: number[] } {
  if (!Array.isArray(v)) return { shape: [], values: [v] };
  // An empty list is an axis of size 0, as in numpy ([] is [0], [[]] is [1, 0]): zero-size batch
  // and channels are allowed (the geometry rejects a 0 anywhere else).
  if (v.length === 0) return { shape: [0], values: [] };
  const parts = v.map((item, i) => flatten(item, [...path, i], loc));
  parts.forEach((p, i) => {
    if (!sameShape(p.shape, parts[0].shape)) {
      throw loc.error([...path, i], `ragged values: item has shape ${formatShape(p.shape)}, item 0 has ${formatShape(parts[0].shape)}`);
    }
  });
  return { shape: [v.length, ...parts[0].shape], values: parts.flatMap((p) => p.values) };
}

/** A tensor checked but not yet allocated: its shape in the case layout, where to report it, its data to come. */
interface Planned { shape: number[]; path: Path; make: () => Float32Array }

/** A tensor spec as written (case layout): literal or generated. Generated data is made only by `make`. */
function planTensor(spec: RawTensor, path: Path, loc: Locator, seedKey: string): Planned {
  if (Array.isArray(spec)) {
    const { shape, values } = flatten(spec, path, loc);
    return { shape, path, make: () => Float32Array.from(values) };
  }
  const s = spec;
  const shape = [...s.shape];
  const at: Path = [...path, 'shape'];
  const sources = (['values', 'uniform', 'integers', 'normal'] as const).filter((k) => s[k] !== undefined);
  if (sources.length > 1) throw loc.error(path, `give one of values, uniform, integers, normal; got ${sources.join(' and ')}`);
  if (s.values !== undefined) {
    const { values } = flatten(s.values, [...path, 'values'], loc);
    if (values.length !== sizeOf(shape)) {
      throw loc.error([...path, 'values'], `${values.length} values do not fill shape ${formatShape(shape)} (${sizeOf(shape)} elements)`);
    }
    return { shape, path: at, make: () => Float32Array.from(values) };
  }
  if (s.seed !== undefined && sources.length === 0) throw loc.error([...path, 'seed'], 'seed without a generator (uniform, integers or normal)');
  const seed = s.seed ?? fnv1a(seedKey);
  const first = sources[0]; // at most one, and not values (returned above)
  const kind = first === 'normal' || first === 'integers' ? first : 'uniform';
  const [a, b] = s[kind] ?? [-1, 1];
  const gen: Generator = kind === 'normal' ? { kind: 'normal', mean: a, std: b, seed }
    : kind === 'integers' ? { kind: 'integers', low: a, high: b, seed } : { kind: 'uniform', low: a, high: b, seed };
  if (gen.kind !== 'normal' && !(a <= b)) throw loc.error([...path, kind], `low ${a} must not exceed high ${b}`);
  return { shape, path: at, make: () => generate(sizeOf(shape), gen) };
}

/** Shapes in canonical order before any data exists, permuted as layout.ts permutes data. */

const fmtPair = (a: number, b: number) => (a === b ? `${a}` : `${a}x${b}`);

function spellPadding(p: Padding | undefined): string {
  if (p === undefined || typeof p === 'string') return p ?? 'VALID';
  return `[${p.join(',')}]`;
}

/** The geometry part of a case id, in canonical NCHW / OIHW shapes. */
function spellGeometry(c: { op: Op; geometry: Conv2dGeometry | Pool2dGeometry; padding: Padding | undefined; bias: boolean; ceil: boolean }): string {
  const g = c.geometry;
  const common = ` s=${fmtPair(g.strideHeight, g.strideWidth)}` +
    (g.dilationHeight !== 1 || g.dilationWidth !== 1 ? ` d=${fmtPair(g.dilationHeight, g.dilationWidth)}` : '') +
    ` p=${spellPadding(c.padding)}`;
  if ('groups' in g) {
    return `conv2d x=${formatShape([g.batch, g.inChannels, g.inHeight, g.inWidth])} ` +
      `w=${formatShape([g.outChannels, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth])}${common}` +
      (g.groups !== 1 ? ` g=${g.groups}` : '') + (c.bias ? '' : ' nobias');
  }
  return `${c.op} x=${formatShape([g.batch, g.channels, g.inHeight, g.inWidth])} k=${fmtPair(g.kernelHeight, g.kernelWidth)}${common}` +
    (c.ceil ? ' ceil' : '') + (c.op === 'avgpool2d' && g.countIncludePad ? ' cip' : '') +
    (c.op === 'maxpool2d' && !g.propagateNan ? ' nan=skip' : '') + (c.op === 'maxpool2d' && g.storageOrder === 1 ? ' order=1' : '');
}

const CONV_ONLY = ['groups'];
const POOL_ONLY = ['kernel', 'ceilMode'];

/**
 * Builds one runnable case from a validated (and matrix-expanded) case object. Every shape is
 * checked against the limits before any tensor data is made. `note` names the matrix combination in
 * errors; `seedNote` (the full combination) goes into default seeds.
 */
function buildCase(raw: RawCase, base: Path, loc: Locator, note: string, seedNote: string, limits: CaseLimits, budget: Budget): Case {
  const { op, inputs } = raw;
  const attrs: RawAttributes = raw.attributes ?? {};
  const layout = raw.layout ?? 'NCHW';
  const at = (...p: Path): Path => [...base, ...p];
  const fail = (p: Path, detail: string) => loc.error(p, detail + note);
  const need = <T>(v: T | undefined, p: Path, detail: string): T => {
    if (v === undefined) throw fail(p, detail);
    return v;
  };
  const tooLarge = (shape: number[]) => sizeOf(shape) > limits.maxElementsPerTensor;
  const plan = (spec: RawTensor, p: Path, seedKey: string): Planned => {
    const t = planTensor(spec, p, loc, seedKey);
    if (tooLarge(t.shape)) {
      throw fail(t.path, `shape ${formatShape(t.shape)} has ${sizeOf(t.shape)} elements${beyond(limits, 'maxElementsPerTensor')}`);
    }
    return t;
  };

  for (const key of Object.keys(attrs)) {
    const maxOnly = key === 'propagateNan' || key === 'storageOrder';
    const wrongOp = op === 'conv2d' ? POOL_ONLY.includes(key) || key === 'countIncludePad' || maxOnly
      : CONV_ONLY.includes(key) || (key === 'countIncludePad' && op !== 'avgpool2d') || (maxOnly && op !== 'maxpool2d');
    if (wrongOp) throw fail(at('attributes', key), `not an attribute of ${op}`);
  }
  for (const key of Object.keys(inputs)) {
    if (op !== 'conv2d' && (key === 'w' || key === 'bias')) throw fail(at('inputs', key), `${op} takes no ${key}`);
  }
  if (raw.direction === 'indices' && op !== 'maxpool2d') throw fail(at('direction'), `${op} has no indices computation (maxpool2d only)`);
  // What the op needs besides x: conv weights, or the pooling window.
  const part = op === 'conv2d' ? { op, w: need(inputs.w, at('inputs'), 'conv2d needs inputs.w') }
    : { op, kernel: need(pair(attrs.kernel), at('attributes'), `${op} needs attributes.kernel`) };

  const name = raw.name;
  const seedBase = `${name}${seedNote}`;
  const px = plan(inputs.x, at('inputs', 'x'), `${seedBase}/x`);
  if (px.shape.length !== 4) throw fail(at('inputs', 'x'), `x must have rank 4 (${layout}), got shape ${formatShape(px.shape)}`);
  const xShape = activationShapeToNchw(px.shape, layout);
  const strides = pair(attrs.strides);
  const dilations = pair(attrs.dilations);
  const pad = padding(attrs.padding);

  // The op-specific part of the case.
  let built: { op: 'conv2d'; geometry: Conv2dGeometry; w: Planned; bias?: Planned } | { op: 'maxpool2d' | 'avgpool2d'; geometry: Pool2dGeometry };
  try {
    if (part.op === 'conv2d') {
      const w = plan(part.w, at('inputs', 'w'), `${seedBase}/w`);
      if (w.shape.length !== 4) throw fail(at('inputs', 'w'), `w must have rank 4 (${layout === 'NCHW' ? 'OIHW' : 'HWIO'}), got ${formatShape(w.shape)}`);
      const geometry = conv2dGeometry(xShape, weightShapeToOihw(w.shape, layout), { strides, dilations, padding: pad, groups: attrs.groups });
      let bias: Planned | undefined;
      if (inputs.bias !== undefined) {
        bias = plan(inputs.bias, at('inputs', 'bias'), `${seedBase}/bias`);
        if (!sameShape(bias.shape, [geometry.outChannels])) {
          throw fail(at('inputs', 'bias'), `bias shape ${formatShape(bias.shape)} must be [${geometry.outChannels}] (output channels)`);
        }
      }
      built = { op: 'conv2d', geometry, w, bias };
    } else {
      const geometry = pool2dGeometry(xShape, {
        kernel: part.kernel, strides, dilations, padding: pad,
        ceilMode: attrs.ceilMode, countIncludePad: attrs.countIncludePad, propagateNan: attrs.propagateNan, storageOrder: attrs.storageOrder,
      });
      built = { op: part.op, geometry };
    }
  } catch (e) {
    if (!(e instanceof GeometryError)) throw e;
    const field = e.field === 'x' || e.field === 'w' ? ['inputs', e.field] : e.field === 'kernel' && op === 'conv2d' ? ['inputs', 'w'] : ['attributes', e.field];
    throw fail(at(...field), e.message);
  }

  const outShape = built.op === 'conv2d' ? convOutputShape(built.geometry) : poolOutputShape(built.geometry);
  const outLayoutShape = (nchw: number[]) => activationShapeFromNchw(nchw, layout);
  if (tooLarge(outShape)) {
    throw fail(base, `its output y (and dy) would have shape ${formatShape(outLayoutShape(outShape))}, ` +
      `${sizeOf(outShape)} elements${beyond(limits, 'maxElementsPerTensor')}`);
  }
  // Zero-size batch or channels: nothing (or only the bias) to compute, so nothing to time.
  const zeroSize = zeroSizeDimensions(built.geometry);
  if (zeroSize.length > 0 && raw.bench !== undefined && raw.bench !== false) {
    throw fail(at('bench'), `a case with zero-size ${zeroSize.join(' and ')} has no work to time: remove bench (it is still checked)`);
  }
  const hasBias = built.op === 'conv2d' && built.bias !== undefined;
  const id = `${name} ${spellGeometry({ op, geometry: built.geometry, padding: pad, bias: hasBias, ceil: attrs.ceilMode === true })}`;
  const direction = raw.direction ?? 'both';
  const planActivation = (spec: RawTensor, field: string, nchw: number[]): Planned => {
    const t = plan(spec, at(...field.split('.')), `${id}/${field}`);
    const want = outLayoutShape(nchw);
    if (!sameShape(t.shape, want)) throw fail(at(...field.split('.')), `shape ${formatShape(t.shape)} must be ${formatShape(want)} (${layout})`);
    return t;
  };
  const dyShape = outLayoutShape(outShape);
  const dy: Planned = inputs.dy !== undefined ? planActivation(inputs.dy, 'inputs.dy', outShape)
    : { shape: dyShape, path: base, make: () => generate(sizeOf(dyShape), { kind: 'uniform', low: -1, high: 1, seed: fnv1a(`${id}/dy`) }) };

  const expected: [OutputName, Planned][] = []; // in file order
  const exp: RawExpected = raw.expected ?? {};
  for (const [key, spec] of Object.entries(exp)) {
    if (key === 'indices' && op !== 'maxpool2d') throw fail(at('expected', key), `${op} has no output ${key}`);
    const forwardOutput = key === 'y' || key === 'indices';
    if ((forwardOutput && direction === 'backward') || (!forwardOutput && (direction === 'forward' || direction === 'indices'))) {
      throw fail(at('expected', key), `${direction === 'indices' ? 'an' : 'a'} ${direction} case has no output ${key}`);
    }
    if (key === 'y') expected.push(['y', planActivation(spec, 'expected.y', outShape)]);
    else if (key === 'indices') expected.push(['indices', planActivation(spec, 'expected.indices', outShape)]);
    else if (key === 'dx') expected.push(['dx', planActivation(spec, 'expected.dx', xShape)]);
    else if (built.op !== 'conv2d') throw fail(at('expected', key), `${op} has no output ${key}`);
    else {
      const t = plan(spec, at('expected', key), '');
      const want = key === 'db' ? [outShape[1]] : built.w.shape; // dw is written in the layout of w
      if (!sameShape(t.shape, want)) throw fail(at('expected', key), `shape ${formatShape(t.shape)} must be ${formatShape(want)}`);
      expected.push([key === 'db' ? 'db' : 'dw', t]); // the schema allows no other key
    }
  }

  if (raw.tolerance?.expected && expected.length === 0) throw fail(at('tolerance', 'expected'), 'a tolerance for expected outputs, but the case has no expected outputs');
  // The schema sees YAML's .nan and .inf as numbers; a tolerance must be a finite one.
  for (const [key, v] of Object.entries(raw.tolerance?.expected ?? {})) {
    if (typeof v === 'number' && !Number.isFinite(v)) throw fail(at('tolerance', 'expected', key), `must be a finite number >= 0, got ${v}`);
  }

  // Bytes: what the case holds, and the outputs a run of its directions makes (y; dx, dw, db).
  const shapes = [px.shape, dy.shape];
  for (const [, t] of expected) shapes.push(t.shape);
  if (built.op === 'conv2d') shapes.push(built.w.shape, ...(built.bias ? [built.bias.shape] : []));
  if (direction !== 'backward') shapes.push(outShape); // y (the indices have its shape; one y is counted)
  if (direction === 'backward' || direction === 'both') shapes.push(xShape, ...(built.op === 'conv2d' ? [built.w.shape, [outShape[1]]] : []));
  const bytes = 4 * shapes.reduce((n, shape) => n + sizeOf(shape), 0);
  if (bytes > limits.maxBytesPerCase) throw fail(base, `the case needs ${bytes} bytes of float32 tensors (inputs, dy, expected and outputs)${beyond(limits, 'maxBytesPerCase')}`);
  if (budget.used + bytes > limits.maxTotalBytes) {
    throw new OverBudget(loc.file, loc.line(base), fieldName(base),
      `its ${bytes} bytes would bring the cases loaded to ${budget.used + bytes} bytes${beyond(limits, 'maxTotalBytes')}; ` +
      `this case and the rest of its matrix are skipped${note}`);
  }
  budget.used += bytes;

  // Checked: now the data.
  const activation = (t: Planned) => activationToNchw({ shape: t.shape, data: t.make() }, layout);
  const weights = (t: Planned) => weightsToOihw({ shape: t.shape, data: t.make() }, layout);
  const outputs: Partial<Record<OutputName, Tensor>> = {};
  for (const [key, t] of expected) outputs[key] = key === 'dw' ? weights(t) : key === 'db' ? { shape: t.shape, data: t.make() } : activation(t);
  const common = {
    id, name, file: loc.file, line: loc.line(base), direction, layout, expected: outputs,
    toleranceFactor: raw.tolerance?.factor ?? 1,
    ...(raw.tolerance?.expected ? { expectedTolerance: raw.tolerance.expected } : {}),
    bench: raw.bench === true || typeof raw.bench === 'object',
    ...(typeof raw.bench === 'object' ? { gateThreshold: raw.bench.threshold } : {}),
    ...(raw.timeLimitSeconds !== undefined ? { timeLimitMs: raw.timeLimitSeconds * 1000 } : {}),
  };
  const x = activation(px);
  if (built.op === 'conv2d') {
    const bias = built.bias ? { shape: built.bias.shape, data: built.bias.make() } : undefined;
    return { ...common, op: 'conv2d', geometry: built.geometry, x, w: weights(built.w), bias, dy: activation(dy) };
  }
  return { ...common, op: built.op, geometry: built.geometry, x, dy: activation(dy) };
}

/** Parses one YAML text: its valid cases and one error per bad case (or per bad file). */
export function loadCaseText(text: string, file: string, limits: Partial<CaseLimits> = DEFAULT_CASE_LIMITS): Loaded {
  return loadText(text, file, caseLimits(limits), { used: 0 });
}

type Loaded = { cases: Case[]; errors: CaseError[]; rejections: Rejection[] };

/** The pattern of a `reject:` entry: `/regex/flags` (flags i, m, s, u) or text the message contains. */
interface RejectPattern { shown: string; test(message: string): boolean }

function rejectPattern(text: string): RejectPattern | string {
  const m = /^\/(.+)\/([imsu]*)$/s.exec(text);
  if (!m) return { shown: JSON.stringify(text), test: (message) => message.includes(text) };
  try {
    const re = new RegExp(m[1], m[2]);
    return { shown: text, test: (message) => re.test(message) };
  } catch (e) {
    return `not a valid regular expression: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** How the loader's outcome for a must-reject entry compares with its pattern. */
function judgeRejection(name: string, file: string, line: number, pattern: RejectPattern, outcome: Loaded): Rejection {
  const expected = `expected the loader to reject it with ${pattern.shown}`;
  const judged = (ok: boolean, message: string): Rejection => ({ name, file, line, pattern: pattern.shown, ok, message });
  if (outcome.cases.length > 0) {
    const count = outcome.cases.length > 1 ? ` (as ${outcome.cases.length} cases)` : '';
    return judged(false, `${expected}, but it loaded${count}`);
  }
  const wrong = outcome.errors.find((e) => !pattern.test(e.field ? `${e.field}: ${e.detail}` : e.detail));
  if (wrong) return judged(false, `${expected}, but it rejected it with: ${wrong.message}`);
  return judged(true, outcome.errors.map((e) => e.message).join('; '));
}

/** loadCaseText against a budget shared by the files of one load; anything unforeseen is an error of this file. */
function loadText(text: string, file: string, limits: CaseLimits, budget: Budget): Loaded {
  try {
    return parseCases(text, file, limits, budget);
  } catch (e) {
    return { cases: [], errors: [new CaseError(file, 0, '', `cannot load: ${e instanceof Error ? e.message : String(e)}`)], rejections: [] };
  }
}

function parseCases(text: string, file: string, limits: CaseLimits, budget: Budget): Loaded {
  const fileError = (line: number, field: string, detail: string): Loaded => ({ cases: [], errors: [new CaseError(file, line, field, detail)], rejections: [] });
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limits.maxFileBytes) return fileError(0, '', `the file is ${bytes} bytes${beyond(limits, 'maxFileBytes')}`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const loc = new Locator(doc, lines, file);
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    return fileError(e.linePos?.[0].line ?? 1, '', `YAML syntax: ${e.message.split('\n')[0]}`);
  }
  const aliasError = (detail: string): Loaded => { // reported at the first alias
    const at = firstAlias(doc, lines) ?? { path: [], line: 1 };
    return fileError(at.line, fieldName(at.path), detail);
  };
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: limits.maxAliases });
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    if (!/excessive alias count/i.test(e.message)) return aliasError(`YAML: ${e.message}`);
    return aliasError(`the YAML aliases from here on expand too many times (an alias bomb?)${beyond(limits, 'maxAliases')}`);
  }

  // Before anything copies the tree: prototype keys and aliases inside themselves (one error per
  // case, or for the file outside the cases), and the size with aliases expanded.
  const result: Loaded = { cases: [], errors: [], rejections: [] };
  const problems: Problem[] = [];
  const sizes = new Map<object, number>(); // values under each node, aliases expanded
  const values = typeof root === 'object' && root !== null ? checkTree(root, [], sizes, problems) : 1;
  const bad = new Set<number>();
  const cases: unknown = isRecord(root) ? root.cases : undefined;
  // Must-reject entries (`reject:`): what the loader says about each is collected in `outcomes`
  // and judged against its pattern at the end, instead of being a case or a case error.
  const patterns = new Map<number, RejectPattern>();
  const outcomes = new Map<number, Loaded>();
  if (Array.isArray(cases)) {
    cases.forEach((c: unknown, i) => {
      if (!isRecord(c) || !('reject' in c)) return;
      const parsed = typeof c.reject === 'string' && c.reject !== '' ? rejectPattern(c.reject)
        : 'must be a non-empty string: a /regex/ or text that the loader\'s message must match';
      if (typeof parsed !== 'string') { patterns.set(i, parsed); outcomes.set(i, { cases: [], errors: [], rejections: [] }); return; }
      result.errors.push(loc.error(['cases', i, 'reject'], parsed));
      bad.add(i);
    });
  }
  const errorsOf = (i: number): CaseError[] => outcomes.get(i)?.errors ?? result.errors;
  for (const { path, detail } of problems) {
    const i = path[0] === 'cases' ? path[1] : undefined;
    if (typeof i !== 'number') return { cases: [], errors: [loc.error(path, detail)], rejections: [] };
    if (!bad.has(i)) errorsOf(i).push(loc.error(path, detail));
    bad.add(i);
  }
  if (values > limits.maxFileBytes) {
    return aliasError(`with its YAML aliases expanded the file holds ${values} values${expandsPast(limits)}`);
  }
  // The rejected cases are left out of everything below.
  const list: unknown[] = Array.isArray(cases) ? cases.map((c: unknown, i) => (bad.has(i) ? {} : c)) : [];
  const checked = isRecord(root) && Array.isArray(cases) ? { ...root, cases: list } : root;

  if (!validateFile(finiteCopy(checked))) {
    // Report each bad case once; a broken file-level structure is one error.
    const errs = validateFile.errors ?? [];
    const byCase = new Map<string, ErrorObject[]>();
    for (const e of errs) {
      const m = /^\/cases\/(\d+)/.exec(e.instancePath);
      const key = m ? m[1] : '';
      byCase.set(key, [...(byCase.get(key) ?? []), e]);
    }
    if (byCase.has('') || !Array.isArray(cases)) {
      return { cases: [], errors: [...result.errors, schemaErrors(byCase.get('') ?? errs, [], loc)], rejections: [] };
    }
  }
  // Here the file passed the schema, or only some of its cases failed: `cases` is a list either way.
  list.forEach((raw, i) => {
    const base: Path = ['cases', i];
    const out = outcomes.get(i) ?? result;
    if (bad.has(i)) return;
    // A must-reject entry that loads takes nothing from the budget of the real cases.
    const used = budget.used;
    loadEntry(raw, base, out);
    if (out !== result) budget.used = used;
  });
  for (const [i, pattern] of patterns) {
    const entry: unknown = Array.isArray(cases) ? cases[i] : undefined;
    const name = isRecord(entry) && typeof entry.name === 'string' ? entry.name : `cases[${i}]`;
    result.rejections.push(judgeRejection(name, file, loc.line(['cases', i]), pattern, outcomes.get(i) ?? result));
  }
  return result;

  /** One entry of the list: its cases (a matrix expands) and errors, into `out`. */
  function loadEntry(raw: unknown, base: Path, out: Loaded): void {
    if (!isRawCase(raw)) {
      out.errors.push(schemaErrors(caseErrors(), base, loc));
      return;
    }
    const matrix = raw.matrix ?? {};
    const count = Object.values(matrix).reduce((n, options) => n * options.length, 1);
    if (count > limits.maxMatrixCases) {
      out.errors.push(loc.error([...base, 'matrix'], `expands into ${count} cases${beyond(limits, 'maxMatrixCases')}`));
      return;
    }
    const caseValues = sizes.get(raw) ?? 1;
    if (count > 1 && count * caseValues > limits.maxFileBytes) {
      out.errors.push(loc.error([...base, 'matrix'], `expands into ${count} cases of ${caseValues} YAML values each, ${count * caseValues} in all${expandsPast(limits)}`));
      return;
    }
    const plain: Record<string, unknown> = Object.fromEntries(Object.entries(raw).filter(([k]) => k !== 'matrix'));
    for (const combo of expandMatrix(matrix)) {
      const expanded = combo.reduce((c, [key, value]) => withValue(c, key.split('.'), value), plain);
      const spell = (cut: number) => (combo.length ? ` (matrix ${combo.map(([k, v]) => `${k}=${shorten(JSON.stringify(v), cut)}`).join(', ')})` : '');
      const note = spell(80); // in messages; a long literal is cut
      // Checked again, for the matrix values (without a matrix it is the case already checked, and passes).
      if (!isRawCase(expanded)) {
        const e = bestSchemaError(caseErrors());
        const key = combo.find(([k]) => `/${k.replaceAll('.', '/')}`.startsWith(e.instancePath) || e.instancePath.startsWith(`/${k.replaceAll('.', '/')}`));
        const path: Path = key ? [...base, 'matrix', key[0]] : [...base, ...e.instancePath.split('/').slice(1)];
        out.errors.push(loc.error(path, describeSchemaError(e) + note));
        continue;
      }
      try {
        out.cases.push(buildCase(expanded, base, loc, note, spell(Infinity), limits, budget));
      } catch (e) {
        if (!(e instanceof CaseError)) throw e;
        out.errors.push(e);
        if (e instanceof OverBudget) break;
      }
    }
  }
}

const shorten = (text: string, cut: number) => (text.length > cut ? `${text.slice(0, cut)}...` : text);

/**
 * Loads every case file. A path or file that cannot be read or parsed is an error for that path;
 * every other file still loads. `limits` bounds what one file may make the loader allocate.
 */
export function loadCases(paths: string[], limits: Partial<CaseLimits> = DEFAULT_CASE_LIMITS, root = process.cwd()): LoadResult {
  const lim = caseLimits(limits);
  const show = (file: string) => {
    const rel = relative(root, file);
    return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel; // paths outside the project stay absolute
  };
  const result: LoadResult = { cases: [], errors: [], rejections: [], files: [] };
  const budget: Budget = { used: 0 };
  for (const { path, problem } of caseFiles(paths, show)) {
    const shown = show(path);
    if (problem !== undefined) {
      result.errors.push(new CaseError(shown, 0, '', problem));
      continue;
    }
    result.files.push(shown);
    const text = readCaseFile(path, lim);
    const { cases, errors, rejections } = typeof text === 'string' ? loadText(text, shown, lim, budget)
      : { cases: [], errors: [new CaseError(shown, 0, '', text.problem)], rejections: [] };
    result.cases.push(...cases);
    result.errors.push(...errors);
    result.rejections.push(...rejections);
  }
  const seen = new Map<string, Case>();
  result.cases = result.cases.filter((c) => {
    const first = seen.get(c.id);
    if (!first) { seen.set(c.id, c); return true; }
    result.errors.push(new CaseError(c.file, c.line, 'name', `duplicate case id "${c.id}" (first at ${first.file}:${first.line})`));
    return false;
  });
  return result;
}
