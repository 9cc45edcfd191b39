#!/usr/bin/env node
// convbench command line. Exit codes: 0 all good, 1 failures, 2 bad input or harness error.
import { parseArgs } from 'node:util';
import { type Case, loadCases } from './cases/load.ts';
import { type CheckResult, checkImplementation, computationsOf, describeFailure, referenceOutputs, worstRatio } from './check.ts';
import type { Implementation } from './implementation.ts';
import { BUILT_IN, ImplementationLoadError, loadImplementation } from './implementations.ts';

const USAGE = `usage: convbench run [--cases <dir or file>]... [--impl <name or path>]... [--op <op>] [--case <substring>]

Runs every implementation on every case and checks each result against reference64.
  --cases   case files or folders (default: cases/)
  --impl    a built-in implementation (${BUILT_IN.map((i) => i.name).join(', ')}) or the path of a module
            whose default export is an Implementation; repeatable (default: all built-ins)
  --op      only cases of this op (conv2d, maxpool2d, avgpool2d)
  --case    only cases whose id contains this text
Exit code: 0 all passed, 1 some failed, 2 bad input or harness error.`;

class UsageError extends Error {}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function formatRatio(r: CheckResult): string {
  const v = worstRatio(r);
  return Number.isNaN(v) ? '' : Number.isFinite(v) ? v.toFixed(3) : 'inf';
}

async function selectImplementations(names: string[]): Promise<Implementation[]> {
  if (names.length === 0) return [...BUILT_IN];
  const out: Implementation[] = [];
  for (const n of names) {
    const builtIn = BUILT_IN.find((i) => i.name === n);
    if (builtIn) out.push(builtIn);
    else if (/[./\\]/.test(n)) out.push(await loadImplementation(n));
    else throw new UsageError(`unknown implementation "${n}" (built-in: ${BUILT_IN.map((i) => i.name).join(', ')}; or give a path)`);
  }
  return out;
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      cases: { type: 'string', multiple: true }, impl: { type: 'string', multiple: true },
      op: { type: 'string' }, case: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { console.log(USAGE); return 0; }
  if (values.op && !['conv2d', 'maxpool2d', 'avgpool2d'].includes(values.op)) throw new UsageError(`--op: unknown op "${values.op}"`);
  const impls = await selectImplementations(values.impl ?? []);
  const loaded = loadCases(values.cases ?? ['cases']);
  for (const e of loaded.errors) console.error(`error: ${e.message}`);
  const cases = loaded.cases.filter((c: Case) => (!values.op || c.op === values.op) && (!values.case || c.id.includes(values.case)));
  if (loaded.files.length === 0) throw new UsageError(`no case files found in ${(values.cases ?? ['cases']).join(', ')}`);

  const results: CheckResult[] = [];
  const total = cases.reduce((n, c) => n + computationsOf(c).length, 0) * impls.length;
  const progress = process.stderr.isTTY && process.env.CI !== 'true';
  for (const c of cases) {
    for (const computation of computationsOf(c)) {
      const refs = referenceOutputs(c, computation);
      for (const impl of impls) {
        results.push(await checkImplementation(impl, c, computation, refs));
        if (progress) process.stderr.write(`\r${results.length}/${total} ${pad(c.id, 60).slice(0, 60)}`);
      }
    }
  }
  if (progress) process.stderr.write('\r' + ' '.repeat(80) + '\r');

  const idWidth = Math.min(90, Math.max(4, ...cases.map((c) => c.id.length)));
  console.log(`${pad('case', idWidth)}  ${pad('computation', 11)}  ${pad('implementation', 14)}  ${pad('state', 8)}  err/budget`);
  for (const r of results) {
    console.log(`${pad(r.caseId, idWidth)}  ${pad(r.computation, 11)}  ${pad(r.implementation, 14)}  ${pad(r.state, 8)}  ${formatRatio(r)}`);
  }
  const bad = results.filter((r) => r.state === 'failed' || r.state === 'errored');
  for (const r of bad) console.log(`\n${describeFailure(r)}`);
  const count = (s: CheckResult['state']) => results.filter((r) => r.state === s).length;
  console.log(`\n${cases.length} cases, ${impls.length} implementations: ${count('passed')} passed, ${count('failed')} failed, ` +
    `${count('errored')} errored, ${count('skipped')} skipped; ${loaded.errors.length} bad case(s)`);
  if (loaded.errors.length > 0) return 2;
  return bad.length > 0 ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') { console.log(USAGE); return command ? 0 : 2; }
    if (command === 'run') return await run(rest);
    throw new UsageError(`unknown command "${command}"`);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ImplementationLoadError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`convbench: ${e.message}`);
      return 2;
    }
    console.error(`convbench: harness error: ${e instanceof Error ? e.stack : String(e)}`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
