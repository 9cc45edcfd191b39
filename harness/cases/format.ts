// What run-time code needs to know of the case file format, without the schema library: the
// published schema's id and where it is. schema.ts builds the schema (for the types and for
// scripts/write-schemas.ts); validate.ts checks case files against the published file.

export const CASE_SCHEMA_ID = 'https://convbench.dev/case.schema.json';
/** The published schema, from the package root (generated from schema.ts). */
export const CASE_SCHEMA_FILE = 'cases/case.schema.json';
