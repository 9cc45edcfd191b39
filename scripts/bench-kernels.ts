// Every built-in and every engine on the bench cases, in one run and one table (not a test: its
// numbers are the point). Each kernel is timed in its host around the call alone, the engines in
// this process, one after another on the same data; ratios are to tfjs-wasm and ONNX Runtime
// measured in the same run (above 1: faster than that engine).
// Usage: npm run bench:kernels -- [--bench-time <ms>] [--case <pattern>]... [--impl <spec>]...
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_BENCH } from '../harness/bench.ts';
import { BUILT_IN_NAMES } from '../harness/implementations.ts';
import { BUNDLED_CASES } from '../harness/paths.ts';
import type { Timing } from '../harness/report/types.ts';
import { loadInputs, releaseAll, timeAll } from '../harness/session.ts';

const { values } = parseArgs({
  options: { 'bench-time': { type: 'string', default: '500' }, case: { type: 'string', multiple: true }, impl: { type: 'string', multiple: true } },
});
const timeMs = Number(values['bench-time']);
if (!(timeMs > 0)) throw new Error(`--bench-time must be a positive number of ms, got ${values['bench-time']}`);

const inputs = await loadInputs({ cases: [`${BUNDLED_CASES}/bench`], impls: values.impl ?? [...BUILT_IN_NAMES], casePatterns: values.case ?? [] });
let timings: Timing[];
try {
  timings = await timeAll(inputs, { ...DEFAULT_BENCH, timeMs });
} finally {
  await releaseAll(inputs);
}

const engines = [...inputs.implementations.map((i) => i.name), ...inputs.oracles.map((o) => o.name)];
const threads = new Map<string, number>([...inputs.implementations.map((i) => [i.name, i.threads] as const), ...inputs.oracles.map((o) => [o.name, o.threads] as const)]);
const measured = (caseId: string, computation: string, engine: string) => {
  const t = timings.find((x) => x.caseId === caseId && x.computation === computation && x.engine === engine);
  return t?.state === 'measured' ? t : undefined;
};
const digits = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2));
const ratio = (fast: number, slow: number | undefined) => (slow === undefined ? '–' : `${digits(slow / fast)}x`);

const lines = [
  `| bench case | dir | unit | ${engines.map((e) => `${e} (${threads.get(e)}t)`).join(' | ')} |`,
  `|---|---|---|${engines.map(() => '---:').join('|')}|`,
];
for (const c of inputs.cases) {
  for (const computation of ['forward', 'backward'] as const) {
    const rows = engines.map((e) => measured(c.id, computation, e));
    const first = rows.find((r) => r !== undefined);
    if (!first) continue;
    const wasm = measured(c.id, computation, 'tfjs-wasm')?.medianMs;
    const ort = measured(c.id, computation, 'ort')?.medianMs;
    const cells = engines.map((e, i) => {
      const t = rows[i];
      if (!t) return 'n/a';
      const vs = e === 'tfjs-wasm' || e === 'ort' || e === 'tfjs-cpu' ? '' : ` (${ratio(t.medianMs, wasm)} w, ${ratio(t.medianMs, ort)} o)`;
      return `${digits(t.throughput)}${vs}`;
    });
    lines.push(`| ${c.name.replace(/^bench /, '')} | ${computation === 'forward' ? 'fwd' : 'bwd'} | ${first.throughputUnit} | ${cells.join(' | ')} |`);
  }
}
const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`\n${cpu}, ${availableParallelism()} cores, Node ${process.version}; median of each engine's samples, ${timeMs} ms per engine and computation.`);
console.log('Cells: throughput, and for our kernels its speed against tfjs-wasm (w) and ONNX Runtime (o) in the same run (2x = twice as fast). (Nt): threads.\n');
console.log(lines.join('\n'));
