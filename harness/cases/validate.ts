// Checking parsed YAML against the case file schema, with ajv: it reports every error with its
// JSON path and keyword, which the loader turns into one message per bad case. The schema is the
// published cases/case.schema.json (generated from schema.ts), read and compiled on first use.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isRecord } from '../guards.ts';
import { AJV_OPTIONS, readSchemaFile } from '../schema-file.ts';
import { CASE_SCHEMA_FILE, CASE_SCHEMA_ID } from './format.ts';
import type { RawCase } from './raw.ts';

interface Validators { file: ValidateFunction; one: ValidateFunction<RawCase> }
let compiled: Validators | undefined;

function validators(): Validators {
  if (!compiled) {
    const ajv = new Ajv({ ...AJV_OPTIONS, allErrors: true });
    const file = ajv.compile(readSchemaFile(CASE_SCHEMA_FILE, CASE_SCHEMA_ID));
    compiled = { file, one: ajv.compile<RawCase>({ $ref: `${CASE_SCHEMA_ID}#/definitions/case` }) };
  }
  return compiled;
}

/** Checks a whole file; its errors, when any, in `validateFile.errors` (as an ajv validator has them). */
export const validateFile: { (v: unknown): boolean; errors: ErrorObject[] | null | undefined } = Object.assign((v: unknown): boolean => {
  const { file } = validators();
  const ok = file(v);
  validateFile.errors = file.errors;
  return ok;
}, { errors: null });

/** Checks one case against the schema; YAML's non-finite numbers (.nan, .inf) pass as numbers. */
export function isRawCase(v: unknown): v is RawCase {
  return validators().one(finiteCopy(v));
}

/** The errors of the last isRawCase that failed. */
export const caseErrors = (): ErrorObject[] => compiled?.one.errors ?? [];

/** A copy in which non-finite numbers (YAML .nan, .inf) read as 0, for the JSON Schema validator. */
export function finiteCopy(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : 0;
  if (Array.isArray(v)) return v.map(finiteCopy);
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, finiteCopy(x)]));
  return v;
}

/** The most specific schema error: the deepest path, preferring concrete keywords over anyOf. */
export function bestSchemaError(errors: ErrorObject[]): ErrorObject {
  const score = (e: ErrorObject) => e.instancePath.split('/').length * 10 + (e.keyword === 'anyOf' ? 0 : e.keyword === 'type' ? 1 : 2);
  return errors.reduce((a, b) => (score(b) > score(a) ? b : a));
}

export function describeSchemaError(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return `unknown field "${String(e.params.additionalProperty)}"`;
  if (e.keyword === 'enum') {
    const allowed: unknown[] = e.params.allowedValues; // ajv types params as Record<string, any>
    return `must be one of ${allowed.map(String).join(', ')}`;
  }
  if (e.keyword === 'required') return `missing required field "${String(e.params.missingProperty)}"`;
  return e.message ?? e.keyword;
}
