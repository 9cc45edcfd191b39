// fast's TypeScript paths (Winograd, the scalar GEMM), which run where WebAssembly SIMD is missing:
// the tests of conv2d.test.ts again, with CONVBENCH_FAST_NO_SIMD=1 set while fast's modules load
// (each test file gets modules of its own) and kept until this file's tests end, so the helper
// thread, which copies the environment when it starts, runs them too; then restored.
import { afterAll, expect, it } from 'vitest';

const before = process.env.CONVBENCH_FAST_NO_SIMD;
process.env.CONVBENCH_FAST_NO_SIMD = '1';
const { simd } = await import('./wasm.ts');
await import('./conv2d.test.ts');
afterAll(() => {
  if (before === undefined) delete process.env.CONVBENCH_FAST_NO_SIMD;
  else process.env.CONVBENCH_FAST_NO_SIMD = before;
});

it('runs without the SIMD GEMM', () => expect(simd).toBeUndefined());
