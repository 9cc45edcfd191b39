// How many samples an engine gets: the minimum unless its calls are slow, then as many as fit in
// slowMs (at least one); the warm-up call is never a sample.
import { describe, expect, it } from 'vitest';
import { DEFAULT_BENCH, type Engine, implementationEngine, samplesFor, timeComputation } from './bench.ts';
import { loadCaseText } from './cases/load.ts';
import { DEFAULT_LIMITS } from './host/host.ts';
import { startImplementation } from './implementations.ts';

const { cases } = loadCaseText(`cases:
  - name: tiny
    op: avgpool2d
    bench: true
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 1, 2, 2] } }
`, 'tiny.yaml');

/** An engine whose every call sleeps `ms`, counting its calls. */
function sleeper(ms: number): Engine & { calls: number } {
  const engine = {
    name: `sleeps-${ms}`, kind: 'oracle' as const, threads: 1, calls: 0,
    prepare: async () => ({
      call: async () => { engine.calls++; await new Promise((r) => setTimeout(r, ms)); return new Float32Array(1); },
      collect: () => ({}),
    }),
    release: async () => {},
  };
  return engine;
}

describe('samples per engine', () => {
  it('samplesFor: the minimum for quick calls, fewer for slow ones, never none', () => {
    const o = { ...DEFAULT_BENCH, minIterations: 3, slowMs: 2000 };
    expect(samplesFor(1, o)).toBe(3);
    expect(samplesFor(666, o)).toBe(3);
    expect(samplesFor(700, o)).toBe(2);
    expect(samplesFor(1500, o)).toBe(1);
    expect(samplesFor(60_000, o)).toBe(1);
  });

  it('a slow engine is called once to warm up and then sampled fewer times; a quick one keeps the minimum', async () => {
    // slowMs 200: a 300 ms call gets one sample; a quick one keeps 3 unless its warm-up took over 66 ms.
    const slow = sleeper(300);
    const quick = sleeper(0);
    const timings = await timeComputation(cases[0], 'forward', [slow, quick], { timeMs: 1, minIterations: 3, slowMs: 200 });
    const samples = timings.map((t) => (t.state === 'measured' ? t.samplesMs.length : -1));
    expect(samples).toEqual([1, 3]);
    expect(slow.calls).toBe(2);
    expect(quick.calls).toBe(4);
  });

  it('a kernel in a host whose warm-up took slowMs or more is timed by that call alone, once warm', async () => {
    const impl = await startImplementation('naive', DEFAULT_LIMITS);
    try {
      const engine = implementationEngine(impl);
      // Cold (this host never computed the case): the warm-up is not a sample; the host then
      // samples for the 50 ms budget, many calls of this tiny case.
      const cold = await timeComputation(cases[0], 'forward', [engine], { timeMs: 50, minIterations: 3, slowMs: 1e-6 });
      expect(cold.map((t) => (t.state === 'measured' ? t.samplesMs.length > 1 : t.state))).toEqual([true]);
      // Warm now: the next timing's warm-up is its one sample, whatever the budget.
      const once = await timeComputation(cases[0], 'forward', [engine], { timeMs: 50, minIterations: 3, slowMs: 1e-6 });
      const usual = await timeComputation(cases[0], 'forward', [engine], { timeMs: 1, minIterations: 3, slowMs: 60_000 });
      expect(once.map((t) => (t.state === 'measured' ? t.samplesMs.length : t.state))).toEqual([1]);
      expect(usual.map((t) => (t.state === 'measured' ? t.samplesMs.length >= 3 : t.state))).toEqual([true]);
    } finally {
      await impl.close();
    }
  });
});
