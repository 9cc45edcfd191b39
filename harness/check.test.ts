// A deliberately wrong kernel must fail with a message naming the case and the element.
import { describe, expect, it } from 'vitest';
import naive from '../implementations/naive/index.ts';
import { loadCaseText } from './cases/load.ts';
import { checkImplementation, describeFailure, referenceOutputs } from './check.ts';
import type { Conv2dGeometry } from './geometry.ts';
import { defineImplementation } from './implementation.ts';
import type { Tensor } from './tensor.ts';

const CASE = `
cases:
  - name: strided
    op: conv2d
    attributes: { strides: 2 }
    inputs:
      x: { shape: [2, 3, 9, 8] }
      w: { shape: [4, 3, 3, 3] }
`;

/** The views seed's weight gradient: window of output (oy, ox) read at (oy + ky, ox + kx), i.e. stride ignored. */
function strideBlindDw(x: Tensor, w: Tensor, dy: Tensor, g: Conv2dGeometry): Tensor {
  const dw = new Float32Array(w.data.length);
  for (let o = 0; o < g.outChannels; o++)
    for (let c = 0; c < g.inChannels; c++)
      for (let ky = 0; ky < g.kernelHeight; ky++)
        for (let kx = 0; kx < g.kernelWidth; kx++) {
          let s = 0;
          for (let n = 0; n < g.batch; n++)
            for (let oy = 0; oy < g.outHeight; oy++)
              for (let ox = 0; ox < g.outWidth; ox++) {
                s += dy.data[((n * g.outChannels + o) * g.outHeight + oy) * g.outWidth + ox] *
                  x.data[((n * g.inChannels + c) * g.inHeight + oy + ky) * g.inWidth + ox + kx];
              }
          dw[((o * g.inChannels + c) * g.kernelHeight + ky) * g.kernelWidth + kx] = s;
        }
  return { shape: [...w.shape], data: dw };
}

const mutant = defineImplementation({
  name: 'stride-blind',
  layout: 'NCHW',
  conv2dBackward(x: Tensor, w: Tensor, dy: Tensor, g: Conv2dGeometry) {
    return { ...naive.conv2dBackward(x, w, dy, g), dw: strideBlindDw(x, w, dy, g) };
  },
});

describe('a wrong kernel', () => {
  const { cases, errors } = loadCaseText(CASE, 'inline.yaml');
  const c = cases[0];

  it('stride ignored in the weight gradient fails on dw only, naming case, tensor and element', async () => {
    expect(errors).toEqual([]);
    const result = await checkImplementation(mutant, c, 'backward', referenceOutputs(c, 'backward'));
    expect(result.state).toBe('failed');
    if (result.state !== 'failed') return;
    const failing = result.checks.filter((k) => !k.comparison.ok).map((k) => k.tensor);
    expect(failing).toEqual(['dw']);
    const message = describeFailure(result);
    expect(message).toContain('stride-blind on "strided conv2d x=[2,3,9,8] w=[4,3,3,3] s=2 p=VALID nobias" backward');
    expect(message).toMatch(/dw\(o, i, ky, kx\) = \(\d, \d, \d, \d\): got -?[\d.e-]+, want -?[\d.e-]+, error .*budget .* ulp/);
  });

  it('the same case passes with the right kernel', async () => {
    const result = await checkImplementation(naive, c, 'backward', referenceOutputs(c, 'backward'));
    expect(result.state, describeFailure(result)).toBe('passed');
  });

  it('a kernel that throws is reported as errored with its message', async () => {
    const thrower = defineImplementation({ name: 'thrower', layout: 'NCHW', conv2d(): Tensor { throw new RangeError('boom'); } });
    const result = await checkImplementation(thrower, c, 'forward', referenceOutputs(c, 'forward'));
    expect(result).toMatchObject({ state: 'errored', error: 'RangeError: boom' });
  });

  it('a missing op is skipped with the reason', async () => {
    const result = await checkImplementation(mutant, c, 'forward', referenceOutputs(c, 'forward'));
    expect(result).toMatchObject({ state: 'skipped', reason: 'stride-blind does not implement conv2d forward' });
  });

  it('an output of the wrong shape fails with the shapes named', async () => {
    const short = defineImplementation({ name: 'short', layout: 'NCHW', conv2d: (): Tensor => ({ shape: [1], data: new Float32Array(1) }) });
    const result = await checkImplementation(short, c, 'forward', referenceOutputs(c, 'forward'));
    expect(describeFailure(result)).toContain('y vs reference64: shape [1] (1 values), want [2,4,4,3]');
  });
});
