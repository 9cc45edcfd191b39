// fast's TypeScript max-pool forward (integer keys), which runs where WebAssembly SIMD is missing:
// the tests of pool.test.ts again, with CONVBENCH_FAST_NO_SIMD=1 set while fast's modules load
// (each test file gets modules of its own) and kept until this file's tests end, so the helper
// thread, which copies the environment when it starts, runs them too; then restored.
import { afterAll, expect, it } from 'vitest';

const before = process.env.CONVBENCH_FAST_NO_SIMD;
process.env.CONVBENCH_FAST_NO_SIMD = '1';
const { simd } = await import('./wasm.ts');
await import('./pool.test.ts');
afterAll(() => {
  if (before === undefined) delete process.env.CONVBENCH_FAST_NO_SIMD;
  else process.env.CONVBENCH_FAST_NO_SIMD = before;
});

it('runs without the SIMD kernels', () => expect(simd).toBeUndefined());
