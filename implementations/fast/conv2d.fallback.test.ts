// fast's TypeScript conv paths (Winograd, the scalar GEMM): conv2d.test.ts again with SIMD off.
import { withSimdOff } from './simd-off.test-support.ts';

await withSimdOff(() => import('./conv2d.test.ts'));
