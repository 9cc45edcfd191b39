// The consumer's own vitest, on a wrong kernel: its backward tests fail with the element named.
import { describeConformance } from 'convbench/vitest';

describeConformance(new URL('./wrong.mjs', import.meta.url), { ops: ['maxpool2d'], include: ['maxpool index breakers'] });
