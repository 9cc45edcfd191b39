// Load, validate and expand YAML case files into runnable cases (canonical NCHW / OIHW tensors
// plus a geometry record). Every problem names file, line and field; other cases still load.
import {
  closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, type Stats, statSync,
} from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import schema from '../../cases/case.schema.json' with { type: 'json' };
import {
  conv2dGeometry, convOutputShape, type Conv2dGeometry, GeometryError, type Padding, pool2dGeometry,
  type Pool2dGeometry, poolOutputShape,
} from '../geometry.ts';
import { isRecord } from '../guards.ts';
import { activationShapeFromNchw, activationShapeToNchw, activationToNchw, type Layout, weightShapeToOihw, weightsToOihw } from '../layout.ts';
import { formatShape, sameShape, sizeOf, type Tensor } from '../tensor.ts';
import { fnv1a, generate, type Generator } from './generate.ts';
import type { Nested, RawAttributes, RawCase, RawExpected, RawPadding, RawPair, RawTensor } from './raw.ts';

export type Op = 'conv2d' | 'maxpool2d' | 'avgpool2d';
export type Direction = 'forward' | 'backward' | 'both';
export type OutputName = 'y' | 'dx' | 'dw' | 'db';

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
  /** Exact expected outputs, NCHW / OIHW. */
  expected: Partial<Record<OutputName, Tensor>>;
}
export interface ConvCase extends CaseBase { op: 'conv2d'; geometry: Conv2dGeometry; x: Tensor; w: Tensor; bias?: Tensor; dy: Tensor }
export interface PoolCase extends CaseBase { op: 'maxpool2d' | 'avgpool2d'; geometry: Pool2dGeometry; x: Tensor; dy: Tensor }
export type Case = ConvCase | PoolCase;

export const hasForward = (c: Case): boolean => c.direction !== 'backward';
export const hasBackward = (c: Case): boolean => c.direction !== 'forward';

export class CaseError extends Error {
  constructor(readonly file: string, readonly line: number, readonly field: string, readonly detail: string) {
    super(`${file}:${line}: ${field ? `${field}: ` : ''}${detail}`);
    this.name = 'CaseError';
  }
}

export interface LoadResult { cases: Case[]; errors: CaseError[]; files: string[] }

/**
 * Bounds on what one case file may make the loader read and allocate: case files are untrusted
 * input. Every bound is on by default and raised by its flag (CASE_LIMIT_FLAGS).
 */
export interface CaseLimits {
  /** Bytes of one case file; also the most values its YAML aliases and matrices may expand it to. */
  maxFileBytes: number;
  /** YAML alias expansions in one file (the yaml package's maxAliasCount): stops alias bombs. */
  maxAliases: number;
  /** Elements of one tensor: an input, dy, an expected tensor, or an output the geometry implies. */
  maxElementsPerTensor: number;
  /** float32 bytes of one case: its inputs, dy and expected tensors and the outputs a run makes. */
  maxBytesPerCase: number;
  /** Cases one matrix may expand into, counted before expanding. */
  maxMatrixCases: number;
  /** float32 bytes of all cases one load keeps (every case is held in memory at once). */
  maxTotalBytes: number;
}

const Mi = 1024 * 1024;

/**
 * The bundled corpus (cases/) peaks at 3.5 KB per file, no aliases, 802,816 elements per tensor
 * (bench resnet maxpool's x, bench pointwise 1x1's y: cases/bench/networks.yaml), 7.8 MiB per case
 * (bench pointwise 1x1), 16 cases per matrix and 33 MiB in all: each default is 20 times that or
 * more (aliases: the yaml package's own default). The file bound is 1 MiB, not more, because the
 * yaml package parses about 180 KB/s of literal values into some 600 bytes of memory per byte:
 * a 1 MiB file of values takes 6 s and 600 MB to parse (4 MiB: 23 s and 2 GB).
 */
export const DEFAULT_CASE_LIMITS: Readonly<CaseLimits> = {
  maxFileBytes: 1 * Mi,
  maxAliases: 100,
  maxElementsPerTensor: 16 * Mi,
  maxBytesPerCase: 256 * Mi,
  maxMatrixCases: 4096,
  maxTotalBytes: 1024 * Mi,
};

/** The command-line flag that raises each bound (named in every error about it). */
export const CASE_LIMIT_FLAGS: Readonly<Record<keyof CaseLimits, string>> = {
  maxFileBytes: '--max-file-bytes',
  maxAliases: '--max-aliases',
  maxElementsPerTensor: '--max-tensor-elements',
  maxBytesPerCase: '--max-case-bytes',
  maxMatrixCases: '--max-matrix-cases',
  maxTotalBytes: '--max-total-bytes',
};

const LIMIT_UNITS: Record<keyof CaseLimits, string> = {
  maxFileBytes: 'bytes per file', maxAliases: 'alias expansions per file', maxElementsPerTensor: 'elements per tensor',
  maxBytesPerCase: 'bytes per case', maxMatrixCases: 'cases per matrix', maxTotalBytes: 'bytes of cases in all',
};

/** The end of an error about a bound: the bound and how to raise it. */
const beyond = (limits: CaseLimits, key: keyof CaseLimits): string =>
  `, more than the limit of ${limits[key]} ${LIMIT_UNITS[key]} (raise it with ${CASE_LIMIT_FLAGS[key]} <n>)`;

/** The end of an error about a file that expands (through aliases or a matrix) past its size bound. */
const expandsPast = (limits: CaseLimits): string =>
  `: a file may expand to no more values than its size limit of ${limits.maxFileBytes} bytes (raise it with ${CASE_LIMIT_FLAGS.maxFileBytes} <n>)`;

/** The defaults with the bounds given (an undefined bound keeps its default). */
export function caseLimits(given: Partial<CaseLimits> = {}): CaseLimits {
  const d = DEFAULT_CASE_LIMITS;
  return {
    maxFileBytes: given.maxFileBytes ?? d.maxFileBytes,
    maxAliases: given.maxAliases ?? d.maxAliases,
    maxElementsPerTensor: given.maxElementsPerTensor ?? d.maxElementsPerTensor,
    maxBytesPerCase: given.maxBytesPerCase ?? d.maxBytesPerCase,
    maxMatrixCases: given.maxMatrixCases ?? d.maxMatrixCases,
    maxTotalBytes: given.maxTotalBytes ?? d.maxTotalBytes,
  };
}

/** Bytes of tensors kept so far by one load, against maxTotalBytes. */
interface Budget { used: number }

/** A case that would take the load past maxTotalBytes: it and the rest of its matrix are skipped. */
class OverBudget extends CaseError {}

type Path = (string | number)[];

const ajv = new Ajv({ allErrors: true });
const validateFile = ajv.compile(schema);
const validateCase = ajv.compile<RawCase>({ $ref: `${schema.$id}#/definitions/case` });

/** Checks one case against the schema; YAML's non-finite numbers (.nan, .inf) pass as numbers. */
function isRawCase(v: unknown): v is RawCase {
  return validateCase(finiteCopy(v));
}

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

/** A copy in which non-finite numbers (YAML .nan, .inf) read as 0, for the JSON Schema validator. */
function finiteCopy(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : 0;
  if (Array.isArray(v)) return v.map(finiteCopy);
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, finiteCopy(x)]));
  return v;
}

/** The most specific schema error: the deepest path, preferring concrete keywords over oneOf. */
function bestSchemaError(errors: ErrorObject[]): ErrorObject {
  const score = (e: ErrorObject) => e.instancePath.split('/').length * 10 + (e.keyword === 'oneOf' ? 0 : e.keyword === 'type' ? 1 : 2);
  return errors.reduce((a, b) => (score(b) > score(a) ? b : a));
}

function describeSchemaError(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return `unknown field "${String(e.params.additionalProperty)}"`;
  if (e.keyword === 'enum') {
    const allowed: unknown[] = e.params.allowedValues; // ajv types params as Record<string, any>
    return `must be one of ${allowed.map(String).join(', ')}`;
  }
  if (e.keyword === 'required') return `missing required field "${String(e.params.missingProperty)}"`;
  return e.message ?? e.keyword;
}

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
  if (v.length === 0) throw loc.error(path, 'empty list of values');
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
    (c.op === 'maxpool2d' && !g.propagateNan ? ' nan=skip' : '');
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
    const wrongOp = op === 'conv2d' ? POOL_ONLY.includes(key) || key === 'countIncludePad' || key === 'propagateNan'
      : CONV_ONLY.includes(key) || (key === 'countIncludePad' && op !== 'avgpool2d') || (key === 'propagateNan' && op !== 'maxpool2d');
    if (wrongOp) throw fail(at('attributes', key), `not an attribute of ${op}`);
  }
  for (const key of Object.keys(inputs)) {
    if (op !== 'conv2d' && (key === 'w' || key === 'bias')) throw fail(at('inputs', key), `${op} takes no ${key}`);
  }
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
        ceilMode: attrs.ceilMode, countIncludePad: attrs.countIncludePad, propagateNan: attrs.propagateNan,
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
    if ((key === 'y' && direction === 'backward') || (key !== 'y' && direction === 'forward')) {
      throw fail(at('expected', key), `a ${direction} case has no output ${key}`);
    }
    if (key === 'y') expected.push(['y', planActivation(spec, 'expected.y', outShape)]);
    else if (key === 'dx') expected.push(['dx', planActivation(spec, 'expected.dx', xShape)]);
    else if (built.op !== 'conv2d') throw fail(at('expected', key), `${op} has no output ${key}`);
    else {
      const t = plan(spec, at('expected', key), '');
      const want = key === 'db' ? [outShape[1]] : built.w.shape; // dw is written in the layout of w
      if (!sameShape(t.shape, want)) throw fail(at('expected', key), `shape ${formatShape(t.shape)} must be ${formatShape(want)}`);
      expected.push([key === 'db' ? 'db' : 'dw', t]); // the schema allows no other key
    }
  }

  // Bytes: what the case holds, and the outputs a run of its directions makes (y; dx, dw, db).
  const shapes = [px.shape, dy.shape];
  for (const [, t] of expected) shapes.push(t.shape);
  if (built.op === 'conv2d') shapes.push(built.w.shape, ...(built.bias ? [built.bias.shape] : []));
  if (direction !== 'backward') shapes.push(outShape);
  if (direction !== 'forward') shapes.push(xShape, ...(built.op === 'conv2d' ? [built.w.shape, [outShape[1]]] : []));
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
export function loadCaseText(text: string, file: string, limits: Partial<CaseLimits> = DEFAULT_CASE_LIMITS): { cases: Case[]; errors: CaseError[] } {
  return loadText(text, file, caseLimits(limits), { used: 0 });
}

type Loaded = { cases: Case[]; errors: CaseError[] };

/** loadCaseText against a budget shared by the files of one load; anything unforeseen is an error of this file. */
function loadText(text: string, file: string, limits: CaseLimits, budget: Budget): Loaded {
  try {
    return parseCases(text, file, limits, budget);
  } catch (e) {
    return { cases: [], errors: [new CaseError(file, 0, '', `cannot load: ${e instanceof Error ? e.message : String(e)}`)] };
  }
}

function parseCases(text: string, file: string, limits: CaseLimits, budget: Budget): Loaded {
  const fileError = (line: number, field: string, detail: string): Loaded => ({ cases: [], errors: [new CaseError(file, line, field, detail)] });
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
  const result: Loaded = { cases: [], errors: [] };
  const problems: Problem[] = [];
  const sizes = new Map<object, number>(); // values under each node, aliases expanded
  const values = typeof root === 'object' && root !== null ? checkTree(root, [], sizes, problems) : 1;
  const bad = new Set<number>();
  for (const { path, detail } of problems) {
    const i = path[0] === 'cases' ? path[1] : undefined;
    if (typeof i !== 'number') return { cases: [], errors: [loc.error(path, detail)] };
    if (!bad.has(i)) result.errors.push(loc.error(path, detail));
    bad.add(i);
  }
  if (values > limits.maxFileBytes) {
    return aliasError(`with its YAML aliases expanded the file holds ${values} values${expandsPast(limits)}`);
  }
  // The rejected cases are left out of everything below.
  const cases: unknown = isRecord(root) ? root.cases : undefined;
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
      return { cases: [], errors: [...result.errors, schemaErrors(byCase.get('') ?? errs, [], loc)] };
    }
  }
  // Here the file passed the schema, or only some of its cases failed: `cases` is a list either way.
  list.forEach((raw, i) => {
    const base: Path = ['cases', i];
    if (bad.has(i)) return;
    if (!isRawCase(raw)) {
      result.errors.push(schemaErrors(validateCase.errors ?? [], base, loc));
      return;
    }
    const matrix = raw.matrix ?? {};
    const count = Object.values(matrix).reduce((n, options) => n * options.length, 1);
    if (count > limits.maxMatrixCases) {
      result.errors.push(loc.error([...base, 'matrix'], `expands into ${count} cases${beyond(limits, 'maxMatrixCases')}`));
      return;
    }
    const caseValues = sizes.get(raw) ?? 1;
    if (count > 1 && count * caseValues > limits.maxFileBytes) {
      result.errors.push(loc.error([...base, 'matrix'], `expands into ${count} cases of ${caseValues} YAML values each, ${count * caseValues} in all${expandsPast(limits)}`));
      return;
    }
    const plain: Record<string, unknown> = Object.fromEntries(Object.entries(raw).filter(([k]) => k !== 'matrix'));
    for (const combo of expandMatrix(matrix)) {
      const expanded = combo.reduce((c, [key, value]) => withValue(c, key.split('.'), value), plain);
      const spell = (cut: number) => (combo.length ? ` (matrix ${combo.map(([k, v]) => `${k}=${shorten(JSON.stringify(v), cut)}`).join(', ')})` : '');
      const note = spell(80); // in messages; a long literal is cut
      // Checked again, for the matrix values (without a matrix it is the case already checked, and passes).
      if (!isRawCase(expanded)) {
        const e = bestSchemaError(validateCase.errors ?? []);
        const key = combo.find(([k]) => `/${k.replaceAll('.', '/')}`.startsWith(e.instancePath) || e.instancePath.startsWith(`/${k.replaceAll('.', '/')}`));
        const path: Path = key ? [...base, 'matrix', key[0]] : [...base, ...e.instancePath.split('/').slice(1)];
        result.errors.push(loc.error(path, describeSchemaError(e) + note));
        continue;
      }
      try {
        result.cases.push(buildCase(expanded, base, loc, note, spell(Infinity), limits, budget));
      } catch (e) {
        if (!(e instanceof CaseError)) throw e;
        result.errors.push(e);
        if (e instanceof OverBudget) break;
      }
    }
  });
  return result;
}

const shorten = (text: string, cut: number) => (text.length > cut ? `${text.slice(0, cut)}...` : text);

const YAML_FILE = /\.ya?ml$/;

/** A path to load: a case file, or a path that cannot be one (`problem`). */
export interface CaseFileEntry { path: string; problem?: string }

/** Why a path cannot be read, from the error of stat / open. */
function pathProblem(p: string, e: unknown): string {
  const code = e instanceof Error && 'code' in e ? e.code : undefined;
  if (code === 'ELOOP') return 'a symlink loop (too many levels of symbolic links)';
  if (code === 'ENOENT') {
    try {
      if (lstatSync(p).isSymbolicLink()) return `a dangling symlink (to ${readlinkSync(p)}, which does not exist)`;
    } catch {
      // a folder on the way is missing: no such file
    }
    return 'no such file or folder';
  }
  return `cannot read: ${e instanceof Error ? e.message : String(e)}`;
}

/** Why a stat result is no case file. */
function notRegular(p: string, st: Stats): string {
  const kind = st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device'
    : st.isSocket() ? 'a socket' : st.isDirectory() ? 'a folder' : 'not a plain file';
  let link = '';
  try {
    if (lstatSync(p).isSymbolicLink()) link = ` (through a symlink to ${readlinkSync(p)})`;
  } catch {
    // gone since: the kind is still right
  }
  return `${kind}${link}, not a regular file: only regular files are read`;
}

/**
 * The files under the given files or folders: every file named there, and the *.yaml / *.yml files
 * of folders (walked in sorted order, symlinks followed, each real folder once, so a symlink loop
 * ends). Paths that cannot be followed (dangling symlinks, symlink loops) come with their problem.
 */
export function caseFiles(paths: string[], show: (p: string) => string = (p) => p): CaseFileEntry[] {
  const out: CaseFileEntry[] = [];
  const folders = new Map<string, string>(); // real path -> the path it was first walked as
  const walk = (p: string, named: boolean) => {
    let st: Stats;
    try {
      st = statSync(p); // follows symlinks; never opens (a FIFO would block)
    } catch (e) {
      out.push({ path: p, problem: pathProblem(p, e) });
      return;
    }
    if (!st.isDirectory()) {
      if (named || YAML_FILE.test(p)) out.push({ path: p });
      return;
    }
    let real: string;
    let names: string[];
    try {
      real = realpathSync(p);
      names = readdirSync(p).sort();
    } catch (e) {
      out.push({ path: p, problem: pathProblem(p, e) });
      return;
    }
    const first = folders.get(real);
    if (first !== undefined) {
      out.push({ path: p, problem: `the folder ${show(first)} again (a symlink loop or a folder given twice): skipped` });
      return;
    }
    folders.set(real, p);
    for (const name of names) walk(join(p, name), false);
  };
  for (const p of paths) walk(p, true);
  return out;
}

/**
 * A case file's text, or why not: only a regular file is opened (never a FIFO, device or socket),
 * and at most maxFileBytes + 1 bytes are read.
 */
function readCaseFile(file: string, limits: CaseLimits): string | { problem: string } {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    return { problem: pathProblem(file, e) };
  }
  if (!st.isFile()) return { problem: notRegular(file, st) };
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK); // O_NONBLOCK: no wait even if it became a FIFO since
  } catch (e) {
    return { problem: pathProblem(file, e) };
  }
  try {
    const now = fstatSync(fd);
    if (!now.isFile()) return { problem: notRegular(file, now) };
    if (now.size > limits.maxFileBytes) return { problem: `the file is ${now.size} bytes${beyond(limits, 'maxFileBytes')}` };
    const buf = Buffer.alloc(now.size + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    if (n > now.size) return { problem: 'the file grew while it was read' };
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

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
  const result: LoadResult = { cases: [], errors: [], files: [] };
  const budget: Budget = { used: 0 };
  for (const { path, problem } of caseFiles(paths, show)) {
    const shown = show(path);
    if (problem !== undefined) {
      result.errors.push(new CaseError(shown, 0, '', problem));
      continue;
    }
    result.files.push(shown);
    const text = readCaseFile(path, lim);
    const { cases, errors } = typeof text === 'string' ? loadText(text, shown, lim, budget)
      : { cases: [], errors: [new CaseError(shown, 0, '', text.problem)] };
    result.cases.push(...cases);
    result.errors.push(...errors);
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
