// Writes the published JSON Schemas from their TypeBox definitions (harness/report/schema.ts,
// harness/cases/schema.ts). Run `npm run schemas` after changing a schema, and commit the files;
// with --check it only says which file is stale (exit 1), as the schema test does. The harness
// reads these files at run time (json.ts, validate.ts), so this is the one place TypeBox runs.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Type } from 'typebox';
import { CASE_SCHEMA_FILE } from '../harness/cases/format.ts';
import { caseSchemas } from '../harness/cases/schema.ts';
import { REPORT_SCHEMA_FILE } from '../harness/report/format.ts';
import { reportSchemas } from '../harness/report/schema.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WIDTH = 120;

/** Each published schema: its path in the repository and its text. */
export const SCHEMA_FILES: { path: string; text: string }[] = [
  { path: REPORT_SCHEMA_FILE, text: formatJson(reportSchemas(Type).reportJsonSchema) },
  { path: CASE_SCHEMA_FILE, text: formatJson(caseSchemas(Type).caseFileJsonSchema) },
];

/** JSON text with each object or list on one line when it fits, else one member a line. */
export function formatJson(value: unknown): string {
  const plain: unknown = JSON.parse(JSON.stringify(value)); // only what JSON holds (no TypeBox markers)
  return `${format(plain, '')}\n`;
}

/** `v` at `indent`, after `lead` characters on its first line (a key). */
function format(v: unknown, indent: string, lead = 0): string {
  const flat = inline(v);
  if (v === null || typeof v !== 'object' || indent.length + lead + flat.length <= WIDTH) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(v) && v.every((x: unknown) => x === null || typeof x !== 'object')) { // a list of scalars fills its lines
    const lines = v.map(inline).reduce<string[]>((out, item) => {
      const last = out.length - 1;
      if (last >= 0 && inner.length + out[last].length + item.length + 2 <= WIDTH) out[last] += `, ${item}`;
      else out.push(item);
      return out;
    }, []);
    return `[\n${lines.map((l) => inner + l).join(',\n')}\n${indent}]`;
  }
  const lines = Array.isArray(v) ? v.map((x: unknown) => inner + format(x, inner))
    : Object.entries(v).map(([k, x]) => `${inner}${JSON.stringify(k)}: ${format(x, inner, JSON.stringify(k).length + 2)}`);
  return Array.isArray(v) ? `[\n${lines.join(',\n')}\n${indent}]` : `{\n${lines.join(',\n')}\n${indent}}`;
}

function inline(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(inline).join(', ')}]`;
  const members = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${inline(x)}`);
  return members.length === 0 ? '{}' : `{ ${members.join(', ')} }`;
}

function main(check: boolean): number {
  let stale = 0;
  for (const { path, text } of SCHEMA_FILES) {
    const file = join(ROOT, path);
    let now: string | undefined;
    try {
      now = readFileSync(file, 'utf8');
    } catch {
      now = undefined;
    }
    if (now === text) continue;
    if (check) {
      console.error(`${path} is stale: run npm run schemas`);
      stale++;
    } else {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      console.log(`wrote ${path}`);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  process.exitCode = main(process.argv.includes('--check'));
}
