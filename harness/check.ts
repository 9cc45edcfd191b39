// Conformance: run one implementation's computation on a case and check every output against the
// case's exact expected values and against reference64 under the tolerance model.
import { type Case, hasBackward, hasForward, type OutputName } from './cases/load.ts';
import { budgets, compareTensor, formatMismatch, type TensorComparison } from './compare.ts';
import type { Implementation } from './implementation.ts';
import { type Computation, OUTPUTS, type Outputs, type Prepared, prepare } from './invoke.ts';
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

/** What a result was compared with: the case's exact values, reference64, or an engine by name. */
export interface TensorCheck { tensor: OutputName; against: string; comparison: TensorComparison }

/** Another engine's outputs to compare with: two float32 results, so twice the budget. */
export interface Opponent { name: string; outputs: Outputs }

export type SubjectKind = 'implementation' | 'oracle';
interface ResultBase { caseId: string; subject: string; kind: SubjectKind; computation: Computation }
export type CheckResult =
  | (ResultBase & { state: 'passed' | 'failed'; checks: TensorCheck[] })
  | (ResultBase & { state: 'skipped' | 'n/a'; reason: string })
  | (ResultBase & { state: 'errored'; error: string });

const EMPTY = { shape: [], data: new Float32Array(0) };

/**
 * Compares named outputs with the case's expected values (exactly), the references (tolerance,
 * one float32 result) and each opponent engine (tolerance, two float32 results).
 */
export function checkOutputs(c: Case, computation: Computation, got: Outputs, refs: References, opponents: Opponent[] = []): TensorCheck[] {
  const checks: TensorCheck[] = [];
  for (const name of OUTPUTS[computation][c.op]) {
    const out = got[name] ?? EMPTY;
    const exact = c.expected[name];
    if (exact) checks.push({ tensor: name, against: 'expected', comparison: compareTensor(out, exact, 0) });
    const ref = refs[name];
    if (!ref) continue;
    checks.push({
      tensor: name, against: 'reference64',
      comparison: compareTensor(out, { shape: ref.shape, data: ref.value }, budgets(ref, 1, c.toleranceFactor)),
    });
    for (const o of opponents) {
      checks.push({ tensor: name, against: o.name, comparison: compareTensor(out, o.outputs[name] ?? EMPTY, budgets(ref, 2, c.toleranceFactor)) });
    }
  }
  return checks;
}

const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e));

/** Runs prepared work and checks it; a throw anywhere is an 'errored' result, never lost. */
export async function checkPrepared(
  base: ResultBase, c: Case, computation: Computation, prepared: () => Promise<Prepared> | Prepared, refs: References, opponents: Opponent[] = [],
): Promise<{ result: CheckResult; outputs?: Outputs }> {
  let got: Outputs;
  try {
    const p = await prepared();
    got = p.collect(await p.call());
  } catch (e) {
    return { result: { ...base, state: 'errored', error: errorText(e) } };
  }
  const checks = checkOutputs(c, computation, got, refs, opponents);
  return { result: { ...base, state: checks.every((k) => k.comparison.ok) ? 'passed' : 'failed', checks }, outputs: got };
}

export async function checkImplementation(impl: Implementation, c: Case, computation: Computation, refs: References, opponents: Opponent[] = []): Promise<CheckResult> {
  const base = { caseId: c.id, subject: impl.name, kind: 'implementation' as const, computation };
  const prepared = prepare(impl, c, computation);
  if (!prepared) return { ...base, state: 'skipped', reason: `${impl.name} does not implement ${c.op} ${computation}` };
  return (await checkPrepared(base, c, computation, () => prepared, refs, opponents)).result;
}

/** A failure explained: case, tensor, reference and the worst elements. */
export function describeFailure(r: CheckResult): string {
  if (r.state === 'errored') return `${r.subject} on "${r.caseId}" ${r.computation}: threw ${r.error}`;
  if (r.state !== 'failed') return '';
  const lines = [`${r.subject} on "${r.caseId}" ${r.computation}:`];
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
