// What run-time code needs to know of the report's format, without the schema library: the
// format's name and version, the strings that stand for non-finite numbers, and where the
// published schema is. schema.ts builds the schema from these (for the types and for
// scripts/write-schemas.ts); json.ts checks reports against the published file.

export const REPORT_FORMAT = 'convbench-report';
export const REPORT_VERSION = 2;
export const REPORT_SCHEMA_ID = 'https://convbench.dev/report.schema.json';
/** The published schema, from the package root (generated from schema.ts). */
export const REPORT_SCHEMA_FILE = 'schema/report.schema.json';

/** The strings that stand for the numbers JSON cannot hold. */
export const NON_FINITE = ['NaN', 'Infinity', '-Infinity'] as const;
