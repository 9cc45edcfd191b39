// The oracles on zero-size batch and channel dimensions (cases/shapes/zero-size.yaml): where they
// do not declare a case n/a they agree with reference64, and each declaration is about what the
// engine really does there (measured in cases/README.md "Where the engines differ"). ORT is never
// given what would hang or kill this process: prepare() refuses it.
import { afterAll, describe, expect, it } from 'vitest';
import { type Case, loadCases } from '../cases/load.ts';
import { checkOutputs, computationsOf, referenceOutputs } from '../check.ts';
import type { Computation } from '../invoke.ts';
import type { Oracle } from './oracle.ts';
import { loadOrtOracle, ortCannotRun, REASONS } from './ort.ts';
import { loadTfjsOracles } from './tfjs.ts';

const { cases, errors } = loadCases(['cases/shapes/zero-size.yaml']);
const ortLoaded = await loadOrtOracle();
const tfjsLoaded = await loadTfjsOracles();
const oracles: Oracle[] = [...ortLoaded.oracles, ...tfjsLoaded.oracles];
afterAll(async () => { for (const o of oracles) await o.release(); });

const byName = (name: string): Case => {
  const c = cases.find((k) => k.name === name);
  if (!c) throw new Error(`no case ${name}`);
  return c;
};

/** What the oracle really gives on a computation: agrees, differs, or cannot run (the first line). */
async function measure(o: Oracle, c: Case, computation: Computation): Promise<string> {
  try {
    const p = await o.prepare(c, computation);
    const checks = checkOutputs(c, computation, p.collect(await p.call()), referenceOutputs(c, computation));
    return checks.every((k) => k.comparison.ok) ? 'agrees' : `differs on ${checks.filter((k) => !k.comparison.ok).map((k) => k.tensor).join(', ')}`;
  } catch (e) {
    return `cannot run: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
  }
}

describe('oracles on zero-size cases', () => {
  it('the case file loads', () => {
    expect(errors.map((e) => e.message)).toEqual([]);
  });

  for (const o of oracles) {
    it(`${o.name}: agrees with reference64 wherever it does not declare the case n/a`, async () => {
      const wrong: string[] = [];
      for (const c of cases) {
        for (const computation of computationsOf(c)) {
          if (o.unsupported(c, computation) !== undefined) continue;
          const got = await measure(o, c, computation);
          if (got !== 'agrees') wrong.push(`${c.id} ${computation}: ${got}`);
        }
      }
      expect(wrong).toEqual([]);
    }, 60_000);
  }

  const ort = ortLoaded.oracles[0];
  it.skipIf(!ort)('ort: never given a Conv with no input channels per group, nor an average-pool gradient of group 0', async () => {
    if (!ort) return;
    for (const [name, computation, reason] of [
      ['conv no input channels', 'forward', REASONS.convNoInputChannels],
      ['conv no input channels grouped', 'forward', REASONS.convNoInputChannels],
      ['conv zero batch', 'backward', REASONS.convBackwardZeroBatch],
      ['avg pool no channels', 'backward', REASONS.avgBackwardNoChannels],
    ] as const) {
      const c = byName(name);
      expect(ortCannotRun(c, computation), name).toBe(reason);
      expect(ort.unsupported(c, computation), name).toBe(reason);
      await expect(ort.prepare(c, computation)).rejects.toThrow(reason);
    }
    // The backward of a conv with no input channels is fine (the dw Conv then has a batch of 0).
    expect(ortCannotRun(byName('conv no input channels'), 'backward')).toBeUndefined();
    expect(await measure(ort, byName('conv no input channels'), 'backward')).toBe('agrees');
  });

  // An uninitialised output (ORT's dx with no output channels, TF.js wasm's y with no input
  // channels) is whatever the memory held: NaN or stale values in most runs, right by chance in
  // some, so only the declarations are tested here; `npm run semantics` shows the values.
  it.skipIf(!ort)('ort: declares dx with no output channels, and pools with zero channels, which it refuses', async () => {
    if (!ort) return;
    const noOutput = byName('conv no output channels');
    expect(ort.unsupported(noOutput, 'backward')).toBe(REASONS.convBackwardNoOutputChannels);
    expect(ort.unsupported(noOutput, 'forward')).toBeUndefined();
    const pool = byName('max pool no channels');
    for (const computation of computationsOf(pool)) {
      expect(ort.unsupported(pool, computation)).toBe(REASONS.poolNoChannels);
      expect(await measure(ort, pool, computation)).toMatch(/^cannot run: /);
    }
    expect(await measure(ort, byName('avg pool no channels'), 'forward')).toMatch(/^cannot run: .*invalid channel count/);
  });

  const wasm = tfjsLoaded.oracles.find((o) => o.name === 'tfjs-wasm');
  it.skipIf(!wasm)('tfjs-wasm: declares what XNNPACK refuses (zero channels), not a batch of 0', () => {
    if (!wasm) return;
    expect(wasm.unsupported(byName('conv no input channels'), 'forward')).toMatch(/XNNPACK refuses a convolution with no input channels/);
    expect(wasm.unsupported(byName('conv no output channels'), 'forward')).toMatch(/XNNPACK refuses zero channels/);
    expect(wasm.unsupported(byName('conv zero batch'), 'forward')).toBeUndefined();
    expect(wasm.unsupported(byName('max pool zero batch'), 'forward')).toBeUndefined();
    expect(wasm.unsupported(byName('avg pool no channels'), 'forward')).toMatch(/XNNPACK refuses zero channels/);
  });
});
