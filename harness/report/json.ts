// reports/<name>.json: writing it, and reading it back (a baseline, a shard to merge, a child's
// report), checked against the report's published schema (schema/report.schema.json, generated from
// schema.ts) by a validator ajv compiles from it on first use: most processes never read a report.
// When the check fails, the schema is walked to name the first bad field, on one line with the file.
//
// JSON has no NaN or Infinity, and comparisons hold them (got, want, ratio, maxRatio, ulps): they
// are written as the strings "NaN", "Infinity" and "-Infinity", and read back as numbers exactly
// where the schema has a number that may be non-finite; a string field keeps its text.
//
// The walks read the plain JSON Schema, as ajv does: anyOf, const, enum, type, properties and
// required, items, patternProperties, and $ref within the file.
import { Ajv, type SchemaObject, type ValidateFunction } from 'ajv';
import { isRecord } from '../guards.ts';
import { AJV_OPTIONS, readSchemaFile } from '../schema-file.ts';
import { NON_FINITE, REPORT_FORMAT, REPORT_SCHEMA_FILE, REPORT_SCHEMA_ID, REPORT_VERSION } from './format.ts';
import type { Report } from './types.ts';

/** A file that is not a readable convbench report. The message is one line: `<source>: <problem>`. */
export class ReportFormatError extends Error {
  /** `new ReportFormatError(source, problem)`, or one argument: the whole message (it should name the source). */
  constructor(readonly source: string, readonly problem?: string) {
    super(oneLine(problem === undefined ? source : `${source}: ${problem}`));
    this.name = 'ReportFormatError';
  }
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

export function serializeReport(r: Report): string {
  return `${JSON.stringify(r, replacer, 2)}\n`;
}

/** Parses and checks a report; throws ReportFormatError naming `source` (a file name) and the problem. */
export function parseReport(text: string, source: string): Report {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ReportFormatError(source, `not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const fail = (problem: string): never => { throw new ReportFormatError(source, problem); };
  if (!isRecord(value)) return fail(`not a convbench report (the top level is ${describe(value)}, not an object)`);
  if (value.format === undefined) return fail(`not a convbench report (no "format": "${REPORT_FORMAT}")`);
  if (value.format !== REPORT_FORMAT) return fail(`not a convbench report ("format" is ${describe(value.format)}, want "${REPORT_FORMAT}")`);
  if (value.version !== REPORT_VERSION) {
    return fail(value.version === undefined ? `report has no "version" (this convbench reads version ${REPORT_VERSION})`
      : typeof value.version === 'number' && value.version < REPORT_VERSION
        ? `report version ${value.version} was written by an older convbench (this one reads version ${REPORT_VERSION}): record it again`
        : `unsupported report version ${describe(value.version)} (this convbench reads version ${REPORT_VERSION})`);
  }
  const { root, validate } = reportSchema();
  if (!validate(value)) return fail(explain(root, value));
  // Checked: fields it does not know are kept as they are, so a newer writer's additions survive.
  if (NON_FINITE.some((s) => text.includes(`"${s}"`))) restoreNonFinite(root, value);
  return value;
}

// ---- The schema, as read from its file: a tree of nodes, each with its place in the file.

type Path = (string | number)[];

/** One schema in the file (the root or a subschema), its keywords read once. A `$ref` is the node it names. */
interface Node {
  /** The JSON pointer of the schema in the file, for ajv to check a value against this part alone. */
  readonly at: string;
  readonly type: unknown;
  /** The values it allows when it is a `const` or an `enum` (a union's discriminant), else undefined. */
  readonly constants: readonly unknown[] | undefined;
  anyOf: Node[] | undefined;
  /** `properties`, in order, each with whether `required` lists it; undefined when the keyword is absent. */
  properties: Field[] | undefined;
  /** `items`: one schema for every element, or a list (a tuple). */
  items: Node | Node[] | undefined;
  /** `patternProperties` (a record's values). */
  patterns: [RegExp, Node][];
  /** A number that may be non-finite (schema.ts's `num`): a number, or an enum of the NON_FINITE strings. */
  num: boolean;
  /** A `num` is here or below: where the NaN strings may be restored. */
  holdsNum: boolean;
  check?: ValidateFunction;
}

interface Field { key: string; node: Node; optional: boolean }

/** The report's schema, read and compiled on first use: its validator, its tree, and the ajv that compiles its parts. */
interface Compiled { root: Node; validate: ValidateFunction<Report>; ajv: Ajv }
let compiled: Compiled | undefined;

function reportSchema(): Compiled {
  if (!compiled) {
    const file = readSchemaFile(REPORT_SCHEMA_FILE, REPORT_SCHEMA_ID);
    const ajv = new Ajv(AJV_OPTIONS);
    const validate = ajv.compile<Report>(file);
    compiled = { root: readNodes(file), validate, ajv };
  }
  return compiled;
}

const escapePointer = (key: string): string => encodeURIComponent(key.replaceAll('~', '~0').replaceAll('/', '~1'));
const unescapePointer = (segment: string): string => decodeURIComponent(segment).replaceAll('~1', '/').replaceAll('~0', '~');

/** The tree of `root`'s schemas, `$ref`s within the file resolved (a recursive schema is a cycle). */
function readNodes(root: SchemaObject): Node {
  const nodes = new Map<string, Node>();
  const resolve = (ref: string): { schema: unknown; at: string } | undefined => {
    let schema: unknown = root;
    for (const segment of ref.split('/').slice(1).map(unescapePointer)) {
      schema = isRecord(schema) ? schema[segment] : Array.isArray(schema) ? schema[Number(segment)] : undefined;
    }
    return schema === undefined ? undefined : { schema, at: ref };
  };
  const nodeOf = (schema: unknown, at: string): Node => {
    // A reference within the file is the schema it names; one elsewhere, a schema without keywords.
    const ref = isRecord(schema) && typeof schema.$ref === 'string' && schema.$ref.startsWith('#') ? resolve(schema.$ref.slice(1)) : undefined;
    if (ref) return nodes.get(ref.at) ?? nodeOf(ref.schema, ref.at);
    const s = isRecord(schema) && typeof schema.$ref !== 'string' ? schema : {};
    const constants = 'const' in s ? [s.const] : Array.isArray(s.enum) ? s.enum : undefined;
    const node: Node = { at, type: s.type, constants, anyOf: undefined, properties: undefined, items: undefined, patterns: [], num: false, holdsNum: false };
    nodes.set(at, node); // before its parts, which may refer back to it
    const part = (key: string) => `${at}/${escapePointer(key)}`;
    if (Array.isArray(s.anyOf)) node.anyOf = s.anyOf.map((m: unknown, i) => nodeOf(m, `${part('anyOf')}/${i}`));
    if (isRecord(s.properties)) {
      const required = new Set<unknown>(Array.isArray(s.required) ? s.required : []);
      node.properties = Object.entries(s.properties).map(([key, p]) => ({
        key, node: nodeOf(p, `${part('properties')}/${escapePointer(key)}`), optional: !required.has(key),
      }));
    }
    if (Array.isArray(s.items)) node.items = s.items.map((x: unknown, i) => nodeOf(x, `${part('items')}/${i}`));
    else if (s.items !== undefined) node.items = nodeOf(s.items, part('items'));
    if (isRecord(s.patternProperties)) {
      node.patterns = Object.entries(s.patternProperties).map(([re, p]) => [new RegExp(re, 'u'), nodeOf(p, `${part('patternProperties')}/${escapePointer(re)}`)]);
    }
    node.num = node.anyOf?.some((m) => m.constants?.includes('NaN')) ?? false;
    return node;
  };
  const top = nodeOf(root, '');
  // Which nodes hold a `num`, to the fixed point (a cycle holds one if any of its nodes does).
  for (const n of nodes.values()) n.holdsNum = n.num;
  for (let changed = true; changed;) {
    changed = false;
    for (const n of nodes.values()) {
      if (!n.holdsNum && partsOf(n).some((p) => p.holdsNum)) {
        n.holdsNum = true;
        changed = true;
      }
    }
  }
  return top;
}

function partsOf(n: Node): Node[] {
  return [...n.anyOf ?? [], ...(n.properties ?? []).map((f) => f.node), ...[n.items ?? []].flat(), ...n.patterns.map(([, p]) => p)];
}

/** Whether `value` passes the schema `n` alone (compiled by ajv on first use, by its place in the file). */
function check(n: Node, value: unknown): boolean {
  const { ajv } = reportSchema();
  n.check ??= ajv.compile({ $ref: `${REPORT_SCHEMA_ID}#${n.at}` });
  return n.check(value);
}

/** Whether `value` is one of `n`'s constants (`n` is a const or an enum). */
const isConstant = (n: Node, value: unknown): boolean => n.constants?.some((c) => c === value || (typeof c === 'object' && JSON.stringify(c) === JSON.stringify(value))) ?? false;

/** The schema of the record value under `key`, when a pattern of `n` matches it. */
const patternFor = (n: Node, key: string): Node | undefined => n.patterns.find(([re]) => re.test(key))?.[1];

/** The schema of element `i` of an array `n`. */
const itemAt = (n: Node, i: number): Node | undefined => (Array.isArray(n.items) ? n.items.at(i) : n.items);

// ---- Walking the schema along a value: which union member it is, and where it fails.

/** A member of a union that an object cannot be: a discriminant (const or enum field) it has, or must have, does not fit. */
function ruledOut(m: Node, value: unknown): boolean {
  if (m.constants) return !isConstant(m, value);
  if (!m.properties || !isRecord(value)) return false;
  return m.properties.some((f) => f.node.constants && (Object.hasOwn(value, f.key) ? !isConstant(f.node, value[f.key]) : !f.optional));
}

/** The member of a union that `value`, which passed the union, passes: told by its discriminants, else checked. */
function memberOf(members: Node[], value: unknown): Node | undefined {
  const left = members.filter((m) => !ruledOut(m, value));
  return left.length === 1 ? left[0] : left.find((m) => check(m, value));
}

/** NON_FINITE strings back to numbers where the schema has a `num`, in place (`value` passed the schema `n`). */
function restoreNonFinite(n: Node, value: unknown): unknown {
  if (n.num) return typeof value === 'string' ? Number(value) : value;
  if (!n.holdsNum) return value;
  if (n.anyOf) {
    const member = memberOf(n.anyOf, value);
    return member ? restoreNonFinite(member, value) : value;
  }
  if (Array.isArray(value) && n.items) {
    const item = n.items; // samples can be many: what a list holds is decided once
    if (Array.isArray(item)) value.forEach((x: unknown, i) => { const s = item.at(i); if (s) value[i] = restoreNonFinite(s, x); });
    else if (item.num) value.forEach((x: unknown, i) => { if (typeof x === 'string') value[i] = Number(x); });
    else if (item.holdsNum) value.forEach((x: unknown, i) => { value[i] = restoreNonFinite(item, x); });
  }
  if (isRecord(value)) {
    for (const { key, node } of n.properties ?? []) if (Object.hasOwn(value, key)) value[key] = restoreNonFinite(node, value[key]);
    if (n.patterns.length > 0) {
      const declared = new Set((n.properties ?? []).map((f) => f.key));
      for (const k of Object.keys(value)) {
        const s = declared.has(k) ? undefined : patternFor(n, k);
        if (s?.holdsNum) value[k] = restoreNonFinite(s, value[k]);
      }
    }
  }
  return value;
}

/** The union member `value` (an object) is closest to: a discriminant it misses counts far more than a missing field. */
function closest(members: Node[], value: Record<string, unknown>): Node {
  const cost = (m: Node) => (!m.properties ? Infinity : m.properties.reduce((n, f) => (
    !Object.hasOwn(value, f.key) ? n + (f.optional ? 0 : 1) : f.node.constants && !isConstant(f.node, value[f.key]) ? n + 100 : n), 0));
  return members.reduce((a, b) => (cost(b) < cost(a) ? b : a));
}

interface Fault { path: Path; schema: Node; value: unknown; expected?: string }

/** The first field of `value` that the schema `n` refuses (missing fields are `undefined`). */
function locate(n: Node, value: unknown, path: Path): Fault {
  if (n.anyOf && !n.num && isRecord(value)) {
    const member = closest(n.anyOf, value);
    // A discriminant (state, verdict) that fits no member: name every value it may take.
    const field = member.properties?.find((f) => f.node.constants && (Object.hasOwn(value, f.key) || !f.optional) && !isConstant(f.node, value[f.key]));
    if (field) {
      const all = n.anyOf.flatMap((m) => m.properties?.find((f) => f.key === field.key)?.node.constants ?? []);
      return { path: [...path, field.key], schema: field.node, value: value[field.key], expected: oneOf(all) };
    }
    return locate(member, value, path);
  }
  if (n.properties && isRecord(value)) {
    for (const { key, node, optional } of n.properties) {
      if (!Object.hasOwn(value, key)) {
        if (!optional) return { path: [...path, key], schema: node, value: undefined };
      } else if (!check(node, value[key])) return locate(node, value[key], [...path, key]);
    }
  }
  if (n.patterns.length > 0 && isRecord(value)) {
    for (const [k, x] of Object.entries(value)) {
      const s = patternFor(n, k);
      if (s && !check(s, x)) return locate(s, x, [...path, k]);
    }
  }
  if (n.items && Array.isArray(value)) {
    for (const [i, x] of value.entries()) {
      const s = itemAt(n, i);
      if (s && !check(s, x)) return locate(s, x, [...path, i]);
    }
  }
  return { path, schema: n, value };
}

// ---- Saying what is wrong.

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number') return String(v);
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}..."` : s;
}

const oneOf = (values: unknown[]): string => `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;

/** What a schema wants, in words. A plain number is finite: JSON holds no other. */
function noun(s: Node): string {
  const values = s.constants;
  if (s.num) return 'a number';
  if (values) return values.length === 1 ? JSON.stringify(values[0]) : oneOf([...values]);
  if (s.anyOf) return [...new Set(s.anyOf.map(noun))].join(' or ');
  if (s.type === 'integer') return 'an integer';
  if (s.type === 'number') return 'a finite number';
  if (s.type === 'string') return 'a string';
  if (s.type === 'boolean') return 'true or false';
  if (s.type === 'array') return 'an array';
  return 'an object';
}

/** The value has the right type, and breaks one of the schema's bounds. */
const inBounds = (s: Node, v: unknown): boolean => !s.constants && !s.anyOf && ((s.type === 'array' && Array.isArray(v))
  || (s.type === 'number' && typeof v === 'number') || (s.type === 'integer' && Number.isInteger(v)) || (s.type === 'string' && typeof v === 'string'));

/** ajv's words for why `value` fails the schema `s` alone. */
function bounds(s: Node, value: unknown): string | undefined {
  if (check(s, value)) return undefined;
  return s.check?.errors?.[0]?.message ?? undefined;
}

/** Words for the bounds the gate relies on, by field (rows of any index as `[]`). */
const BOUNDS: Record<string, (v: unknown) => string> = {
  'gate.rows[].threshold': (v) => `expected a positive fraction, got ${describe(v)}`,
  'gate.rows[].logRatios': () => 'no processes (an empty array)',
  'gate.rows[].logRatios[]': () => 'a process with no rounds (an empty array)',
};

const fieldName = (path: Path): string => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

const ROW_ID = new Set(['caseId', 'computation', 'candidate', 'reference']);

/** `<field>: <problem>` for the first bad field of a report that failed the check. */
function explain(root: Node, report: Record<string, unknown>): string {
  const { path, schema, value, expected } = locate(root, report, []);
  const at = fieldName(path);
  if (path.length === 1 && schema.type === 'array') return value === undefined ? `missing "${at}" (an array)` : `"${at}" is ${describe(value)}, not an array`;
  const bound = BOUNDS[at.replace(/\[\d+\]/g, '[]')];
  const problem = expected === undefined && inBounds(schema, value)
    ? bound?.(value) ?? `${bounds(schema, value) ?? 'out of bounds'}, got ${describe(value)}`
    : `expected ${expected ?? noun(schema)}, got ${describe(value)}`;
  // A gate row is named by what it gates, so a bad baseline row can be found without counting.
  const [gate, rows, i, field] = path;
  const row = gate === 'gate' && rows === 'rows' && isRecord(report.gate) && Array.isArray(report.gate.rows) && typeof i === 'number'
    ? report.gate.rows[i] : undefined;
  const named = isRecord(row) && typeof field === 'string' && !ROW_ID.has(field)
    ? `, in the row of case ${JSON.stringify(row.caseId)} ${String(row.computation)}, candidate ${JSON.stringify(row.candidate)} vs ${JSON.stringify(row.reference)}`
    : '';
  return `${at}: ${problem}${named}`;
}
