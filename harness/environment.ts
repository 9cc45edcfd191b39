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

/** Packages whose version changes an engine's speed: ONNX Runtime and every TF.js package. */
const isEnginePackage = (name: string): boolean => name === 'onnxruntime-node' || name.startsWith('@tensorflow/tfjs');

/**
 * Why a baseline's timings may not compare with this run's: one human reason per difference in
 * CPU model, core count, platform, Node version, engine package versions and timing settings.
 * Empty when both were recorded alike.
 *
 * A warning, by default and by design, not an error: the gate judges each kernel's time as a
 * ratio to a reference engine timed alongside it, which carries across similar machines (CI
 * runners of one pool report different CPU models), but less well across very different ones;
 * the reports show the reasons so that a reader knows how far to trust a verdict.
 */
export function foreignBaseline(baseline: Environment, now: Environment): string[] {
  const out: string[] = [];
  const differs = (what: string, was: string | number, is: string | number) => {
    if (was !== is) out.push(`${what}: baseline ${was}, now ${is}`);
  };
  differs('CPU', JSON.stringify(baseline.cpuModel), JSON.stringify(now.cpuModel));
  differs('cores', baseline.cores, now.cores);
  differs('platform', `${baseline.platform}/${baseline.arch}`, `${now.platform}/${now.arch}`);
  differs('Node', baseline.node, now.node);
  const packages = [...new Set([...Object.keys(baseline.packages), ...Object.keys(now.packages)])].filter(isEnginePackage).sort();
  for (const p of packages) differs(p, baseline.packages[p] ?? 'not recorded', now.packages[p] ?? 'not recorded');
  for (const k of TIMING_SETTINGS.filter((s) => s !== 'CI')) differs(k, baseline.settings[k] ?? 'unset', now.settings[k] ?? 'unset');
  return out;
}
