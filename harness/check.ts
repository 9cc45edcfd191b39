// Conformance: run one implementation's computation on a case and check every output against the
// case's exact expected values and against reference64 under the tolerance model.
import { type Case, hasBackward, hasForward, hasIndices, type OutputName } from './cases/load.ts';
import { compareTensor, compareToReference, compareWithin, describeTolerance, formatMismatch, type TensorComparison } from './compare.ts';
import type { RemoteImplementation } from './host/remote.ts';
import { type Computation, indicesUnrepresentable, type InputName, OUTPUTS, type Outputs, type Prepared } from './invoke.ts';
import { mirrorOf } from './mirror.ts';
import {
  avgPool2dBackward64, avgPool2dForward64, conv2dBackward64, conv2dForward64, maxPool2dBackward64,
  maxPool2dForward64, maxPool2dIndices64, type References,
} from './oracles/reference64.ts';

export type { References };

/** reference64's outputs for one computation of a case. */
export function referenceOutputs(c: Case, computation: Computation): References {
  if (c.op === 'conv2d') {
    return computation === 'forward' ? { y: conv2dForward64(c.x, c.w, c.bias, c.geometry) } : conv2dBackward64(c.x, c.w, c.dy, c.geometry);
  }
  if (computation === 'indices') {
    if (c.op !== 'maxpool2d') throw new Error(`${c.op} has no indices computation`);
    return maxPool2dIndices64(c.x, c.geometry);
  }
  if (c.op === 'maxpool2d') {
    return computation === 'forward' ? { y: maxPool2dForward64(c.x, c.geometry) } : { dx: maxPool2dBackward64(c.x, c.dy, c.geometry) };
  }
  return computation === 'forward' ? { y: avgPool2dForward64(c.x, c.geometry) } : { dx: avgPool2dBackward64(c.x, c.dy, c.geometry) };
}

/** The computations a case runs, in order: forward, backward, and max pooling's indices. */
export function computationsOf(c: Case): Computation[] {
  return [
    ...(hasForward(c) ? ['forward' as const] : []), ...(hasBackward(c) ? ['backward' as const] : []),
    ...(hasIndices(c) ? ['indices' as const] : []),
  ];
}

/**
 * What a result was compared with: the case's exact values, reference64, an engine by name, the
 * second call's changed data, or the call contract (an input written, an output of the wrong shape).
 */
export interface TensorCheck { tensor: OutputName | InputName; against: string; comparison: TensorComparison }

/** The `against` of a breach of the call contract. */
export const CONTRACT = 'the call contract';

/** Another engine's outputs to compare with: two float32 results, so twice the budget. */
export interface Opponent { name: string; outputs: Outputs }

export type SubjectKind = 'implementation' | 'oracle';
interface ResultBase { caseId: string; subject: string; kind: SubjectKind; computation: Computation }
export type CheckResult =
  | (ResultBase & { state: 'passed' | 'failed'; checks: TensorCheck[] })
  | (ResultBase & { state: 'skipped' | 'n/a'; reason: string })
  | (ResultBase & { state: 'errored'; error: string; stack?: string[] });

const EMPTY = { shape: [], data: new Float32Array(0) };

/**
 * Compares named outputs with the case's expected values (exactly), the references (tolerance,
 * one float32 result) and each opponent engine (tolerance, two float32 results).
 */
export function checkOutputs(c: Case, computation: Computation, got: Outputs, refs: References, opponents: Opponent[] = []): TensorCheck[] {
  return [...referenceChecks(c, computation, got, refs), ...opponentChecks(c, computation, got, refs, opponents)];
}

/** Against the case's exact values and reference64. */
function referenceChecks(c: Case, computation: Computation, got: Outputs, refs: References): TensorCheck[] {
  const checks: TensorCheck[] = [];
  for (const name of OUTPUTS[computation][c.op]) {
    const out = got[name] ?? EMPTY;
    const exact = c.expected[name];
    if (exact && c.expectedTolerance) {
      checks.push({ tensor: name, against: `expected within ${describeTolerance(c.expectedTolerance)}`, comparison: compareWithin(out, exact, c.expectedTolerance) });
    } else if (exact) checks.push({ tensor: name, against: 'expected', comparison: compareTensor(out, exact, 0) });
    const ref = refs[name];
    if (ref) {
      checks.push({
        tensor: name, against: 'reference64',
        comparison: compareToReference(out, { shape: ref.shape, data: ref.value }, ref, 1, c.toleranceFactor),
      });
    }
  }
  return checks;
}

/** Against each opponent engine: two float32 results, so twice the budget. */
function opponentChecks(c: Case, computation: Computation, got: Outputs, refs: References, opponents: Opponent[]): TensorCheck[] {
  const checks: TensorCheck[] = [];
  for (const name of OUTPUTS[computation][c.op]) {
    const ref = refs[name];
    if (!ref) continue;
    for (const o of opponents) {
      checks.push({ tensor: name, against: o.name, comparison: compareToReference(got[name] ?? EMPTY, o.outputs[name] ?? EMPTY, ref, 2, c.toleranceFactor) });
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

const isTensorName = (v: string): v is OutputName | InputName => ['y', 'dx', 'dw', 'db', 'indices', 'x', 'w', 'bias', 'dy'].includes(v);

/** A breach of the contract as a failed check, so every report shows it like a mismatch. */
function contractCheck(tensor: string, problem: string): TensorCheck {
  return {
    tensor: isTensorName(tensor) ? tensor : 'y', against: CONTRACT,
    comparison: { ok: false, elements: 0, failures: 1, maxRatio: Number.POSITIVE_INFINITY, maxUlps: Number.POSITIVE_INFINITY, mismatches: [], problem },
  };
}

/**
 * Checks an implementation under test on one computation: the call in its host, then a second call
 * on the same geometry with changed data (mirror.ts) whose result must change accordingly. The
 * references and the opponents (oracles that agreed with reference64) may arrive later: they are
 * computed in this process while the kernel computes in its host.
 */
export async function checkImplementation(
  impl: RemoteImplementation, c: Case, computation: Computation, references: References | Promise<References>, opponents: Opponent[] | Promise<Opponent[]> = [],
): Promise<CheckResult> {
  const base = { caseId: c.id, subject: impl.name, kind: 'implementation' as const, computation };
  const unavailable = impl.unavailable(c, computation);
  if (unavailable) return { ...base, ...unavailable };
  const unrepresentable = computation === 'indices' ? indicesUnrepresentable(c) : undefined;
  if (unrepresentable) return { ...base, state: 'n/a', reason: unrepresentable };
  // Asked first: a declined computation is n/a, and neither it nor its second call is sent.
  const support = await impl.supports(c, computation);
  if (support.kind === 'declined') return { ...base, state: 'n/a', reason: support.reason };
  if (support.kind === 'errored') return { ...base, state: 'errored', error: support.error, ...(support.stack.length ? { stack: support.stack } : {}) };
  const first = await impl.call(c, computation);
  if (first.kind === 'declined') return { ...base, state: 'n/a', reason: first.reason };
  if (first.kind === 'errored') return { ...base, state: 'errored', error: first.error, ...(first.stack.length ? { stack: first.stack } : {}) };
  // reference64 may still be computing in this process while the kernel ran in its host.
  const refs = await references;
  const checks = [...first.violations.map((v) => contractCheck(v.tensor, v.problem)), ...referenceChecks(c, computation, first.outputs, refs)];
  const mirror = mirrorOf(c, computation, refs);
  // The second call only when the first was right: otherwise it cannot tell anything new.
  if (checks.every((k) => k.comparison.ok)) {
    const second = await impl.call(mirror.c, computation);
    const what = `the second call (same geometry, ${mirror.what})`;
    if (second.kind === 'errored') return { ...base, state: 'errored', error: `${what}: ${second.error}`, ...(second.stack.length ? { stack: second.stack } : {}) };
    if (second.kind === 'declined') {
      checks.push(contractCheck(OUTPUTS[computation][c.op][0], `${what} was declined (${second.reason}) after the first was not`));
    } else {
      checks.push(...second.violations.map((v) => contractCheck(v.tensor, `${what}: ${v.problem}`)));
      const mirrored = mirror.references ? mirror.references(refs) : referenceOutputs(mirror.c, computation);
      for (const name of OUTPUTS[computation][c.op]) {
        const ref = mirrored[name];
        if (!ref) continue;
        const comparison = compareToReference(second.outputs[name] ?? EMPTY, { shape: ref.shape, data: ref.value }, ref, 1, c.toleranceFactor);
        checks.push({ tensor: name, against: `reference64 on ${what}`, comparison });
      }
    }
  }
  // The oracles ran meanwhile in this process; only those that agreed with reference64 are opponents.
  checks.push(...opponentChecks(c, computation, first.outputs, refs, await opponents));
  return { ...base, state: checks.every((k) => k.comparison.ok) ? 'passed' : 'failed', checks };
}

/** A failure explained: case, tensor, reference and the worst elements. */
export function describeFailure(r: CheckResult): string {
  if (r.state === 'errored') return [`${r.subject} on "${r.caseId}" ${r.computation}: ${r.error}`, ...(r.stack ?? []).map((l) => `    ${l}`)].join('\n');
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

/**
 * Elements of a passed or failed result that came out non-finite where float32 may overflow and
 * were accepted for that (cases/README.md "Numerics rules"): its verdict is "overflow-prone".
 */
export function overflowedElements(r: CheckResult): number {
  if (r.state !== 'passed' && r.state !== 'failed') return 0;
  return r.checks.reduce((n, k) => n + (k.against === 'reference64' ? k.comparison.overflowed ?? 0 : 0), 0);
}

/** A passed result with elements accepted as overflowed against reference64: shown as "overflow-prone". */
export const isOverflowProne = (r: CheckResult): boolean => r.state === 'passed' && overflowedElements(r) > 0;

/** Worst error / budget over a result's reference checks (0 when exact). */
export function worstRatio(r: CheckResult): number {
  if (r.state !== 'passed' && r.state !== 'failed') return Number.NaN;
  return Math.max(0, ...r.checks.map((k) => k.comparison.maxRatio));
}
