// reports/<name>.json: writing it, and reading it back (a baseline, a shard to merge, a child's
// report), checked against the report's schema (schema.ts) by a validator compiled from it. When the
// check fails, the schema is walked to name the first bad field, on one line with the file.
//
// JSON has no NaN or Infinity, and comparisons hold them (got, want, ratio, maxRatio, ulps): they
// are written as the strings "NaN", "Infinity" and "-Infinity", and read back as numbers exactly
// where the schema has a number that may be non-finite; a string field keeps its text.
import { type TSchema, Type } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import { Errors } from 'typebox/value';
import { isRecord } from '../guards.ts';
import { NON_FINITE, REPORT_FORMAT, REPORT_VERSION, ReportSchema } from './schema.ts';
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

const validator = Compile(ReportSchema);

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
  if (!validator.Check(value)) return fail(explain(value));
  // Checked: fields it does not know are kept as they are, so a newer writer's additions survive.
  if (NON_FINITE.some((s) => text.includes(`"${s}"`))) restoreNonFinite(ReportSchema, value);
  return value;
}

// ---- Walking the schema along a value: which union member it is, and where it fails.

type Path = (string | number)[];

const compiled = new WeakMap<TSchema, Validator>();
function check(schema: TSchema, value: unknown): boolean {
  let v = compiled.get(schema);
  if (!v) compiled.set(schema, v = Compile(schema));
  return v.Check(value);
}

/** A number that may be non-finite: the schema's `num`, a number or one of NON_FINITE. */
const isNum = (s: TSchema): boolean => Type.IsUnion(s) && s.anyOf.some((b) => Type.IsEnum(b) && b.enum.includes('NaN'));

const isScalar = (s: TSchema): boolean => Type.IsNumber(s) || Type.IsInteger(s) || Type.IsString(s) || Type.IsBoolean(s);

/** The values a field may take when it is a constant or a list of them (a union's discriminant), else undefined. */
function constants(s: TSchema): unknown[] | undefined {
  if (Type.IsLiteral(s)) return [s.const];
  if (Type.IsEnum(s)) return s.enum;
  return undefined;
}

/** NON_FINITE strings back to numbers where the schema has a `num`, in place. */
function restoreNonFinite(schema: TSchema, value: unknown): unknown {
  if (isNum(schema)) return typeof value === 'string' ? Number(value) : value;
  if (Type.IsUnion(schema)) {
    const member = schema.anyOf.find((m) => check(m, value));
    return member ? restoreNonFinite(member, value) : value;
  }
  if (Type.IsArray(schema) && Array.isArray(value)) {
    const item = schema.items; // samples can be many: what a list holds is decided once
    if (isNum(item)) value.forEach((x: unknown, i) => { if (typeof x === 'string') value[i] = Number(x); });
    else if (!isScalar(item)) value.forEach((x: unknown, i) => { value[i] = restoreNonFinite(item, x); });
  }
  if (Type.IsObject(schema) && isRecord(value)) {
    for (const [k, s] of Object.entries(schema.properties)) if (Object.hasOwn(value, k)) value[k] = restoreNonFinite(s, value[k]);
  }
  if (Type.IsRecord(schema) && isRecord(value)) {
    const s = Type.RecordValue(schema);
    if (!isScalar(s)) for (const k of Object.keys(value)) value[k] = restoreNonFinite(s, value[k]);
  }
  return value;
}

/** The union member `value` (an object) is closest to: a discriminant it misses counts far more than a missing field. */
function closest(members: TSchema[], value: Record<string, unknown>): TSchema {
  const cost = (m: TSchema) => (!Type.IsObject(m) ? Infinity : Object.entries(m.properties).reduce((n, [k, s]) => (
    !Object.hasOwn(value, k) ? n + (Type.IsOptional(s) ? 0 : 1) : constants(s) && !check(s, value[k]) ? n + 100 : n), 0));
  return members.reduce((a, b) => (cost(b) < cost(a) ? b : a));
}

interface Fault { path: Path; schema: TSchema; value: unknown; expected?: string }

/** The first field of `value` that `schema` refuses (missing fields are `undefined`). */
function locate(schema: TSchema, value: unknown, path: Path): Fault {
  if (Type.IsUnion(schema) && !isNum(schema) && isRecord(value)) {
    const member = closest(schema.anyOf, value);
    if (Type.IsObject(member)) {
      // A discriminant (state, verdict) that fits no member: name every value it may take.
      const key = Object.entries(member.properties).find(([k, s]) => constants(s) && (Object.hasOwn(value, k) || !Type.IsOptional(s))
        && !check(s, value[k]))?.[0];
      if (key !== undefined) {
        const all = schema.anyOf.flatMap((m) => (Type.IsObject(m) && m.properties[key] ? constants(m.properties[key]) ?? [] : []));
        return { path: [...path, key], schema: member.properties[key], value: value[key], expected: oneOf(all) };
      }
    }
    return locate(member, value, path);
  }
  if (Type.IsObject(schema) && isRecord(value)) {
    for (const [k, s] of Object.entries(schema.properties)) {
      if (!Object.hasOwn(value, k)) {
        if (!Type.IsOptional(s)) return { path: [...path, k], schema: s, value: undefined };
      } else if (!check(s, value[k])) return locate(s, value[k], [...path, k]);
    }
  }
  if (Type.IsRecord(schema) && isRecord(value)) {
    const s = Type.RecordValue(schema);
    const k = Object.keys(value).find((key) => !check(s, value[key]));
    if (k !== undefined) return locate(s, value[k], [...path, k]);
  }
  if (Type.IsArray(schema) && Array.isArray(value)) {
    const i = value.findIndex((x: unknown) => !check(schema.items, x));
    if (i >= 0) return locate(schema.items, value[i], [...path, i]);
  }
  return { path, schema, value };
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
function noun(s: TSchema): string {
  const values = constants(s);
  if (isNum(s)) return 'a number';
  if (values) return values.length === 1 ? JSON.stringify(values[0]) : oneOf(values);
  if (Type.IsUnion(s)) return [...new Set(s.anyOf.map(noun))].join(' or ');
  if (Type.IsInteger(s)) return 'an integer';
  if (Type.IsNumber(s)) return 'a finite number';
  if (Type.IsString(s)) return 'a string';
  if (Type.IsBoolean(s)) return 'true or false';
  if (Type.IsArray(s)) return 'an array';
  return 'an object';
}

/** The value has the right type, and breaks one of the schema's bounds. */
const inBounds = (s: TSchema, v: unknown): boolean => (Type.IsArray(s) && Array.isArray(v))
  || (Type.IsNumber(s) && typeof v === 'number') || (Type.IsInteger(s) && Number.isInteger(v)) || (Type.IsString(s) && typeof v === 'string');

/** Words for the bounds the gate relies on, by field (rows of any index as `[]`). */
const BOUNDS: Record<string, (v: unknown) => string> = {
  'gate.rows[].threshold': (v) => `expected a positive fraction, got ${describe(v)}`,
  'gate.rows[].logRatios': () => 'no processes (an empty array)',
  'gate.rows[].logRatios[]': () => 'a process with no rounds (an empty array)',
};

const fieldName = (path: Path): string => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

const ROW_ID = new Set(['caseId', 'computation', 'candidate', 'reference']);

/** `<field>: <problem>` for the first bad field of a report that failed the check. */
function explain(report: Record<string, unknown>): string {
  const { path, schema, value, expected } = locate(ReportSchema, report, []);
  const at = fieldName(path);
  if (path.length === 1 && Type.IsArray(schema)) return value === undefined ? `missing "${at}" (an array)` : `"${at}" is ${describe(value)}, not an array`;
  const bound = BOUNDS[at.replace(/\[\d+\]/g, '[]')];
  const problem = expected === undefined && inBounds(schema, value)
    ? bound?.(value) ?? `${Errors(schema, value)[0]?.message ?? 'out of bounds'}, got ${describe(value)}`
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
