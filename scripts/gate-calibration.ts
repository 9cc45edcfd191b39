// Measures the speed gate itself (not a test: it takes the better part of an hour, and its numbers
// are the point). It runs `convbench gate` exactly as a user would, every run a fresh set of
// processes: for each case, one baseline run records the subject kernel's ratio to the reference
// engine, then
//   - N gate runs of the same code against that baseline   -> false alarms ('slower' verdicts)
//   - N gate runs with the kernel made 10% slower by extra work -> detections
//   - N gate runs with the kernel made 20% slower            -> detections
// The subject is scripts/calibration-subject.ts wrapping a built-in kernel.
// Usage: npm run gate:calibrate -- [--runs 20] [--case <text>]... [--kernel im2col] [--reference tfjs-cpu]
//          [--processes 3] [--baseline-processes <n>] [--keep <dir>]
//        (the baseline run measures in as many processes as `gate` does by default when recording one,
//        unless --baseline-processes says otherwise; --keep: keep every run's report there, for a closer look)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_GATE } from '../harness/gate.ts';
import { parseReport } from '../harness/report/json.ts';
import { isMeasured, type MeasuredGateRow } from '../harness/report/types.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' }, case: { type: 'string', multiple: true },
    kernel: { type: 'string', default: 'im2col' }, reference: { type: 'string', default: 'tfjs-cpu' },
    processes: { type: 'string', default: '3' }, 'baseline-processes': { type: 'string' }, keep: { type: 'string' },
  },
});
const runs = Number(values.runs);
const patterns = values.case ?? ['bench lenet5 c3', 'bench resnet maxpool'];
const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'convbench-calibration-'));
mkdirSync(dir, { recursive: true });
const oracleFlags = ['naive', 'im2col', 'views'].includes(values.reference) ? ['--oracle', 'none', '--impl', values.reference] : ['--oracle', values.reference];

/** A head run measures in --processes; the run that records the baseline, as `gate` would by default. */
function processFlags(baseline: string | undefined): string[] {
  const n = baseline ? values.processes : values['baseline-processes'];
  return n === undefined ? [] : ['--processes', n];
}

/** One `convbench gate` run on the cases matching `pattern`, as a user would start it; its gate rows. */
function gate(pattern: string, slowdown: number, report: string, baseline?: string): MeasuredGateRow[] {
  const args = ['bin/convbench.js', 'gate', '--cases', 'cases/bench', '--case', pattern, '--impl', 'scripts/calibration-subject.ts', ...oracleFlags,
    '--reference', values.reference, '--reports-dir', dir, '--report', report, ...processFlags(baseline), ...(baseline ? ['--baseline', baseline] : [])];
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'],
    // The sources, as this script runs: never a build in dist/ that may be stale or missing.
    env: { ...process.env, CI: 'true', CONVBENCH_FROM_SOURCE: '1', CONVBENCH_SUBJECT: values.kernel, CONVBENCH_SLOWDOWN: String(slowdown) },
  });
  if (r.status !== 0 && r.status !== 1) throw new Error(`convbench gate exited with ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const rows = (parseReport(readFileSync(join(dir, `${report}.json`), 'utf8'), report).gate?.rows ?? []).filter((x) => x.candidate === 'subject');
  for (const x of rows) if (x.verdict === 'errored') throw new Error(`${report}: ${x.caseId} ${x.computation} errored while timed: ${x.error}`);
  return rows.filter(isMeasured);
}

const pct = (x: number) => `${((Math.exp(x) - 1) * 100).toFixed(1)}%`;
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 60000).toFixed(1)} min`;

console.log(`gate calibration: ${values.kernel} (as "subject") against ${values.reference}, ${runs} gate runs per variant, ` +
  `${values.processes} processes x up to ${DEFAULT_GATE.rounds} rounds (baseline: ${values['baseline-processes'] ?? 'gate\'s default'} processes), threshold ${DEFAULT_GATE.threshold * 100}%`);
try {
  for (const pattern of patterns) {
    const tag = pattern.replace(/[^A-Za-z0-9]+/g, '-');
    const baseRows = gate(pattern, 0, `${tag}-baseline`);
    if (baseRows.length === 0) { console.log(`${pattern}: no gate rows (no bench case matches, or it cannot run)`); continue; }
    const baseline = join(dir, `${tag}-baseline.json`);
    for (const [label, slowdown] of [['same code', 0], ['10% slower', 0.1], ['20% slower', 0.2]] as const) {
      const byPair = new Map<string, { flagged: number; estimates: number[] }>();
      for (let r = 0; r < runs; r++) {
        for (const row of gate(pattern, slowdown, values.keep ? `${tag}-${slowdown}-${r + 1}` : `${tag}-head`, baseline)) {
          const key = `${row.caseId} ${row.computation}`;
          const tally = byPair.get(key) ?? { flagged: 0, estimates: [] };
          if (row.verdict === 'slower') tally.flagged++;
          tally.estimates.push(row.estimate);
          byPair.set(key, tally);
        }
        process.stderr.write(`\r${pattern}, ${label}: run ${r + 1}/${runs} (${elapsed()})   `);
      }
      process.stderr.write('\n');
      for (const [key, { flagged, estimates }] of byPair) {
        const s = [...estimates].sort((a, b) => a - b);
        console.log(`${key}\n  ${label}: flagged slower ${flagged}/${estimates.length} ` +
          `(estimated change: min ${pct(s[0])}, median ${pct(s[s.length >> 1])}, max ${pct(s[s.length - 1])})`);
      }
    }
  }
} finally {
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
  console.log(`(${elapsed()})`);
}
