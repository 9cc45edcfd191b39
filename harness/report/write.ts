// Writes one run's report files: <dir>/<name>.json (the source of truth) and the .md, .html and
// .junit.xml rendered from it, as one set: everything is rendered first, each file written to a
// temporary name in the same folder, then each renamed into place (a rename within a folder is
// atomic), the JSON last. A run killed at any point (SIGKILL included) leaves every report file
// either whole and old or whole and new, never half written, and a new JSON only beside new
// renderings; at worst it leaves a temporary `.<name>.*.tmp` file behind.
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderHtml } from './html.ts';
import { serializeReport } from './json.ts';
import { renderJunit } from './junit.ts';
import { renderMarkdown } from './markdown.ts';
import type { Report } from './types.ts';

export interface ReportPaths { json: string; markdown: string; html: string; junit: string }

/** A reports folder that cannot be created or written. The message is one line naming the folder. */
export class ReportsDirError extends Error {
  constructor(readonly dir: string, cause: unknown) {
    super(`reports folder ${JSON.stringify(dir)} cannot be written: ${reasonOf(cause)}`);
    this.name = 'ReportsDirError';
  }
}

function reasonOf(e: unknown): string {
  const code = e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
  const text = e instanceof Error ? e.message : String(e);
  return (code ?? text).replace(/\s+/g, ' ').trim();
}

/** Why a report name cannot name the report files (it must be a plain file name), or undefined. */
export function reportNameProblem(name: string): string | undefined {
  if (!name || name === '.' || name === '..' || /[/\\\0]/.test(name)) return `report name ${JSON.stringify(name)} is not a plain file name (no folders: use --reports-dir)`;
  // The longest file written is ".<name>.junit.xml.<pid>.<n>.tmp"; file systems allow 255 bytes.
  if (Buffer.byteLength(name, 'utf8') > 200) return `report name ${JSON.stringify(name.slice(0, 40))}... is longer than 200 bytes`;
  return undefined;
}

let serial = 0;
const tempName = (dir: string, file: string): string => join(dir, `.${file}.${process.pid}.${++serial}.tmp`);

/**
 * Creates `dir` if needed and proves it writable by creating and removing a file in it; throws a
 * ReportsDirError otherwise. For before a run, so that a long run never ends unable to report.
 */
export function checkWritable(dir: string): void {
  const probe = tempName(dir, 'convbench-write-check');
  try {
    mkdirSync(dir, { recursive: true });
    closeSync(openSync(probe, 'wx'));
    rmSync(probe);
  } catch (e) {
    throw new ReportsDirError(dir, e);
  }
}

/**
 * Creates `dir` as needed; the report's name must be a plain file name (no directories). Throws a
 * ReportsDirError when the files cannot be written, leaving no temporary file.
 */
export function writeReports(r: Report, dir: string): ReportPaths {
  const problem = reportNameProblem(r.name);
  if (problem) throw new Error(problem);
  const paths: ReportPaths = {
    json: join(dir, `${r.name}.json`), markdown: join(dir, `${r.name}.md`), html: join(dir, `${r.name}.html`), junit: join(dir, `${r.name}.junit.xml`),
  };
  // Render everything before writing anything, so a renderer's bug never leaves half a set.
  const files: { path: string; file: string; content: string }[] = [
    { path: paths.markdown, file: `${r.name}.md`, content: renderMarkdown(r) },
    { path: paths.html, file: `${r.name}.html`, content: renderHtml(r) },
    { path: paths.junit, file: `${r.name}.junit.xml`, content: renderJunit(r) },
    { path: paths.json, file: `${r.name}.json`, content: serializeReport(r) },
  ];
  const temps = files.map((f) => ({ ...f, temp: tempName(dir, f.file) }));
  let renamed = 0;
  try {
    mkdirSync(dir, { recursive: true });
    for (const f of temps) writeFileSync(f.temp, f.content, { flag: 'wx', flush: true });
    for (const f of temps) { renameSync(f.temp, f.path); renamed++; }
  } catch (e) {
    for (const f of temps.slice(renamed)) rmSync(f.temp, { force: true });
    throw new ReportsDirError(dir, e);
  }
  return paths;
}
