// Checking parsed YAML against the case file schema (schema.ts), with ajv: it reports every error
// with its JSON path and keyword, which the loader turns into one message per bad case.
import { Ajv, type ErrorObject } from 'ajv';
import { isRecord } from '../guards.ts';
import type { RawCase } from './raw.ts';
import { CASE_SCHEMA_ID, caseFileJsonSchema } from './schema.ts';

const ajv = new Ajv({ allErrors: true });
/** The whole file; its errors, when any, in `validateFile.errors`. */
export const validateFile = ajv.compile(caseFileJsonSchema);
const validateCase = ajv.compile<RawCase>({ $ref: `${CASE_SCHEMA_ID}#/definitions/case` });

/** Checks one case against the schema; YAML's non-finite numbers (.nan, .inf) pass as numbers. */
export function isRawCase(v: unknown): v is RawCase {
  return validateCase(finiteCopy(v));
}

/** The errors of the last isRawCase that failed. */
export const caseErrors = (): ErrorObject[] => validateCase.errors ?? [];

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
