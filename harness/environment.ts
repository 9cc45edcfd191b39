// What a report records about the machine and process, so timings can be read in context.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import type { Environment } from './report/types.ts';

const PACKAGES = [
  'onnxruntime-node', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-node', 'tinybench', 'typescript', 'vitest',
];

/** Settings that change timings; recorded as they were when the process started. */
export const TIMING_SETTINGS = ['GLIBC_TUNABLES', 'CI', 'NODE_OPTIONS', 'UV_THREADPOOL_SIZE', 'OMP_NUM_THREADS'];

/** A package's version from its package.json, found beside its resolved entry point; undefined when absent. */
export function packageVersion(name: string): string | undefined {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = dirname(require.resolve(name));
  } catch {
    return undefined;
  }
  for (; dir !== dirname(dir); dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (!existsSync(path)) continue;
    const json: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof json === 'object' && json !== null && 'name' in json && json.name === name) {
      return 'version' in json && typeof json.version === 'string' ? json.version : undefined;
    }
  }
  return undefined;
}

export function environment(): Environment {
  const packages: Record<string, string> = {};
  for (const p of PACKAGES) packages[p] = packageVersion(p) ?? 'absent';
  const settings: Record<string, string> = {};
  for (const k of TIMING_SETTINGS) if (process.env[k] !== undefined) settings[k] = process.env[k] ?? '';
  const cpu = cpus();
  return {
    node: process.version, platform: process.platform, arch: process.arch,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown', cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, packages, settings,
  };
}
