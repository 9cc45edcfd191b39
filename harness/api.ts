// convbench for programs: `runConformance` runs what `convbench run` runs and returns the report
// object the CLI would write as JSON (docs/architecture.md "Package layout and public surface"). Nothing is printed
// and no file is written; each implementation still runs in a kernel host of its own.
import { DEFAULT_BENCH } from './bench.ts';
import type { Op } from './cases/load.ts';
import { DEFAULT_LIMITS, type HostLimits, LIMIT_RANGE } from './host/host.ts';
import { BUNDLED_CASES } from './paths.ts';
import type { Report } from './report/types.ts';
import { runSuite } from './run.ts';
import { buildReport, loadInputs, releaseAll, type Selection, timeAll } from './session.ts';

export interface SelectOptions {
  /** Case files or folders (default: the cases bundled with convbench). */
  cases?: readonly string[];
  /** Only cases of these ops. */
  ops?: readonly Op[];
  /** Only cases whose id matches one of these globs (`*`, `?`) or contains one of these texts. */
  include?: readonly string[];
  /** Leave out cases whose id matches one of these. */
  exclude?: readonly string[];
  /** Oracles besides reference64 (tfjs-node, tfjs-wasm, tfjs-cpu, ort); [] for none. Default: every one present. */
  oracles?: readonly string[];
  /** Seconds one kernel call may take before its host is killed (default 60). */
  timeLimitSeconds?: number;
  /** Resident memory of each kernel host, in bytes (default 4 GiB). */
  memoryCapBytes?: number;
}

export interface ConformanceOptions extends SelectOptions {
  /** What to check, as `--impl` takes it: a built-in (naive, im2col, views, fast), a module path, "cmd:<command>", or a manifest .json. */
  implementations: readonly string[];
  /** Also time the bench cases (default false); a number is the time budget per engine and computation, in ms. */
  bench?: boolean | number;
  /** The report's name (default "conformance"). */
  name?: string;
  /** Called as results arrive: `done` of `total` checks. */
  onProgress?(done: number, total: number, label: string): void;
}

/** The host limits an API caller asked for, in the ranges the CLI's flags allow. */
export function limitsOf(o: SelectOptions): HostLimits {
  const t = o.timeLimitSeconds;
  if (t !== undefined && !(t > 0 && t <= LIMIT_RANGE.maxTimeLimitSeconds)) throw new RangeError(`timeLimitSeconds must be more than 0 and at most a day (86400), got ${t}`);
  const m = o.memoryCapBytes;
  if (m !== undefined && !(m >= LIMIT_RANGE.minMemoryCapBytes && m <= LIMIT_RANGE.maxMemoryCapBytes)) throw new RangeError(`memoryCapBytes must be from 256 MiB to 1 TiB, got ${m}`);
  return {
    ...DEFAULT_LIMITS,
    ...(o.timeLimitSeconds !== undefined ? { callTimeLimitMs: 1000 * o.timeLimitSeconds } : {}),
    ...(o.memoryCapBytes !== undefined ? { memoryCapBytes: o.memoryCapBytes } : {}),
  };
}

/** A list option as given from plain JavaScript: absent, an array of strings, or a clear error. */
function checkList(name: string, v: unknown): void {
  if (v !== undefined && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) throw new TypeError(`convbench: option "${name}" must be an array of strings, got ${JSON.stringify(v)}`);
}

const OPTION_NAMES = ['cases', 'ops', 'include', 'exclude', 'oracles', 'timeLimitSeconds', 'memoryCapBytes', 'implementations', 'bench', 'name', 'onProgress'];

/** The session selection for API options. */
export function selectionOf(o: SelectOptions, implementations: readonly string[]): Selection {
  const unknown = Object.keys(o).find((k) => !OPTION_NAMES.includes(k));
  if (unknown !== undefined) throw new TypeError(`convbench: unknown option "${unknown}" (known: ${OPTION_NAMES.join(', ')})`);
  for (const [name, v] of [['implementations', implementations], ['cases', o.cases], ['ops', o.ops], ['include', o.include], ['exclude', o.exclude], ['oracles', o.oracles]] as const) checkList(name, v);
  return {
    cases: [...(o.cases ?? [BUNDLED_CASES])],
    impls: [...implementations],
    oracles: o.oracles === undefined ? undefined : o.oracles.length === 0 ? ['none'] : [...o.oracles],
    ops: o.ops ?? [],
    casePatterns: o.include ?? [],
    excludePatterns: o.exclude ?? [],
    limits: limitsOf(o),
  };
}

/**
 * Checks every implementation on every selected case against reference64 and the oracles (and
 * times the bench cases when asked), and returns the report. Throws on bad options or when an
 * implementation cannot be loaded; a kernel that fails, crashes or hangs is a result in the report.
 */
export async function runConformance(options: ConformanceOptions): Promise<Report> {
  if (options.implementations.length === 0) throw new TypeError('runConformance: name at least one implementation');
  const inputs = await loadInputs(selectionOf(options, options.implementations));
  try {
    const checked = await runSuite({
      cases: inputs.cases, implementations: inputs.implementations, oracles: inputs.oracles,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const bench = options.bench ?? false;
    const timings = bench === false ? [] : await timeAll(inputs, { ...DEFAULT_BENCH, ...(typeof bench === 'number' ? { timeMs: bench } : {}) }, false);
    return buildReport(options.name ?? 'conformance', inputs, { ...checked, timings });
  } finally {
    await releaseAll(inputs);
  }
}
