// Writes one run's report files: <dir>/<name>.json (the source of truth) and the .md, .html and
// .junit.xml rendered from it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderHtml } from './html.ts';
import { serializeReport } from './json.ts';
import { renderJunit } from './junit.ts';
import { renderMarkdown } from './markdown.ts';
import type { Report } from './types.ts';

export interface ReportPaths { json: string; markdown: string; html: string; junit: string }

/** Creates `dir` as needed; the report's name must be a plain file name (no directories). */
export function writeReports(r: Report, dir: string): ReportPaths {
  if (!r.name || r.name === '.' || r.name === '..' || /[/\\\0]/.test(r.name)) {
    throw new Error(`report name ${JSON.stringify(r.name)} is not a plain file name`);
  }
  mkdirSync(dir, { recursive: true });
  const base = join(dir, r.name);
  const paths: ReportPaths = { json: `${base}.json`, markdown: `${base}.md`, html: `${base}.html`, junit: `${base}.junit.xml` };
  // Render everything before writing anything, so a renderer's bug never leaves half a set.
  const files: [string, string][] = [
    [paths.json, serializeReport(r)], [paths.markdown, renderMarkdown(r)], [paths.html, renderHtml(r)], [paths.junit, renderJunit(r)],
  ];
  for (const [path, content] of files) writeFileSync(path, content);
  return paths;
}
