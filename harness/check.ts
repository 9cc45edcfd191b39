// Conformance: run one implementation's computation on a case and check every output against the
// case's exact expected values and against reference64 under the tolerance model.
import { type Case, hasBackward, hasForward, type OutputName } from './cases/load.ts';
import { budgets, compareTensor, formatMismatch, type TensorComparison } from './compare.ts';
import type { Implementation } from './implementation.ts';
import { type Computation, OUTPUTS, type Outputs, prepare } from './invoke.ts';
import {
  avgPool2dBackward64, avgPool2dForward64, conv2dBackward64, conv2dForward64, maxPool2dBackward64,
  maxPool2dForward64, type Reference,
} from './oracles/reference64.ts';

export type References = Partial<Record<OutputName, Reference>>;

/** reference64's outputs for one computation of a case. */
export function referenceOutputs(c: Case, computation: Computation): References {
  if (c.op === 'conv2d') {
    return computation === 'forward' ? { y: conv2dForward64(c.x, c.w, c.bias, c.geometry) } : conv2dBackward64(c.x, c.w, c.dy, c.geometry);
  }
  if (c.op === 'maxpool2d') {
    return computation === 'forward' ? { y: maxPool2dForward64(c.x, c.geometry) } : { dx: maxPool2dBackward64(c.x, c.dy, c.geometry) };
  }
  return computation === 'forward' ? { y: avgPool2dForward64(c.x, c.geometry) } : { dx: avgPool2dBackward64(c.x, c.dy, c.geometry) };
}

export function computationsOf(c: Case): Computation[] {
  return [...(hasForward(c) ? ['forward' as const] : []), ...(hasBackward(c) ? ['backward' as const] : [])];
}

export interface TensorCheck { tensor: OutputName; against: 'expected' | 'reference64'; comparison: TensorComparison }

interface ResultBase { caseId: string; implementation: string; computation: Computation }
export type CheckResult =
  | (ResultBase & { state: 'passed' | 'failed'; checks: TensorCheck[] })
  | (ResultBase & { state: 'skipped'; reason: string })
  | (ResultBase & { state: 'errored'; error: string });

/** Compares named outputs with the case's expected values (exactly) and the references (tolerance). */
export function checkOutputs(c: Case, computation: Computation, got: Outputs, refs: References): TensorCheck[] {
  const checks: TensorCheck[] = [];
  for (const name of OUTPUTS[computation][c.op]) {
    const out = got[name] ?? { shape: [], data: new Float32Array(0) };
    const exact = c.expected[name];
    if (exact) checks.push({ tensor: name, against: 'expected', comparison: compareTensor(out, exact, 0) });
    const ref = refs[name];
    if (ref) {
      checks.push({
        tensor: name, against: 'reference64',
        comparison: compareTensor(out, { shape: ref.shape, data: ref.value }, budgets(ref, 1, c.toleranceFactor)),
      });
    }
  }
  return checks;
}

export async function checkImplementation(impl: Implementation, c: Case, computation: Computation, refs: References): Promise<CheckResult> {
  const base = { caseId: c.id, implementation: impl.name, computation };
  const prepared = prepare(impl, c, computation);
  if (!prepared) return { ...base, state: 'skipped', reason: `${impl.name} does not implement ${c.op} ${computation}` };
  let got: Outputs;
  try {
    got = prepared.collect(await prepared.call());
  } catch (e) {
    return { ...base, state: 'errored', error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  const checks = checkOutputs(c, computation, got, refs);
  return { ...base, state: checks.every((k) => k.comparison.ok) ? 'passed' : 'failed', checks };
}

/** A failure explained: case, tensor, reference and the worst elements. */
export function describeFailure(r: CheckResult): string {
  if (r.state === 'errored') return `${r.implementation} on "${r.caseId}" ${r.computation}: threw ${r.error}`;
  if (r.state !== 'failed') return '';
  const lines = [`${r.implementation} on "${r.caseId}" ${r.computation}:`];
  for (const k of r.checks.filter((k) => !k.comparison.ok)) {
    const cmp = k.comparison;
    if (cmp.problem) { lines.push(`  ${k.tensor} vs ${k.against}: ${cmp.problem}`); continue; }
    lines.push(`  ${k.tensor} vs ${k.against}: ${cmp.failures} of ${cmp.elements} elements outside the budget`);
    for (const m of cmp.mismatches) lines.push(`    ${formatMismatch(k.tensor, m)}`);
  }
  return lines.join('\n');
}

/** Worst error / budget over a result's reference checks (0 when exact). */
export function worstRatio(r: CheckResult): number {
  if (r.state !== 'passed' && r.state !== 'failed') return Number.NaN;
  return Math.max(0, ...r.checks.map((k) => k.comparison.maxRatio));
}
