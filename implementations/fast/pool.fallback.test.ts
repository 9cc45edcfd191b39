// fast's TypeScript max-pool forward (integer keys): pool.test.ts again with SIMD off.
import { withSimdOff } from './simd-off.test-support.ts';

await withSimdOff(() => import('./pool.test.ts'));
