// The kernel that scripts/gate-calibration.ts gates, loaded as a user's module (--impl): a built-in
// implementation (CONVBENCH_SUBJECT, default im2col) under the name "subject", made slower by
// CONVBENCH_SLOWDOWN (0.1 = 10%) by spinning for that share of each call's own time. With no
// slowdown the wrapper is the same code, so "same code" runs and slowed runs differ only in the spin.
import { BUILT_IN } from '../implementations/index.ts';
import { defineImplementation, type Implementation } from '../harness/index.ts';

const kernel = process.env.CONVBENCH_SUBJECT ?? 'im2col';
const base = BUILT_IN.find((i) => i.name === kernel);
if (!base) throw new Error(`CONVBENCH_SUBJECT: no built-in implementation "${kernel}"`);
const fraction = Number(process.env.CONVBENCH_SLOWDOWN ?? '0');
if (!(fraction >= 0)) throw new Error(`CONVBENCH_SLOWDOWN must be a fraction >= 0, got "${process.env.CONVBENCH_SLOWDOWN}"`);

function slowed<A extends unknown[], R>(f: ((...args: A) => R | Promise<R>) | undefined): ((...args: A) => Promise<R>) | undefined {
  if (!f) return undefined;
  return async (...args) => {
    const t0 = performance.now();
    const out = await f(...args);
    const until = performance.now() + (performance.now() - t0) * fraction;
    while (performance.now() < until) { /* the extra work */ }
    return out;
  };
}

const subject: Implementation = defineImplementation({
  name: 'subject',
  layout: base.layout,
  conv2d: slowed(base.conv2d?.bind(base)),
  conv2dBackward: slowed(base.conv2dBackward?.bind(base)),
  maxPool2d: slowed(base.maxPool2d?.bind(base)),
  maxPool2dBackward: slowed(base.maxPool2dBackward?.bind(base)),
  avgPool2d: slowed(base.avgPool2d?.bind(base)),
  avgPool2dBackward: slowed(base.avgPool2dBackward?.bind(base)),
});
export default subject;
