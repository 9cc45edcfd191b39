// For the *.fallback.test.ts files: fast's TypeScript paths, which run where WebAssembly SIMD is
// missing. CONVBENCH_FAST_NO_SIMD=1 is set before fast's modules load (each test file gets modules
// of its own) and kept until the calling file's tests end, so the helper thread, which copies the
// environment when it starts, runs without SIMD too; then restored.
import { afterAll, expect, it } from 'vitest';

/** Loads fast with SIMD off, then the test file `load` imports, and checks SIMD really was off. */
export async function withSimdOff(load: () => Promise<unknown>): Promise<void> {
  const before = process.env.CONVBENCH_FAST_NO_SIMD;
  process.env.CONVBENCH_FAST_NO_SIMD = '1';
  const { simd } = await import('./wasm.ts');
  await load();
  afterAll(() => {
    if (before === undefined) delete process.env.CONVBENCH_FAST_NO_SIMD;
    else process.env.CONVBENCH_FAST_NO_SIMD = before;
  });
  it('runs without the SIMD kernels', () => expect(simd).toBeUndefined());
}
