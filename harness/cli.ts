#!/usr/bin/env node
// convbench command line. Exit codes: 0 all good, 1 failures or regressions, 2 bad input or harness error.
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_BENCH, poolProcesses } from './bench.ts';
import { computationsOf } from './check.ts';
import { isRecord } from './guards.ts';
import { DEFAULT_GATE, type GateOptions, type GatePair, MIN_ROUNDS, runGate, type Skipped } from './gate.ts';
import { CASE_LIMIT_FLAGS, type CaseLimits, DEFAULT_CASE_LIMITS } from './cases/load.ts';
import { DEFAULT_LIMITS, formatBytes, type HostLimits, killAllHosts, LIMIT_RANGE } from './host/host.ts';
import { ImplementationLoadError } from './implementations.ts';
import { answerPlan, inFreshProcesses, readPlan, runChild, STOP_SIGNALS } from './processes.ts';
import { parseReport, ReportFormatError, serializeReport } from './report/json.ts';
import { mergeReports } from './report/merge.ts';
import type { GateSummary, Report, Timing } from './report/types.ts';
import { checkWritable, reportNameProblem, ReportsDirError, writeReports } from './report/write.ts';
import { environment, foreignBaseline } from './environment.ts';
import { exitCodeOf } from './exit-code.ts';
import { coverageCommand } from './coverage.ts';
import { fuzzCommand } from './fuzz.ts';
import { BUNDLED_CASES, VERSION } from './paths.ts';
import { safe, safeLine } from './terminal.ts';
import { colourFor, printGate, printSummary } from './summary.ts';
import {
  buildReport, checkAll, enginesOf, type Inputs, loadInputs, parseShard, releaseAll, selectCases, type Selection, timeAll, UsageError,
} from './session.ts';

/** Fresh processes that measure the gate's rounds: between-process variation needs several. */
const GATE_PROCESSES = 3;
/**
 * A gate run without --baseline records one, and its error enters every later gate against it, so
 * it measures in more processes: it is recorded once, the gates against it run often. Measured on
 * the naive LeNet-5 s4 pool, whose processes are bimodal (about one in six runs 16% slower): with 3
 * or 6 baseline processes a slow process or two in the baseline hid most 20% slowdowns; resampling
 * the measured processes, 10 catch about 98% of them with no false alarm.
 */
const BASELINE_PROCESSES = 10;

const SELECT_HELP = `  --cases <path>      case files or folders (repeatable; default: the cases bundled with convbench)
  --impl <spec>       a built-in implementation (naive, im2col, views, fast), a module whose default
                      export is an Implementation (.ts, .js, .mjs), "cmd:<program and arguments>"
                      for a kernel in any language that speaks docs/host-protocol.md, or a .json
                      manifest naming such a program (repeatable; default: all built-ins)
  --oracle <name>     tfjs-node, tfjs-wasm, tfjs-cpu, ort, or none (repeatable; default: all present)
  --op <op>           only conv2d, maxpool2d or avgpool2d cases (repeatable)
  --case <glob|text>  only cases whose id matches the glob (* ?) or contains the text
                      (repeatable: a case matching any of them)
  --exclude <glob|text>  leave out cases whose id matches (repeatable)
  --list              print the ids of the cases the selection matches (and a "reject ..." line
                      per must-reject entry of the case files), and run nothing
  --shard <i/n>       only the i-th of n deterministic slices of the cases (for CI matrices)
  --ort-threads <n>   ONNX Runtime intra-op threads (default 1)
  --time-limit <s>    seconds one kernel call may take before its host is killed (default ${DEFAULT_LIMITS.callTimeLimitMs / 1000};
                      a case may set timeLimitSeconds)
  --memory-cap <size> resident memory of each kernel host, e.g. 4GiB, 512MiB (default ${formatBytes(DEFAULT_LIMITS.memoryCapBytes).replace(' ', '')})
  case files are untrusted input, bounded by default; raise a bound with its flag:
    --max-file-bytes <n>       bytes of one case file (default ${DEFAULT_CASE_LIMITS.maxFileBytes})
    --max-aliases <n>          YAML alias expansions per file (default ${DEFAULT_CASE_LIMITS.maxAliases})
    --max-tensor-elements <n>  elements of one tensor (default ${DEFAULT_CASE_LIMITS.maxElementsPerTensor})
    --max-case-bytes <n>       bytes of one case's tensors (default ${DEFAULT_CASE_LIMITS.maxBytesPerCase})
    --max-matrix-cases <n>     cases one matrix may expand to (default ${DEFAULT_CASE_LIMITS.maxMatrixCases})
    --max-total-bytes <n>      bytes of all loaded cases' tensors (default ${DEFAULT_CASE_LIMITS.maxTotalBytes})`;

const HELP: Record<string, string> = {
  main: `usage: convbench <command> [options]

commands:
  run       check every implementation on every case against reference64 and the oracles,
            time the bench cases, write reports/<name>.{json,md,html,junit.xml}
  gate      run, then fail on failures and on kernels slower than in a baseline report
  compare   time two implementations against each other, interleaved, on the bench cases
  merge     combine shard reports into one
  fuzz      check the implementations on random valid cases against reference64; a failure is
            shrunk to a minimal case file, printed with the seed and path that replay it
  coverage  print which semantic features the cases exercise (features x op/direction); exit 1
            when a feature has no case in a cell it applies to

  --version           print convbench's version

Run "convbench <command> --help" for a command's options.
Exit codes: 0 all good, 1 failures or regressions, 2 bad input or harness error.`,
  run: `usage: convbench run [options]

${SELECT_HELP}
  --no-bench          check only; do not time
  --bench-time <ms>   time budget per engine and computation (default ${DEFAULT_BENCH.timeMs})
  --processes <n>     repeat the timings in n fresh processes and pool them (default 1)
  --report <name>     report file name (default: latest)
  --reports-dir <dir> where reports go (default: reports)
  --json              print the JSON report to stdout (human output goes to stderr)`,
  gate: `usage: convbench gate [--baseline <report.json>] [options]

Checks every case (a failure fails the gate; one that passed in the baseline is a regression),
then times each implementation interleaved with a reference engine in rounds on the bench cases,
and compares the ratio with the baseline's: slower when the whole 95% interval of the change is
above ln(1 + threshold), confirmed by a re-run. Without --baseline it records a baseline.

${SELECT_HELP}
  --baseline <file>   a report written by an earlier "convbench gate"
  --reference <name>  the engine each kernel is timed against (default: tfjs-cpu, else ort, else naive)
  --threshold <x>     slowdown threshold as a fraction (default ${DEFAULT_GATE.threshold}; cases may override)
  --rounds <n>        interleaved rounds per pair and process (default ${DEFAULT_GATE.rounds}; fewer, at least
                      ${MIN_ROUNDS}, when a pair's rounds pass ${DEFAULT_GATE.maxPairMs / 1000} s)
  --processes <n>     measure in n fresh processes, one after another (default ${GATE_PROCESSES}, or
                      ${BASELINE_PROCESSES} when recording a baseline): the same JavaScript can run at different
                      speeds in different processes, so the process, not the round, is the unit
  --report <name>     report file name (default: gate)
  --reports-dir <dir> where reports go (default: reports)`,
  compare: `usage: convbench compare <A> <B> [options]

Times implementation A against implementation B (any --impl spec, e.g. head and base builds of
your kernels), interleaved in rounds, on the bench cases; A is slower when the whole
95% interval of ln(A/B) is above ln(1 + threshold). Exit 1 when A is slower on any computation.

  --cases <path>      case files or folders (default: the bundled cases)
  --op, --case, --exclude, --shard, --time-limit, --memory-cap   as for run
  --threshold <x>     (default ${DEFAULT_GATE.threshold})
  --rounds <n>        (default ${DEFAULT_GATE.rounds})
  --processes <n>     (default ${GATE_PROCESSES})
  --report <name>     report file name (default: compare)
  --reports-dir <dir> where reports go (default: reports)`,
  merge: `usage: convbench merge <report.json>... [--report <name>] [--reports-dir <dir>]

Combines the reports of shards (convbench run --shard i/n) into one report and its renderings.`,
};

const selectOptions = {
  cases: { type: 'string', multiple: true }, impl: { type: 'string', multiple: true }, oracle: { type: 'string', multiple: true },
  op: { type: 'string', multiple: true }, case: { type: 'string', multiple: true }, exclude: { type: 'string', multiple: true }, shard: { type: 'string' },
  'ort-threads': { type: 'string' }, list: { type: 'boolean' },
  'time-limit': { type: 'string' }, 'memory-cap': { type: 'string' },
  'max-file-bytes': { type: 'string' }, 'max-aliases': { type: 'string' }, 'max-tensor-elements': { type: 'string' },
  'max-case-bytes': { type: 'string' }, 'max-matrix-cases': { type: 'string' }, 'max-total-bytes': { type: 'string' },
  report: { type: 'string' }, 'reports-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

function positiveNumber(flag: string, text: string | undefined, fallback: number, integer = false): number {
  if (text === undefined) return fallback;
  // Plain decimals only: Number() would also take "0x10", "Infinity" and "1e400".
  const v = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!(v > 0) || !Number.isSafeInteger(Math.ceil(v)) || (integer && !Number.isInteger(v))) {
    throw new UsageError(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${text}"`);
  }
  return v;
}

interface SelectValues {
  cases?: string[]; impl?: string[]; oracle?: string[]; op?: string[]; case?: string[]; exclude?: string[]; shard?: string; 'ort-threads'?: string;
  'time-limit'?: string; 'memory-cap'?: string;
  'max-file-bytes'?: string; 'max-aliases'?: string; 'max-tensor-elements'?: string;
  'max-case-bytes'?: string; 'max-matrix-cases'?: string; 'max-total-bytes'?: string;
}

/** The case-file bounds the flags raise; an absent flag keeps the default. */
function caseLimitsOf(v: SelectValues): Partial<CaseLimits> {
  const given: [keyof CaseLimits, string | undefined][] = [
    ['maxFileBytes', v['max-file-bytes']], ['maxAliases', v['max-aliases']], ['maxElementsPerTensor', v['max-tensor-elements']],
    ['maxBytesPerCase', v['max-case-bytes']], ['maxMatrixCases', v['max-matrix-cases']], ['maxTotalBytes', v['max-total-bytes']],
  ];
  const out: Partial<CaseLimits> = {};
  for (const [key, text] of given) if (text !== undefined) out[key] = positiveNumber(CASE_LIMIT_FLAGS[key], text, 0, true);
  return out;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, kib: 2 ** 10, m: 2 ** 20, mib: 2 ** 20, g: 2 ** 30, gib: 2 ** 30, t: 2 ** 40, tib: 2 ** 40 };

/** `--memory-cap`: bytes from "4GiB", "512MiB", "512M" or a byte count. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  const bytes = m && unit ? Math.floor(Number(m[1]) * unit) : Number.NaN;
  if (!(bytes >= LIMIT_RANGE.minMemoryCapBytes && bytes <= LIMIT_RANGE.maxMemoryCapBytes)) throw new UsageError(`--memory-cap must be a size from 256MiB to 1TiB, like 4GiB or 512MiB, got "${text}"`);
  return bytes;
}

function timeLimitSeconds(text: string | undefined): number {
  const seconds = positiveNumber('--time-limit', text, DEFAULT_LIMITS.callTimeLimitMs / 1000);
  if (seconds > LIMIT_RANGE.maxTimeLimitSeconds) throw new UsageError(`--time-limit is at most ${LIMIT_RANGE.maxTimeLimitSeconds} s (a day), got "${text}"`);
  return seconds;
}

function limitsOf(v: SelectValues): HostLimits {
  return {
    ...DEFAULT_LIMITS,
    callTimeLimitMs: 1000 * timeLimitSeconds(v['time-limit']),
    ...(v['memory-cap'] !== undefined ? { memoryCapBytes: parseSize(v['memory-cap']) } : {}),
  };
}

function selection(v: SelectValues): Selection {
  return {
    cases: v.cases ?? [BUNDLED_CASES], impls: v.impl ?? [], oracles: v.oracle, ops: v.op ?? [], casePatterns: v.case ?? [], excludePatterns: v.exclude ?? [],
    shard: v.shard ? parseShard(v.shard) : undefined,
    ortThreads: v['ort-threads'] ? positiveNumber('--ort-threads', v['ort-threads'], 1, true) : undefined,
    limits: limitsOf(v),
    caseLimits: caseLimitsOf(v),
  };
}

/** Argv flags that reproduce a selection in a child process. */
function selectionArgs(v: SelectValues): string[] {
  const out: string[] = [];
  for (const c of v.cases ?? []) out.push('--cases', c);
  for (const i of v.impl ?? []) out.push('--impl', i);
  for (const o of v.oracle ?? []) out.push('--oracle', o);
  for (const o of v.op ?? []) out.push('--op', o);
  for (const c of v.case ?? []) out.push('--case', c);
  for (const x of v.exclude ?? []) out.push('--exclude', x);
  const keys = ['shard', 'ort-threads', 'time-limit', 'memory-cap', 'max-file-bytes', 'max-aliases', 'max-tensor-elements', 'max-case-bytes', 'max-matrix-cases', 'max-total-bytes'] as const;
  for (const key of keys) if (v[key]) out.push(`--${key}`, v[key] ?? '');
  return out;
}

/** Before a run: the reports folder writable and the report name usable, so a long run never ends unable to report. */
function checkReports(v: { report?: string; 'reports-dir'?: string }): void {
  const problem = v.report === undefined ? undefined : reportNameProblem(v.report);
  if (problem) throw new UsageError(`--report: ${problem}`);
  checkWritable(v['reports-dir'] ?? 'reports');
}

function finish(report: Report, dir: string, json: boolean): number {
  const paths = writeReports(report, dir);
  const out = json ? console.error : console.log;
  printSummary(report, out, { colour: colourFor(json ? process.stderr : process.stdout, process.env) });
  out(`reports: ${[paths.json, paths.markdown, paths.html, paths.junit].map(safe).join(', ')}`);
  if (json) process.stdout.write(serializeReport(report) + '\n');
  return exitCodeOf(report);
}

function announce(inputs: Inputs, out: (line: string) => void): void {
  for (const e of inputs.caseErrors) console.error(safeLine(`error: ${safe(e.message)}`));
  out(safeLine(`${inputs.cases.length} cases; implementations: ${inputs.implementations.map((i) => safe(i.name)).join(', ')}; ` +
    `oracles: reference64${inputs.oracles.map((o) => `, ${safe(o.name)} (${o.threads} thread${o.threads === 1 ? '' : 's'})`).join('')}`));
  for (const a of inputs.absent) out(safeLine(`absent: ${safe(a.name)}: ${safe(a.reason)}`));
}

/** Timings in `processes` fresh processes (this one included), pooled. */
async function timings(inputs: Inputs, v: SelectValues, benchMs: number, processes: number): Promise<Timing[]> {
  const own = await timeAll(inputs, { ...DEFAULT_BENCH, timeMs: benchMs });
  const runs: Timing[][] = [own];
  for (let p = 1; p < processes; p++) {
    const what = `timing process ${p + 1} of ${processes}`;
    console.error(what);
    runs.push(parseReport(runChild(['timings', ...selectionArgs(v), '--bench-time', String(benchMs)], what), what).timings);
  }
  return processes > 1 ? poolProcesses(runs) : own;
}

/**
 * `--list`: the selected cases' ids on stdout, one per line, then the case files' must-reject entries
 * ("reject <file>:<line> <name> <pattern>", which the selection does not filter), and what was
 * loaded on stderr; nothing runs.
 */
function list(v: SelectValues): number {
  const { cases, caseErrors, rejections } = selectCases(selection(v));
  for (const e of caseErrors) console.error(safeLine(`error: ${safe(e.message)}`));
  for (const c of cases) console.log(safeLine(safe(c.id)));
  for (const x of rejections) console.log(safeLine(`reject ${safe(x.file)}:${x.line} ${safe(x.name)} ${safe(x.pattern)}`));
  for (const x of rejections.filter((y) => !y.ok)) console.error(safeLine(`not rejected as expected: ${safe(x.file)}:${x.line} ${safe(x.name)}: ${safe(x.message)}`));
  const failed = rejections.filter((x) => !x.ok).length;
  const rejects = rejections.length ? `; ${rejections.length} must-reject (${failed ? `${failed} not rejected as expected` : 'all rejected as expected'})` : '';
  console.error(`${cases.length} case${cases.length === 1 ? '' : 's'} (${cases.filter((c) => c.bench).length} bench)${rejects}; ${caseErrors.length} bad case(s)`);
  return caseErrors.length ? 2 : 0;
}

async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv, strict: true,
    options: { ...selectOptions, 'no-bench': { type: 'boolean' }, 'bench-time': { type: 'string' }, processes: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (v.help) { console.log(HELP.run); return 0; }
  if (v.list) return list(v);
  checkReports(v);
  const benchMs = positiveNumber('--bench-time', v['bench-time'], DEFAULT_BENCH.timeMs);
  const processes = positiveNumber('--processes', v.processes, 1, true);
  const out = v.json ? console.error : console.log;
  const t0 = performance.now();
  const inputs = await loadInputs(selection(v));
  announce(inputs, out);
  try {
    const t1 = performance.now();
    const checked = await checkAll(inputs);
    const t2 = performance.now();
    const timed = v['no-bench'] ? [] : await timings(inputs, v, benchMs, processes);
    const t3 = performance.now();
    const phasesMs = { loading: t1 - t0, checking: t2 - t1, timing: t3 - t2 };
    const shards = v.shard ? [parseShard(v.shard)] : undefined;
    const code = finish(buildReport(v.report ?? 'latest', inputs, { ...checked, timings: timed, phasesMs, ...(shards ? { shards } : {}) }), v['reports-dir'] ?? 'reports', v.json === true);
    const t4 = performance.now();
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    out(`phases: loading ${s(t1 - t0)}, checking ${s(t2 - t1)}, timing ${s(t3 - t2)}, reports ${s(t4 - t3)}; total ${s(t4 - t0)}`);
    return code;
  } finally {
    await releaseAll(inputs);
  }
}

/** Internal: the timing phase only, as JSON on stdout, for `run --processes`. */
async function timingsOnly(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({ args: argv, strict: true, options: { ...selectOptions, 'bench-time': { type: 'string' } } });
  const inputs = await loadInputs(selection(v));
  try {
    const timed = await timeAll(inputs, { ...DEFAULT_BENCH, timeMs: positiveNumber('--bench-time', v['bench-time'], DEFAULT_BENCH.timeMs) });
    process.stdout.write(serializeReport(buildReport('timings', inputs, { results: [], disagreements: [], timings: timed })));
    return 0;
  } finally {
    await releaseAll(inputs);
  }
}

function readReport(path: string): Report {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = isRecord(e) && typeof e.code === 'string' ? e.code : undefined;
    throw new UsageError(`${path}: cannot read: ${code ?? (e instanceof Error ? e.message : String(e))}`);
  }
  return parseReport(text, path);
}

/** Pairs of (kernel, reference engine) for every bench case's computations. */
function gatePairs(inputs: Inputs, referenceName: string | undefined, baseline?: Report): GatePair[] {
  const engines = enginesOf(inputs);
  const implEngines = engines.filter((e) => e.kind === 'implementation');
  const preferred = referenceName ? [referenceName] : ['tfjs-cpu', 'ort', 'naive'];
  const pairs: GatePair[] = [];
  for (const c of inputs.cases.filter((x) => x.bench)) {
    for (const computation of computationsOf(c)) {
      // The first preferred engine that supports this computation is the reference.
      const reference = preferred.map((n) => engines.find((e) => e.name === n)).find((e) => e !== undefined && !(e.kind === 'oracle' && inputs.oracles.find((o) => o.name === e.name)?.unsupported(c, computation)));
      if (!reference) {
        console.log(safeLine(`gate: no reference engine (${preferred.map(safe).join(', ')}) runs "${safe(c.id)}" ${computation}; not gated`));
        continue;
      }
      for (const candidate of implEngines.filter((e) => e !== reference)) {
        const base = baseline?.gate?.rows.find((r) => r.caseId === c.id && r.computation === computation && r.candidate === candidate.name && r.reference === reference.name);
        pairs.push({ mode: 'baseline', c, computation, candidate, reference, ...(base && base.verdict !== 'errored' ? { baseline: base.logRatios } : {}) });
      }
    }
  }
  return pairs;
}

/** Internal: measures the gate pairs planned on stdin in this process, as JSON on stdout. */
async function gateRoundsOnly(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({ args: argv, strict: true, options: selectOptions });
  const plan = readPlan();
  const inputs = await loadInputs(selection(v));
  try {
    process.stdout.write(JSON.stringify(await answerPlan(plan, inputs.cases, enginesOf(inputs))));
    return 0;
  } finally {
    await releaseAll(inputs);
  }
}

function gateOptions(v: { threshold?: string; rounds?: string }): GateOptions {
  return {
    ...DEFAULT_GATE,
    threshold: positiveNumber('--threshold', v.threshold, DEFAULT_GATE.threshold),
    rounds: positiveNumber('--rounds', v.rounds, DEFAULT_GATE.rounds, true),
  };
}

function reportSkipped(command: string, skipped: readonly Skipped[]): void {
  for (const s of skipped) console.log(safeLine(`${command}: skipped ${safe(s.candidate)} on "${safe(s.caseId)}" ${s.computation}: ${safe(s.reason)}`));
}

async function gate(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv, strict: true,
    options: {
      ...selectOptions, baseline: { type: 'string' }, reference: { type: 'string' }, threshold: { type: 'string' }, rounds: { type: 'string' },
      processes: { type: 'string' },
    },
  });
  if (v.help) { console.log(HELP.gate); return 0; }
  if (v.list) return list(v);
  checkReports(v);
  const processes = positiveNumber('--processes', v.processes, v.baseline ? GATE_PROCESSES : BASELINE_PROCESSES, true);
  const baseline = v.baseline ? readReport(v.baseline) : undefined;
  const foreign = baseline ? foreignBaseline(baseline.environment, environment()) : [];
  const options = gateOptions(v);
  const inputs = await loadInputs(selection(v));
  announce(inputs, console.log);
  try {
    if (v.reference && !enginesOf(inputs).some((e) => e.name === v.reference)) throw new UsageError(`--reference: no engine named "${v.reference}" in this run`);
    const checked = await checkAll(inputs);
    // Every round is measured by fresh processes doing only that, never by this one after the
    // checks: a baseline and a head run then measure in processes in the same state.
    const { rows, skipped } = await runGate(gatePairs(inputs, v.reference, baseline), inFreshProcesses(selectionArgs(v), options, processes, console.log), options.threshold);
    reportSkipped('gate', skipped);
    const failing = [...new Set(checked.results.filter((r) => r.kind === 'implementation' && (r.state === 'failed' || r.state === 'errored')).map((r) => `${r.subject}: ${r.caseId} ${r.computation}`))];
    const passedBefore = new Set((baseline?.results ?? []).filter((r) => r.kind === 'implementation' && r.state === 'passed').map((r) => `${r.subject}: ${r.caseId} ${r.computation}`));
    const summary: GateSummary = {
      mode: 'baseline', ...(baseline ? { baselineName: baseline.name } : {}),
      regressions: failing.filter((f) => passedBefore.has(f)),
      stillFailing: failing.filter((f) => !passedBefore.has(f)),
      rows, ok: failing.length === 0 && !rows.some((r) => r.verdict === 'slower' || r.verdict === 'errored'),
      ...(foreign.length ? { foreignBaseline: foreign } : {}),
    };
    return finish(buildReport(v.report ?? 'gate', inputs, { ...checked, timings: [], gate: summary }), v['reports-dir'] ?? 'reports', false);
  } finally {
    await releaseAll(inputs);
  }
}

async function compare(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: {
      cases: { type: 'string', multiple: true }, op: { type: 'string', multiple: true }, case: { type: 'string', multiple: true }, exclude: { type: 'string', multiple: true },
      shard: { type: 'string' }, list: { type: 'boolean' },
      threshold: { type: 'string' }, rounds: { type: 'string' }, processes: { type: 'string' },
      'time-limit': { type: 'string' }, 'memory-cap': { type: 'string' },
      report: { type: 'string' }, 'reports-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) { console.log(HELP.compare); return 0; }
  if (v.list) return list(v);
  checkReports(v);
  if (positionals.length !== 2) throw new UsageError(`compare takes two implementations, got ${positionals.length}`);
  const options = gateOptions(v);
  const processes = positiveNumber('--processes', v.processes, GATE_PROCESSES, true);
  const chosen = { ...v, impl: positionals, oracle: ['none'] };
  const inputs = await loadInputs(selection(chosen));
  announce(inputs, console.log);
  const [a, b] = enginesOf(inputs);
  const pairs: GatePair[] = inputs.cases.filter((c) => c.bench).flatMap((c) => computationsOf(c).map((computation) => ({ mode: 'compare' as const, c, computation, candidate: a, reference: b })));
  // Fresh processes measure; this one's hosts only said who the implementations are.
  await releaseAll(inputs);
  const { rows, skipped } = await runGate(pairs, inFreshProcesses(selectionArgs(chosen), options, processes, console.log), options.threshold);
  reportSkipped('compare', skipped);
  const summary: GateSummary = { mode: 'compare', regressions: [], stillFailing: [], rows, ok: !rows.some((r) => r.verdict === 'slower' || r.verdict === 'errored') };
  const report = buildReport(v.report ?? 'compare', inputs, { results: [], disagreements: [], timings: [], gate: summary });
  const paths = writeReports(report, v['reports-dir'] ?? 'reports');
  printGate(summary, console.log, { colour: colourFor(process.stdout, process.env) });
  console.log(`reports: ${[paths.json, paths.markdown, paths.html, paths.junit].map(safe).join(', ')}`);
  return exitCodeOf(report);
}

async function merge(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: { report: { type: 'string' }, 'reports-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (v.help) { console.log(HELP.merge); return 0; }
  checkReports(v);
  if (positionals.length === 0) throw new UsageError('merge needs at least one report file');
  const merged = mergeReports(positionals.map(readReport), v.report ?? 'merged');
  return finish(merged, v['reports-dir'] ?? 'reports', false);
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = { run, gate, compare, merge, fuzz: fuzzCommand, coverage: coverageCommand, timings: timingsOnly, 'gate-rounds': gateRoundsOnly };

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === '--version' || command === '-V') {
      console.log(`convbench ${VERSION}`);
      return 0;
    }
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      console.log(HELP.main);
      return command === undefined ? 2 : 0;
    }
    const handler = COMMANDS[command];
    if (!handler) throw new UsageError(`unknown command "${command}" (run, gate, compare, merge, fuzz, coverage)`);
    return await handler(rest);
  } catch (e) {
    const parseError = e instanceof TypeError && 'code' in e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS');
    if (e instanceof UsageError || e instanceof ImplementationLoadError || e instanceof ReportFormatError || e instanceof ReportsDirError || parseError) {
      console.error(safeLine(`convbench: ${safe(e.message)}`));
      return 2;
    }
    console.error(safeLine(`convbench: harness error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`));
    return 2;
  }
}

// SIGUSR1 would open Node's inspector, through which a kernel could make this process exit 0.
process.on('SIGUSR1', () => { /* no inspector */ });

// A signal ends every kernel host first: nothing is left running.
for (const [signal, code] of Object.entries(STOP_SIGNALS)) {
  process.on(signal, () => {
    killAllHosts();
    console.error(`convbench: stopped by ${signal}`);
    process.exit(code);
  });
}

// An error nobody awaited is a harness error, never a silent exit 1 ("failures").
process.on('unhandledRejection', (e) => {
  killAllHosts();
  console.error(safeLine(`convbench: harness error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`));
  process.exit(2);
});

// Exit explicitly: a timer or handle an engine leaves behind must not keep the run alive.
const code = await main(process.argv.slice(2));
killAllHosts();
process.exitCode = code;
setTimeout(() => process.exit(code), 200).unref();
