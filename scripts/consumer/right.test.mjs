// The consumer's own vitest, on a correct kernel: every bundled max-pool case passes.
import { describeConformance } from 'convbench/vitest';

describeConformance(new URL('./maxpool.mjs', import.meta.url), { ops: ['maxpool2d'] });
