#!/usr/bin/env node
// convbench command line. Runs the built CLI (dist/harness/cli.js, plain JavaScript) in a child
// process started with the malloc settings the benchmarks assume: with glibc's defaults, ONNX
// Runtime's short calls are dominated by page faults. GLIBC_TUNABLES only takes effect at process
// start, hence the child. A value already in the environment is kept.
//
// In a checkout, CONVBENCH_FROM_SOURCE=1 runs the TypeScript sources under tsx instead, and
// `--script <file.ts>` runs another TypeScript entry point that way (the repo's own scripts).
// CONVBENCH_BUILD_DIR=<folder> runs the build in that folder (its harness/cli.js) instead of dist/:
// the tests set it to the build of the sources they make for each run (harness/build.test-support.ts),
// so they never run a stale dist/ and no process of theirs transpiles the sources again under tsx.
//
// The harness runs in a process group of its own; a signal to this wrapper is passed to that
// group, and the harness ends its kernel hosts (each in a group of its own) and itself when this
// wrapper goes away. SIGUSR1 is ignored here and there: by default it opens Node's inspector, which
// a kernel could use to make the harness exit 0.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
if (args[0] === '--script' && args.length < 2) {
  console.error('convbench: --script needs a TypeScript file to run');
  process.exit(2);
}
const script = args[0] === '--script' ? args.splice(0, 2)[1] : undefined;
const fromSource = script !== undefined || process.env.CONVBENCH_FROM_SOURCE === '1';
const build = process.env.CONVBENCH_BUILD_DIR || join(root, 'dist');
const entry = script ?? (fromSource ? join(root, 'harness', 'cli.ts') : join(build, 'harness', 'cli.js'));
if (!existsSync(entry)) {
  console.error(script !== undefined ? `convbench: --script ${script}: no such file`
    : fromSource ? `convbench: ${entry} is missing: CONVBENCH_FROM_SOURCE=1 needs a checkout with the sources`
      : `convbench: ${entry} is missing: the package is not built (in a checkout, run "npm run build")`);
  process.exit(2);
}
const loader = fromSource ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [];
const env = {
  ...process.env,
  GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456',
};
process.on('SIGUSR1', () => { /* no inspector */ });
const child = spawn(process.execPath, [...loader, entry, ...args], { stdio: 'inherit', env, detached: true });
const killGroup = (signal) => { try { process.kill(-child.pid, signal); } catch { /* already gone */ } };
const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
for (const signal of Object.keys(codes)) {
  process.on(signal, () => {
    killGroup(signal);
    // Whatever is still in the group a moment later (a harness that ignores signals) is killed.
    setTimeout(() => { killGroup('SIGKILL'); process.exit(codes[signal]); }, 2000).unref();
  });
}
child.on('error', (e) => { console.error(`convbench: cannot start the harness: ${e.message}`); process.exit(2); });
child.on('exit', (code, signal) => {
  killGroup('SIGKILL');
  process.exit(code ?? (signal && codes[signal]) ?? 2);
});
