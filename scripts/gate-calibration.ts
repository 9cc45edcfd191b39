// Measures the speed gate itself (not a test: it takes minutes and its numbers are the point).
// For each chosen case: record a baseline ratio of a kernel to its reference, then gate
//   - the same code against that baseline N times   -> false alarms ('slower' verdicts)
//   - the kernel made 10% slower by extra work N times -> detections
//   - the kernel made 20% slower N times            -> detections
// Usage: npm run gate:calibrate -- [--runs 20] [--case <text>]... [--impl im2col] [--reference tfjs-cpu]
// (the reference may be a built-in implementation or an oracle, as in `convbench gate --reference`)
import { parseArgs } from 'node:util';
import { type Engine, implementationEngine, oracleEngine } from '../harness/bench.ts';
import { loadOracles } from '../harness/oracles/load.ts';
import { loadCases } from '../harness/cases/load.ts';
import { DEFAULT_GATE, type GatePair, runGate } from '../harness/gate.ts';
import { BUILT_IN } from '../harness/implementations.ts';
import type { Prepared } from '../harness/invoke.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' }, case: { type: 'string', multiple: true },
    impl: { type: 'string', default: 'im2col' }, reference: { type: 'string', default: 'tfjs-cpu' },
  },
});
const runs = Number(values.runs);
const patterns = values.case ?? ['bench lenet5 c3', 'bench resnet maxpool'];

/** The same kernel, made `fraction` slower by spinning for that share of each call's own time. */
function slowed(engine: Engine, fraction: number): Engine {
  return {
    ...engine,
    name: `${engine.name}+${Math.round(fraction * 100)}%`,
    async prepare(c, computation) {
      const p = await engine.prepare(c, computation);
      if (typeof p === 'string') return p;
      const call = async () => {
        const t0 = performance.now();
        const raw = await p.call();
        const until = performance.now() + (performance.now() - t0) * fraction;
        while (performance.now() < until) { /* extra work */ }
        return raw;
      };
      return { call, collect: p.collect } satisfies Prepared;
    },
  };
}

const { oracles } = await loadOracles();
const find = (name: string): Engine => {
  const impl = BUILT_IN.find((i) => i.name === name);
  const oracle = oracles.find((o) => o.name === name);
  if (impl) return implementationEngine(impl);
  if (oracle) return oracleEngine(oracle);
  throw new Error(`no implementation or oracle named ${name}`);
};
const candidate = find(values.impl);
const reference = find(values.reference);
const { cases } = loadCases(['cases/bench']);

console.log(`gate calibration: ${values.impl} against ${values.reference}, ${runs} runs per variant, ` +
  `${DEFAULT_GATE.rounds} rounds, threshold ${DEFAULT_GATE.threshold * 100}%`);
for (const pattern of patterns) {
  const c = cases.find((x) => x.id.includes(pattern));
  if (!c) { console.log(`no bench case matches "${pattern}"`); continue; }
  const computation = 'forward' as const;
  // One throwaway run first: the baseline must not be the process's coldest measurement (in real
  // use the baseline and the head are measured by processes in the same state).
  await runGate([{ mode: 'compare', c, computation, candidate, reference }]);
  const base = await runGate([{ mode: 'compare', c, computation, candidate, reference }]);
  const baseline = base.rows[0]?.logRatios;
  if (!baseline) { console.log(`${c.id}: cannot run: ${base.skipped[0]?.reason}`); continue; }
  const line: string[] = [];
  for (const [label, engine] of [['same code', candidate], ['10% slower', slowed(candidate, 0.1)], ['20% slower', slowed(candidate, 0.2)]] as const) {
    let flagged = 0;
    const estimates: number[] = [];
    for (let r = 0; r < runs; r++) {
      const pair: GatePair = { mode: 'baseline', c, computation, candidate: engine, reference, baseline };
      const { rows } = await runGate([pair]);
      if (rows[0]?.verdict === 'slower') flagged++;
      if (rows[0]) estimates.push(Math.exp(rows[0].estimate) - 1);
    }
    estimates.sort((a, b) => a - b);
    const at = (q: number) => `${((estimates[Math.round(q * (estimates.length - 1))] ?? Number.NaN) * 100).toFixed(1)}%`;
    line.push(`${label}: flagged slower ${flagged}/${runs} (estimated change: min ${at(0)}, median ${at(0.5)}, max ${at(1)})`);
  }
  console.log(`${c.id} ${computation}\n  ${line.join('\n  ')}`);
}
