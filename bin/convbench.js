#!/usr/bin/env node
// Runs the TypeScript CLI through tsx (no build step) in a child process started with the malloc
// settings the benchmarks assume: with glibc's defaults, ONNX Runtime's short calls are dominated by
// page faults. GLIBC_TUNABLES only takes effect at process start, hence the child. A value already
// in the environment is kept. `--script <file.ts>` runs another TypeScript entry point the same way.
// The harness runs in a process group of its own with its kernel hosts; a signal to this wrapper
// is passed to that whole group, so nothing is left running.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const args = process.argv.slice(2);
const entry = args[0] === '--script' ? args.splice(0, 2)[1] : join(root, 'harness', 'cli.ts');
const env = {
  ...process.env,
  GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456',
};
const child = spawn(process.execPath, [tsx, entry, ...args], { stdio: 'inherit', env, detached: true });
const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
for (const signal of Object.keys(codes)) {
  process.on(signal, () => {
    try { process.kill(-child.pid, signal); } catch { /* already gone */ }
    // Whatever is still in the group a moment later (a host that ignores signals) is killed.
    setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } process.exit(codes[signal]); }, 2000).unref();
  });
}
child.on('error', (e) => { console.error(`convbench: cannot start the harness: ${e.message}`); process.exit(2); });
child.on('exit', (code, signal) => process.exit(code ?? (signal && codes[signal]) ?? 2));
