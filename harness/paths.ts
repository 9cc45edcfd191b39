// Where the package's own files are. The harness runs either from its TypeScript sources (tests,
// `npm run` scripts under tsx: harness/*.ts) or from the build a user installs (dist/harness/*.js,
// plain Node, no TypeScript loader); each module it starts in another process is named here in the
// form that is running, so a build never reaches for a source file and a source run never for dist.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** True when this module is the TypeScript source (run under tsx or vitest), false in the build. */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');
const EXT = FROM_SOURCE ? '.ts' : '.js';

/** The package root, the folder of package.json: one up from harness/, two up from dist/harness/. */
export const PACKAGE_ROOT = fileURLToPath(new URL(FROM_SOURCE ? '..' : '../..', import.meta.url));

/** convbench's version, from its package.json. */
export const VERSION: string = versionOf(join(PACKAGE_ROOT, 'package.json'));

function versionOf(file: string): string {
  const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
  return typeof v === 'object' && v !== null && 'version' in v && typeof v.version === 'string' ? v.version : 'unknown';
}

/** The case files that ship with the package: the default when no --cases is given. */
export const BUNDLED_CASES = join(PACKAGE_ROOT, 'cases');

/**
 * A build of these sources for the processes a source run starts (kernel hosts, timing and gate
 * processes): the tests make one per run and name it in CONVBENCH_BUILD_DIR
 * (harness/build.test-support.ts), and a host starts in plain Node in a third of the time it takes
 * under tsx. Ignored by the build itself, which starts its own modules.
 */
const CHILD_BUILD = FROM_SOURCE ? process.env.CONVBENCH_BUILD_DIR || undefined : undefined;

/** A module of the package by its path from the root of the sources ('harness/cli'), without extension. */
export function ownModule(path: string): string {
  if (CHILD_BUILD !== undefined) return join(CHILD_BUILD, `${path}.js`);
  return fileURLToPath(new URL(`../${path}${EXT}`, import.meta.url));
}

/** Node flags that let a child process run a module that ownModule names: tsx for the sources, none for a build. */
export function ownLoaderFlags(): string[] {
  return FROM_SOURCE && CHILD_BUILD === undefined ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [];
}
