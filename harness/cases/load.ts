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
import { isRecord } from '../guards.ts';
import { activationToNchw, type Layout, weightsToOihw } from '../layout.ts';
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

/** Sets `value` at a dot path inside a (cloned) case. */
function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let cur = target;
  for (const key of keys.slice(0, -1)) {
    const next = cur[key];
    if (isRecord(next)) cur = next;
    else cur = cur[key] = {};
  }
  cur[keys[keys.length - 1]] = value;
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

/** A tensor spec as written (case layout): literal or generated. `expectShape` fills in generated shapes. */
function readTensor(spec: RawTensor, path: Path, loc: Locator, seedKey: string): Tensor {
  if (Array.isArray(spec)) {
    const { shape, values } = flatten(spec, path, loc);
    return { shape, data: Float32Array.from(values) };
  }
  const s = spec;
  const shape = s.shape;
  const sources = (['values', 'uniform', 'integers', 'normal'] as const).filter((k) => s[k] !== undefined);
  if (sources.length > 1) throw loc.error(path, `give one of values, uniform, integers, normal; got ${sources.join(' and ')}`);
  if (s.values !== undefined) {
    const { values } = flatten(s.values, [...path, 'values'], loc);
    if (values.length !== sizeOf(shape)) {
      throw loc.error([...path, 'values'], `${values.length} values do not fill shape ${formatShape(shape)} (${sizeOf(shape)} elements)`);
    }
    return { shape: [...shape], data: Float32Array.from(values) };
  }
  if (s.seed !== undefined && sources.length === 0) throw loc.error([...path, 'seed'], 'seed without a generator (uniform, integers or normal)');
  const seed = s.seed ?? fnv1a(seedKey);
  const first = sources[0]; // at most one, and not values (returned above)
  const kind = first === 'normal' || first === 'integers' ? first : 'uniform';
  const [a, b] = s[kind] ?? [-1, 1];
  const gen: Generator = kind === 'normal' ? { kind: 'normal', mean: a, std: b, seed }
    : kind === 'integers' ? { kind: 'integers', low: a, high: b, seed } : { kind: 'uniform', low: a, high: b, seed };
  if (gen.kind !== 'normal' && !(a <= b)) throw loc.error([...path, kind], `low ${a} must not exceed high ${b}`);
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
function buildCase(raw: RawCase, base: Path, loc: Locator, matrixNote: string): Case {
  const { op, inputs } = raw;
  const attrs: RawAttributes = raw.attributes ?? {};
  const layout = raw.layout ?? 'NCHW';
  const at = (...p: Path): Path => [...base, ...p];
  const fail = (p: Path, detail: string) => loc.error(p, detail + matrixNote);
  const need = <T>(v: T | undefined, p: Path, detail: string): T => {
    if (v === undefined) throw fail(p, detail);
    return v;
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
  const seedBase = `${name}${matrixNote}`;
  const x = readTensor(inputs.x, at('inputs', 'x'), loc, `${seedBase}/x`);
  if (x.shape.length !== 4) throw fail(at('inputs', 'x'), `x must have rank 4 (${layout}), got shape ${formatShape(x.shape)}`);
  const xc = activationToNchw(x, layout);
  const strides = pair(attrs.strides);
  const dilations = pair(attrs.dilations);
  const pad = padding(attrs.padding);

  // The op-specific part of the case.
  let built: Pick<ConvCase, 'op' | 'geometry' | 'w' | 'bias'> | Pick<PoolCase, 'op' | 'geometry'>;
  try {
    if (part.op === 'conv2d') {
      const wRaw = readTensor(part.w, at('inputs', 'w'), loc, `${seedBase}/w`);
      if (wRaw.shape.length !== 4) throw fail(at('inputs', 'w'), `w must have rank 4 (${layout === 'NCHW' ? 'OIHW' : 'HWIO'}), got ${formatShape(wRaw.shape)}`);
      const w = weightsToOihw(wRaw, layout);
      const geometry = conv2dGeometry(xc.shape, w.shape, { strides, dilations, padding: pad, groups: attrs.groups });
      let bias: Tensor | undefined;
      if (inputs.bias !== undefined) {
        bias = readTensor(inputs.bias, at('inputs', 'bias'), loc, `${seedBase}/bias`);
        if (!sameShape(bias.shape, [geometry.outChannels])) {
          throw fail(at('inputs', 'bias'), `bias shape ${formatShape(bias.shape)} must be [${geometry.outChannels}] (output channels)`);
        }
      }
      built = { op: 'conv2d', geometry, w, bias };
    } else {
      const geometry = pool2dGeometry(xc.shape, {
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
  const hasBias = built.op === 'conv2d' && built.bias !== undefined;
  const id = `${name} ${spellGeometry({ op, geometry: built.geometry, padding: pad, bias: hasBias, ceil: attrs.ceilMode === true })}`;
  const direction = raw.direction ?? 'both';
  const outLayoutShape = (nchw: number[]) => (layout === 'NCHW' ? nchw : [nchw[0], nchw[2], nchw[3], nchw[1]]);
  const readActivation = (spec: RawTensor, field: string, nchwShape: number[]): Tensor => {
    const t = readTensor(spec, at(...field.split('.')), loc, `${id}/${field}`);
    const want = outLayoutShape(nchwShape);
    if (!sameShape(t.shape, want)) throw fail(at(...field.split('.')), `shape ${formatShape(t.shape)} must be ${formatShape(want)} (${layout})`);
    return activationToNchw(t, layout);
  };
  const dy = inputs.dy !== undefined ? readActivation(inputs.dy, 'inputs.dy', outShape)
    : activationToNchw({ shape: outLayoutShape(outShape), data: generate(sizeOf(outShape), { kind: 'uniform', low: -1, high: 1, seed: fnv1a(`${id}/dy`) }) }, layout);

  const expected: Partial<Record<OutputName, Tensor>> = {};
  const exp: RawExpected = raw.expected ?? {};
  for (const [key, spec] of Object.entries(exp)) {
    if ((key === 'y' && direction === 'backward') || (key !== 'y' && direction === 'forward')) {
      throw fail(at('expected', key), `a ${direction} case has no output ${key}`);
    }
    if (key === 'y') expected.y = readActivation(spec, 'expected.y', outShape);
    else if (key === 'dx') expected.dx = readActivation(spec, 'expected.dx', xc.shape);
    else if (built.op !== 'conv2d') throw fail(at('expected', key), `${op} has no output ${key}`);
    else {
      const { w } = built;
      const t = readTensor(spec, at('expected', key), loc, '');
      const want = key === 'db' ? [outShape[1]] : layout === 'NCHW' ? w.shape : [w.shape[2], w.shape[3], w.shape[1], w.shape[0]];
      if (!sameShape(t.shape, want)) throw fail(at('expected', key), `shape ${formatShape(t.shape)} must be ${formatShape(want)}`);
      if (key === 'db') expected.db = t;
      else expected.dw = weightsToOihw(t, layout); // the schema allows no other key
    }
  }

  const common = {
    id, name, file: loc.file, line: loc.line(base), direction, layout, expected,
    toleranceFactor: raw.tolerance?.factor ?? 1,
    bench: raw.bench === true || typeof raw.bench === 'object',
    ...(typeof raw.bench === 'object' ? { gateThreshold: raw.bench.threshold } : {}),
  };
  if (built.op === 'conv2d') return { ...common, op: 'conv2d', geometry: built.geometry, x: xc, w: built.w, bias: built.bias, dy };
  return { ...common, op: built.op, geometry: built.geometry, x: xc, dy };
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
  const root: unknown = doc.toJS();
  if (!validateFile(finiteCopy(root))) {
    // Report each bad case once; a broken file-level structure is one error.
    const errs = validateFile.errors ?? [];
    const byCase = new Map<string, ErrorObject[]>();
    for (const e of errs) {
      const m = /^\/cases\/(\d+)/.exec(e.instancePath);
      const key = m ? m[1] : '';
      byCase.set(key, [...(byCase.get(key) ?? []), e]);
    }
    if (byCase.has('') || !isRecord(root) || !Array.isArray(root.cases)) {
      return { cases: [], errors: [schemaErrors(byCase.get('') ?? errs, [], loc)] };
    }
  }
  const result: { cases: Case[]; errors: CaseError[] } = { cases: [], errors: [] };
  // Here the file passed the schema, or only some of its cases failed: `cases` is a list either way.
  const list: unknown[] = isRecord(root) && Array.isArray(root.cases) ? root.cases : [];
  list.forEach((raw, i) => {
    const base: Path = ['cases', i];
    if (!isRawCase(raw)) {
      result.errors.push(schemaErrors(validateCase.errors ?? [], base, loc));
      return;
    }
    for (const combo of expandMatrix(raw.matrix ?? {})) {
      const expanded: Record<string, unknown> = structuredClone({ ...raw, matrix: null });
      delete expanded.matrix;
      for (const [key, value] of combo) setPath(expanded, key, value);
      const note = combo.length ? ` (matrix ${combo.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')})` : '';
      // Checked again, for the matrix values (without a matrix it is the case already checked, and passes).
      if (!isRawCase(expanded)) {
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
    result.errors.push(new CaseError(paths.join(', '), 0, '', `cannot read: ${e instanceof Error ? e.message : String(e)}`));
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
