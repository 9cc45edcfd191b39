// Load, validate and expand YAML case files into runnable cases (canonical NCHW / OIHW tensors
// plus a geometry record). Every problem names file, line and field; other cases still load.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import schema from '../../cases/case.schema.json' with { type: 'json' };
import {
  conv2dGeometry, convOutputShape, type Conv2dGeometry, GeometryError, type Padding, pool2dGeometry,
  type Pool2dGeometry, poolOutputShape,
} from '../geometry.ts';
import { activationToNchw, type Layout, weightsToOihw } from '../layout.ts';
import { formatShape, sameShape, sizeOf, type Tensor } from '../tensor.ts';
import { fnv1a, generate, type Generator } from './generate.ts';

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

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Path = (string | number)[];

const ajv = new Ajv({ allErrors: true });
const validateFile = ajv.compile(schema);
const validateCase = ajv.getSchema(`${schema.$id}#/definitions/case`)!;

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

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A copy in which non-finite numbers (YAML .nan, .inf) read as 0, for the JSON Schema validator. */
function finiteCopy(v: Json): Json {
  if (typeof v === 'number') return Number.isFinite(v) ? v : 0;
  if (Array.isArray(v)) return v.map(finiteCopy);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, finiteCopy(x)]));
  return v;
}

/** The most specific schema error: the deepest path, preferring concrete keywords over oneOf. */
function bestSchemaError(errors: ErrorObject[]): ErrorObject {
  const score = (e: ErrorObject) => e.instancePath.split('/').length * 10 + (e.keyword === 'oneOf' ? 0 : e.keyword === 'type' ? 1 : 2);
  return errors.reduce((a, b) => (score(b) > score(a) ? b : a));
}

function describeSchemaError(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return `unknown field "${String(e.params.additionalProperty)}"`;
  if (e.keyword === 'enum') return `must be one of ${(e.params.allowedValues as unknown[]).map(String).join(', ')}`;
  if (e.keyword === 'required') return `missing required field "${String(e.params.missingProperty)}"`;
  return e.message ?? e.keyword;
}

function schemaErrors(errors: ErrorObject[], base: Path, loc: Locator): CaseError {
  const e = bestSchemaError(errors);
  const path: Path = [...base, ...e.instancePath.split('/').slice(1).map((p) => (/^\d+$/.test(p) ? Number(p) : p))];
  return loc.error(path, describeSchemaError(e));
}

/** Sets `value` at a dot path inside a (cloned) case. */
function setPath(target: JsonObject, dotted: string, value: Json): void {
  const keys = dotted.split('.');
  let cur: JsonObject = target;
  for (const key of keys.slice(0, -1)) {
    const next = cur[key];
    if (!isObject(next)) cur[key] = {};
    cur = cur[key] as JsonObject;
  }
  cur[keys[keys.length - 1]] = value;
}

/** The cross product of a case's matrix, as lists of [dot path, value]. */
function expandMatrix(matrix: JsonObject): [string, Json][][] {
  let combos: [string, Json][][] = [[]];
  for (const [key, values] of Object.entries(matrix)) {
    const list = values as Json[];
    combos = combos.flatMap((combo) => list.map((v) => [...combo, [key, v] as [string, Json]]));
  }
  return combos;
}

const pair = (v: Json | undefined): [number, number] | undefined =>
  v === undefined ? undefined : typeof v === 'number' ? [v, v] : [(v as number[])[0], (v as number[])[1]];

function padding(v: Json | undefined): Padding | undefined {
  if (v === undefined || typeof v === 'string') return v as Padding | undefined;
  if (typeof v === 'number') return [v, v, v, v];
  const [t, l, b, r] = v as number[];
  return [t, l, b, r];
}

function flatten(v: Json, path: Path, loc: Locator): { shape: number[]; values: number[] } {
  if (!Array.isArray(v)) return { shape: [], values: [v as number] };
  if (v.length === 0) throw loc.error(path, 'empty list of values');
  const parts = v.map((item, i) => flatten(item, [...path, i], loc));
  parts.forEach((p, i) => {
    if (!sameShape(p.shape, parts[0].shape)) {
      throw loc.error([...path, i], `ragged values: item has shape ${formatShape(p.shape)}, item 0 has ${formatShape(parts[0].shape)}`);
    }
  });
  return { shape: [v.length, ...parts[0].shape], values: parts.flatMap((p) => p.values) };
}

/** A tensor spec as written (case layout): literal or generated. `expectShape` fills in generated shapes. */
function readTensor(spec: Json, path: Path, loc: Locator, seedKey: string): Tensor {
  if (Array.isArray(spec)) {
    const { shape, values } = flatten(spec, path, loc);
    return { shape, data: Float32Array.from(values) };
  }
  const s = spec as JsonObject;
  const shape = s.shape as number[];
  const sources = ['values', 'uniform', 'integers', 'normal'].filter((k) => s[k] !== undefined);
  if (sources.length > 1) throw loc.error(path, `give one of values, uniform, integers, normal; got ${sources.join(' and ')}`);
  if (s.values !== undefined) {
    const { values } = flatten(s.values, [...path, 'values'], loc);
    if (values.length !== sizeOf(shape)) {
      throw loc.error([...path, 'values'], `${values.length} values do not fill shape ${formatShape(shape)} (${sizeOf(shape)} elements)`);
    }
    return { shape: [...shape], data: Float32Array.from(values) };
  }
  if (s.seed !== undefined && sources.length === 0) throw loc.error([...path, 'seed'], 'seed without a generator (uniform, integers or normal)');
  const seed = (s.seed as number | undefined) ?? fnv1a(seedKey);
  const [a, b] = (s[sources[0] ?? 'uniform'] as number[] | undefined) ?? [-1, 1];
  const gen: Generator = sources[0] === 'normal' ? { kind: 'normal', mean: a, std: b, seed }
    : sources[0] === 'integers' ? { kind: 'integers', low: a, high: b, seed } : { kind: 'uniform', low: a, high: b, seed };
  if (gen.kind !== 'normal' && !(a <= b)) throw loc.error([...path, sources[0] ?? 'uniform'], `low ${a} must not exceed high ${b}`);
  return { shape: [...shape], data: generate(sizeOf(shape), gen) };
}

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

/** Builds one runnable case from a validated (and matrix-expanded) case object. */
function buildCase(raw: JsonObject, base: Path, loc: Locator, matrixNote: string): Case {
  const op = raw.op as Op;
  const attrs = isObject(raw.attributes) ? raw.attributes : {};
  const inputs = raw.inputs as JsonObject;
  const layout = (raw.layout as Layout | undefined) ?? 'NCHW';
  const at = (...p: Path): Path => [...base, ...p];
  const fail = (p: Path, detail: string) => loc.error(p, detail + matrixNote);

  for (const key of Object.keys(attrs)) {
    const wrongOp = op === 'conv2d' ? POOL_ONLY.includes(key) || key === 'countIncludePad' || key === 'propagateNan'
      : CONV_ONLY.includes(key) || (key === 'countIncludePad' && op !== 'avgpool2d') || (key === 'propagateNan' && op !== 'maxpool2d');
    if (wrongOp) throw fail(at('attributes', key), `not an attribute of ${op}`);
  }
  for (const key of Object.keys(inputs)) {
    if (op !== 'conv2d' && (key === 'w' || key === 'bias')) throw fail(at('inputs', key), `${op} takes no ${key}`);
  }
  if (op === 'conv2d' && inputs.w === undefined) throw fail(at('inputs'), 'conv2d needs inputs.w');
  if (op !== 'conv2d' && attrs.kernel === undefined) throw fail(at('attributes'), `${op} needs attributes.kernel`);

  const name = raw.name as string;
  const seedBase = `${name}${matrixNote}`;
  const x = readTensor(inputs.x, at('inputs', 'x'), loc, `${seedBase}/x`);
  if (x.shape.length !== 4) throw fail(at('inputs', 'x'), `x must have rank 4 (${layout}), got shape ${formatShape(x.shape)}`);
  const xc = activationToNchw(x, layout);
  const strides = pair(attrs.strides);
  const dilations = pair(attrs.dilations);
  const pad = padding(attrs.padding);

  let geometry: Conv2dGeometry | Pool2dGeometry;
  let w: Tensor | undefined;
  let bias: Tensor | undefined;
  try {
    if (op === 'conv2d') {
      const wRaw = readTensor(inputs.w, at('inputs', 'w'), loc, `${seedBase}/w`);
      if (wRaw.shape.length !== 4) throw fail(at('inputs', 'w'), `w must have rank 4 (${layout === 'NCHW' ? 'OIHW' : 'HWIO'}), got ${formatShape(wRaw.shape)}`);
      w = weightsToOihw(wRaw, layout);
      geometry = conv2dGeometry(xc.shape, w.shape, { strides, dilations, padding: pad, groups: attrs.groups as number | undefined });
      if (inputs.bias !== undefined) {
        bias = readTensor(inputs.bias, at('inputs', 'bias'), loc, `${seedBase}/bias`);
        if (!sameShape(bias.shape, [geometry.outChannels])) {
          throw fail(at('inputs', 'bias'), `bias shape ${formatShape(bias.shape)} must be [${geometry.outChannels}] (output channels)`);
        }
      }
    } else {
      geometry = pool2dGeometry(xc.shape, {
        kernel: pair(attrs.kernel) as [number, number], strides, dilations, padding: pad,
        ceilMode: attrs.ceilMode as boolean | undefined, countIncludePad: attrs.countIncludePad as boolean | undefined,
        propagateNan: attrs.propagateNan as boolean | undefined,
      });
    }
  } catch (e) {
    if (!(e instanceof GeometryError)) throw e;
    const field = e.field === 'x' || e.field === 'w' ? ['inputs', e.field] : e.field === 'kernel' && op === 'conv2d' ? ['inputs', 'w'] : ['attributes', e.field];
    throw fail(at(...field), e.message);
  }

  const outShape = 'groups' in geometry ? convOutputShape(geometry) : poolOutputShape(geometry);
  const id = `${name} ${spellGeometry({ op, geometry, padding: pad, bias: bias !== undefined, ceil: attrs.ceilMode === true })}`;
  const direction = (raw.direction as Direction | undefined) ?? 'both';
  const outLayoutShape = (nchw: number[]) => (layout === 'NCHW' ? nchw : [nchw[0], nchw[2], nchw[3], nchw[1]]);
  const readActivation = (spec: Json, field: string, nchwShape: number[]): Tensor => {
    const t = readTensor(spec, at(...field.split('.')), loc, `${id}/${field}`);
    const want = outLayoutShape(nchwShape);
    if (!sameShape(t.shape, want)) throw fail(at(...field.split('.')), `shape ${formatShape(t.shape)} must be ${formatShape(want)} (${layout})`);
    return activationToNchw(t, layout);
  };
  const dy = inputs.dy !== undefined ? readActivation(inputs.dy, 'inputs.dy', outShape)
    : activationToNchw({ shape: outLayoutShape(outShape), data: generate(sizeOf(outShape), { kind: 'uniform', low: -1, high: 1, seed: fnv1a(`${id}/dy`) }) }, layout);

  const expected: Partial<Record<OutputName, Tensor>> = {};
  const exp = isObject(raw.expected) ? raw.expected : {};
  for (const [key, spec] of Object.entries(exp)) {
    const out = key as OutputName;
    if ((out === 'y' && direction === 'backward') || (out !== 'y' && direction === 'forward')) {
      throw fail(at('expected', key), `a ${direction} case has no output ${key}`);
    }
    if (out === 'y') expected.y = readActivation(spec, 'expected.y', outShape);
    else if (out === 'dx') expected.dx = readActivation(spec, 'expected.dx', xc.shape);
    else if (op !== 'conv2d') throw fail(at('expected', key), `${op} has no output ${key}`);
    else {
      const t = readTensor(spec, at('expected', key), loc, '');
      const want = key === 'db' ? [outShape[1]] : layout === 'NCHW' ? w!.shape : [w!.shape[2], w!.shape[3], w!.shape[1], w!.shape[0]];
      if (!sameShape(t.shape, want)) throw fail(at('expected', key), `shape ${formatShape(t.shape)} must be ${formatShape(want)}`);
      expected[out] = key === 'db' ? t : weightsToOihw(t, layout);
    }
  }

  const common = {
    id, name, file: loc.file, line: loc.line(base), direction, layout, expected,
    toleranceFactor: isObject(raw.tolerance) && typeof raw.tolerance.factor === 'number' ? raw.tolerance.factor : 1,
    bench: raw.bench === true || isObject(raw.bench),
    ...(isObject(raw.bench) && typeof raw.bench.threshold === 'number' ? { gateThreshold: raw.bench.threshold } : {}),
  };
  if ('groups' in geometry) return { ...common, op: 'conv2d', geometry, x: xc, w: w!, bias, dy };
  return { ...common, op: op as 'maxpool2d' | 'avgpool2d', geometry, x: xc, dy };
}

/** Parses one YAML text: its valid cases and one error per bad case (or per bad file). */
export function loadCaseText(text: string, file: string): { cases: Case[]; errors: CaseError[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const loc = new Locator(doc, lines, file);
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    return { cases: [], errors: [new CaseError(file, e.linePos?.[0].line ?? 1, '', `YAML syntax: ${e.message.split('\n')[0]}`)] };
  }
  const root = doc.toJS() as Json;
  if (!validateFile(finiteCopy(root))) {
    // Report each bad case once; a broken file-level structure is one error.
    const errs = validateFile.errors ?? [];
    const byCase = new Map<string, ErrorObject[]>();
    for (const e of errs) {
      const m = /^\/cases\/(\d+)/.exec(e.instancePath);
      const key = m ? m[1] : '';
      byCase.set(key, [...(byCase.get(key) ?? []), e]);
    }
    if (byCase.has('') || !isObject(root) || !Array.isArray(root.cases)) {
      return { cases: [], errors: [schemaErrors(byCase.get('') ?? errs, [], loc)] };
    }
  }
  const result: { cases: Case[]; errors: CaseError[] } = { cases: [], errors: [] };
  const list = (root as { cases: Json[] }).cases;
  list.forEach((rawCase, i) => {
    const base: Path = ['cases', i];
    if (!validateCase(finiteCopy(rawCase))) {
      result.errors.push(schemaErrors(validateCase.errors ?? [], base, loc));
      return;
    }
    const raw = rawCase as JsonObject;
    const matrix = isObject(raw.matrix) ? raw.matrix : {};
    for (const combo of expandMatrix(matrix)) {
      const expanded: JsonObject = structuredClone({ ...raw, matrix: null });
      delete expanded.matrix;
      for (const [key, value] of combo) setPath(expanded, key, value);
      const note = combo.length ? ` (matrix ${combo.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')})` : '';
      if (combo.length && !validateCase(finiteCopy(expanded))) {
        const e = bestSchemaError(validateCase.errors ?? []);
        const key = combo.find(([k]) => `/${k.replaceAll('.', '/')}`.startsWith(e.instancePath) || e.instancePath.startsWith(`/${k.replaceAll('.', '/')}`));
        const path: Path = key ? [...base, 'matrix', key[0]] : [...base, ...e.instancePath.split('/').slice(1)];
        result.errors.push(loc.error(path, describeSchemaError(e) + note));
        continue;
      }
      try {
        result.cases.push(buildCase(expanded, base, loc, note));
      } catch (e) {
        if (e instanceof CaseError) result.errors.push(e);
        else throw e;
      }
    }
  });
  return result;
}

/** All *.yaml / *.yml files under the given files or folders, sorted. */
export function caseFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (statSync(p).isDirectory()) for (const f of readdirSync(p).sort()) walk(join(p, f));
    else if (/\.ya?ml$/.test(p)) out.push(p);
  };
  for (const p of paths) walk(p);
  return out;
}

/** Loads every case file; a file that cannot be read or parsed is an error, the rest still load. */
export function loadCases(paths: string[], root = process.cwd()): LoadResult {
  const result: LoadResult = { cases: [], errors: [], files: [] };
  let files: string[];
  try {
    files = caseFiles(paths);
  } catch (e) {
    result.errors.push(new CaseError(paths.join(', '), 0, '', `cannot read: ${(e as Error).message}`));
    return result;
  }
  for (const file of files) {
    const rel = relative(root, file);
    const shown = rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel; // paths outside the project stay absolute
    result.files.push(shown);
    const { cases, errors } = loadCaseText(readFileSync(file, 'utf8'), shown);
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
