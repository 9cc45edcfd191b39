// Which files a load reads, and reading one safely: only regular files are opened (never a FIFO,
// device or socket), symlink loops end, and at most maxFileBytes + 1 bytes are read.
import {
  closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, type Stats, statSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { beyond, type CaseLimits } from './limits.ts';

const YAML_FILE = /\.ya?ml$/;

/** A path to load: a case file, or a path that cannot be one (`problem`). */
export interface CaseFileEntry { path: string; problem?: string }

/** Why a path cannot be read, from the error of stat / open. */
function pathProblem(p: string, e: unknown): string {
  const code = e instanceof Error && 'code' in e ? e.code : undefined;
  if (code === 'ELOOP') return 'a symlink loop (too many levels of symbolic links)';
  if (code === 'ENOENT') {
    try {
      if (lstatSync(p).isSymbolicLink()) return `a dangling symlink (to ${readlinkSync(p)}, which does not exist)`;
    } catch {
      // a folder on the way is missing: no such file
    }
    return 'no such file or folder';
  }
  return `cannot read: ${e instanceof Error ? e.message : String(e)}`;
}

/** Why a stat result is no case file. */
function notRegular(p: string, st: Stats): string {
  const kind = st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device'
    : st.isSocket() ? 'a socket' : st.isDirectory() ? 'a folder' : 'not a plain file';
  let link = '';
  try {
    if (lstatSync(p).isSymbolicLink()) link = ` (through a symlink to ${readlinkSync(p)})`;
  } catch {
    // gone since: the kind is still right
  }
  return `${kind}${link}, not a regular file: only regular files are read`;
}

/**
 * The files under the given files or folders: every file named there, and the *.yaml / *.yml files
 * of folders (walked in sorted order, symlinks followed, each real folder once, so a symlink loop
 * ends). Paths that cannot be followed (dangling symlinks, symlink loops) come with their problem.
 */
export function caseFiles(paths: string[], show: (p: string) => string = (p) => p): CaseFileEntry[] {
  const out: CaseFileEntry[] = [];
  const folders = new Map<string, string>(); // real path -> the path it was first walked as
  const files = new Set<string>();
  const walk = (p: string, named: boolean) => {
    let st: Stats;
    try {
      st = statSync(p); // follows symlinks; never opens (a FIFO would block)
    } catch (e) {
      out.push({ path: p, problem: pathProblem(p, e) });
      return;
    }
    if (!st.isDirectory()) {
      // A file reached twice (named, and inside a named folder too) is read once.
      const file = resolve(p);
      if ((named || YAML_FILE.test(p)) && !files.has(file)) {
        files.add(file);
        out.push({ path: p });
      }
      return;
    }
    let real: string;
    let names: string[];
    try {
      real = realpathSync(p);
      names = readdirSync(p).sort();
    } catch (e) {
      out.push({ path: p, problem: pathProblem(p, e) });
      return;
    }
    const first = folders.get(real);
    if (first !== undefined) {
      out.push({ path: p, problem: `the folder ${show(first)} again (a symlink loop or a folder given twice): skipped` });
      return;
    }
    folders.set(real, p);
    for (const name of names) walk(join(p, name), false);
  };
  for (const p of paths) walk(p, true);
  return out;
}

/**
 * A case file's text, or why not: only a regular file is opened (never a FIFO, device or socket),
 * and at most maxFileBytes + 1 bytes are read.
 */
export function readCaseFile(file: string, limits: CaseLimits): string | { problem: string } {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    return { problem: pathProblem(file, e) };
  }
  if (!st.isFile()) return { problem: notRegular(file, st) };
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK); // O_NONBLOCK: no wait even if it became a FIFO since
  } catch (e) {
    return { problem: pathProblem(file, e) };
  }
  try {
    const now = fstatSync(fd);
    if (!now.isFile()) return { problem: notRegular(file, now) };
    if (now.size > limits.maxFileBytes) return { problem: `the file is ${now.size} bytes${beyond(limits, 'maxFileBytes')}` };
    const buf = Buffer.alloc(now.size + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    if (n > now.size) return { problem: 'the file grew while it was read' };
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}
