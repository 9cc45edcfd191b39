// The implementations under test, as `--impl` names them: a built-in (naive, im2col, views, fast), a
// module path (.ts / .js / .mjs), "cmd:<program and arguments>" for a kernel in any language, or a
// manifest (.json) that names such a program. Each one is started in a kernel host of its own.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isRecord } from './guards.ts';
import { type HostCommand, HostFailure, type HostLimits } from './host/host.ts';
import { RemoteImplementation } from './host/remote.ts';

export const BUILT_IN_NAMES = ['naive', 'im2col', 'views', 'fast'] as const;

export class ImplementationLoadError extends Error {}

/** Splits a command line into words: whitespace separates, '...' and "..." group, \ escapes. */
export function splitCommand(line: string, what = 'cmd:'): string[] {
  const words: string[] = [];
  let word = '';
  let quote: string | undefined;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += ch;
    } else if (ch === "'" || ch === '"') { quote = ch; started = true; }
    else if (ch === '\\' && i + 1 < line.length) { word += line[++i]; started = true; }
    else if (/\s/.test(ch)) { if (started) words.push(word); word = ''; started = false; }
    else { word += ch; started = true; }
  }
  if (quote) throw new ImplementationLoadError(`${what} unbalanced ${quote} in ${JSON.stringify(line)}`);
  if (started) words.push(word);
  return words;
}

const MAX_MANIFEST_BYTES = 64 * 1024;

/** A manifest: { "command": ["python3", "kernel.py"] | "python3 kernel.py", "cwd"?: "." }, paths relative to it. */
function manifestCommand(path: string): HostCommand {
  const full = resolve(path);
  const stat = statSync(full);
  // Never open a FIFO or a device: reading one blocks or never ends.
  if (!stat.isFile()) throw new ImplementationLoadError(`${path}: a manifest must be a regular file`);
  if (stat.size > MAX_MANIFEST_BYTES) throw new ImplementationLoadError(`${path}: a manifest is at most ${MAX_MANIFEST_BYTES} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(full, 'utf8'));
  } catch (e) {
    throw new ImplementationLoadError(`${path}: not a JSON manifest: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isRecord(v)) throw new ImplementationLoadError(`${path}: a manifest is an object { "command": [...] }`);
  const argv = typeof v.command === 'string' ? splitCommand(v.command, `${path}: "command":`)
    : Array.isArray(v.command) && v.command.every((w): w is string => typeof w === 'string') ? v.command : undefined;
  if (!argv || argv.length === 0) throw new ImplementationLoadError(`${path}: "command" must be a non-empty list of strings (or one command line)`);
  if (v.cwd !== undefined && typeof v.cwd !== 'string') throw new ImplementationLoadError(`${path}: "cwd" must be a string`);
  const cwd = resolve(dirname(full), v.cwd ?? '.');
  if (!existsSync(cwd) || !statSync(cwd).isDirectory()) throw new ImplementationLoadError(`${path}: "cwd" ${JSON.stringify(v.cwd)} is not a folder`);
  return { kind: 'program', argv, cwd };
}

/** What an `--impl` value starts. */
export function commandOf(spec: string): { command: HostCommand; source: string } {
  if (BUILT_IN_NAMES.some((n) => n === spec)) return { command: { kind: 'node', module: `builtin:${spec}` }, source: 'built-in' };
  if (spec.startsWith('cmd:')) {
    const argv = splitCommand(spec.slice(4));
    if (argv.length === 0) throw new ImplementationLoadError('cmd: names no program');
    return { command: { kind: 'program', argv }, source: spec };
  }
  if (!/[./\\]/.test(spec)) {
    throw new ImplementationLoadError(`unknown implementation "${spec}" (built-in: ${BUILT_IN_NAMES.join(', ')}; or a module path, a manifest .json, or cmd:<command>)`);
  }
  if (!existsSync(spec)) throw new ImplementationLoadError(`${spec}: no such file`);
  if (spec.endsWith('.json')) return { command: manifestCommand(spec), source: spec };
  return { command: { kind: 'node', module: resolve(spec) }, source: spec };
}

/** Starts one implementation's host and reads its handshake. */
export async function startImplementation(spec: string, limits: HostLimits): Promise<RemoteImplementation> {
  const { command, source } = commandOf(spec);
  try {
    return await RemoteImplementation.start(command, limits, source);
  } catch (e) {
    if (!(e instanceof HostFailure)) throw e;
    // Our Node host says what was wrong with the module on its last stderr line.
    const own = /convbench host: (.*)$/.exec(e.message)?.[1];
    if (own) throw new ImplementationLoadError(`${spec}: ${own}`);
    throw new ImplementationLoadError(`${spec}: not an implementation: ${e.message}`);
  }
}

/** Starts every implementation (all at once); if one fails, the others are stopped. */
export async function startImplementations(specs: readonly string[], limits: HostLimits): Promise<RemoteImplementation[]> {
  const started = await Promise.allSettled((specs.length ? specs : BUILT_IN_NAMES).map((s) => startImplementation(s, limits)));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    for (const r of started) if (r.status === 'fulfilled') r.value.kill();
    throw failed.reason;
  }
  return started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
}
