// vitest's globalSetup (vitest.config.ts): compiles the sources as `npm run build` does
// (tsc -p tsconfig.build.json, gemm.wasm beside fast's modules; without declarations and without
// type checking, which npm run typecheck does: 2.2 s instead of 3.4) into a folder of this run's own,
// .test-build-<pid>/ at the package root, and names it in CONVBENCH_BUILD_DIR for the test
// processes and whatever they start. The command lines the tests spawn run that build (plain
// JavaScript, as an installed convbench does; bin/convbench.js honours the variable) instead of
// transpiling every module under tsx in every process, and it is made afresh before every run, so
// it is never stale (dist/ may be). Removed after the run; one left by a run that was killed is
// removed by the next.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PREFIX = '.test-build-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e instanceof Error && 'code' in e && e.code === 'EPERM'; // alive, another user's
  }
}

export default function setup(): () => void {
  for (const name of readdirSync(ROOT)) {
    const pid = name.startsWith(PREFIX) ? Number(name.slice(PREFIX.length)) : NaN;
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) rmSync(join(ROOT, name), { recursive: true, force: true });
  }
  const dir = join(ROOT, `${PREFIX}${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  // typescript's exports map has no ./bin/tsc; its package.json is exported, and bin/tsc is beside it.
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', dir, '--declaration', 'false', '--noCheck'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    const out = e instanceof Error && 'stdout' in e ? String(e.stdout) : String(e);
    throw new Error(`the tests' build (tsc -p tsconfig.build.json --outDir ${dir}) failed:\n${out}`);
  }
  // gemm.wasm is built from fast's asm/*.as by npm run build; the sources' copy is what the tests
  // that import fast in-process use too. Without it fast takes its TypeScript paths in both.
  const wasm = join(ROOT, 'implementations/fast/asm/gemm.wasm');
  if (existsSync(wasm)) {
    mkdirSync(join(dir, 'implementations/fast/asm'), { recursive: true });
    copyFileSync(wasm, join(dir, 'implementations/fast/asm/gemm.wasm'));
  }
  process.env.CONVBENCH_BUILD_DIR = dir;
  return () => { rmSync(dir, { recursive: true, force: true }); };
}

/** The folder of this run's build (for a test that starts the CLI), from the global setup above. */
export function testBuild(): string {
  const dir = process.env.CONVBENCH_BUILD_DIR;
  if (dir === undefined || !existsSync(join(dir, 'harness', 'cli.js'))) {
    throw new Error('CONVBENCH_BUILD_DIR names no build: run the tests with vitest, whose globalSetup (harness/build.test-support.ts) makes it');
  }
  return dir;
}
