// The published JSON Schemas (schema/report.schema.json, cases/case.schema.json) as the harness
// reads them at run time, to compile with ajv: from the package root, which holds them both in the
// sources and in an installed package (package.json "files"), wherever the code itself runs from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Options, SchemaObject } from 'ajv';
import { isRecord } from './guards.ts';
import { PACKAGE_ROOT } from './paths.ts';

const isSchemaObject = (v: unknown): v is SchemaObject => isRecord(v);

/** The schema in `file` (a path from the package root), checked to be the one with `$id` `id`. */
export function readSchemaFile(file: string, id: string): SchemaObject {
  const path = join(PACKAGE_ROOT, file);
  const schema: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isSchemaObject(schema) || schema.$id !== id) throw new Error(`${path}: not the schema ${id}`);
  return schema;
}

/**
 * How the harness compiles them. They are checked against the JSON Schema meta-schema by a test
 * (harness/report/schema.test.ts), not in every process; and ajv's optimisation passes cost more
 * than they save on validators that run a few times (the report's took twice as long to compile).
 */
export const AJV_OPTIONS: Options = { validateSchema: false, code: { optimize: false } };
