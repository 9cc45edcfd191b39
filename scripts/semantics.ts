// The semantics probe: runs every oracle on every case of the given files EVEN where the oracle
// declares the case unsupported, and prints what each engine really does against reference64.
// The "Where the engines differ" section of cases/README.md is written from its output.
// Usage: npx tsx scripts/semantics.ts [case files or folders; default cases/semantics]
import { loadCases } from '../harness/cases/load.ts';
import { checkOutputs, computationsOf, referenceOutputs } from '../harness/check.ts';
import { formatMismatch } from '../harness/compare.ts';
import { loadOracles } from '../harness/oracles/load.ts';

const paths = process.argv.slice(2);
const { cases, errors } = loadCases(paths.length ? paths : ['cases/semantics']);
for (const e of errors) console.error(`error: ${e.message}`);
const { oracles, absent } = await loadOracles();
for (const a of absent) console.log(`(${a.name} absent: ${a.reason})`);

for (const c of cases) {
  for (const computation of computationsOf(c)) {
    const refs = referenceOutputs(c, computation);
    console.log(`\n${c.id} ${computation}`);
    for (const oracle of oracles) {
      const declared = oracle.unsupported(c, computation);
      let measured: string;
      try {
        const p = await oracle.prepare(c, computation);
        const checks = checkOutputs(c, computation, p.collect(await p.call()), refs);
        const bad = checks.filter((k) => !k.comparison.ok);
        measured = bad.length === 0 ? 'agrees with reference64'
          : bad.map((k) => `differs on ${k.tensor} vs ${k.against} (${k.comparison.failures}/${k.comparison.elements}): ` +
            (k.comparison.problem ?? (k.comparison.mismatches[0] ? formatMismatch(k.tensor, k.comparison.mismatches[0]) : ''))).join('; ');
      } catch (e) {
        measured = `cannot run: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
      } finally {
        await oracle.release();
      }
      console.log(`  ${oracle.name}: ${measured}${declared ? ` [declared n/a: ${declared}]` : ''}`);
    }
  }
}
