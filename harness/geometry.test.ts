import { describe, expect, it } from 'vitest';
import { avgPoolDivisor, conv2dGeometry, GeometryError, pool2dGeometry } from './geometry.ts';

describe('conv2dGeometry', () => {
  it('x=[1,3,7,7] w=[2,3,3,3] s=2 p=VALID: the CS231n demo gives 3x3', () => {
    const g = conv2dGeometry([1, 3, 7, 7], [2, 3, 3, 3], { strides: [2, 2], padding: 'VALID' });
    expect([g.outHeight, g.outWidth, g.padTop, g.padBottom]).toEqual([3, 3, 0, 0]);
    expect(g.forwardFlops).toBe(2 * 2 * 9 * 27);
  });

  it('x=[2,6,11,7] w=[4,3,3,2] s=[2,3] p=[1,0,2,1] g=2: non-square kernel, asymmetric numeric pad', () => {
    const g = conv2dGeometry([2, 6, 11, 7], [4, 3, 3, 2], { strides: [2, 3], padding: [1, 0, 2, 1], groups: 2 });
    // height: (11 + 1 + 2 - 3) / 2 + 1 = 6 (floor of 5.5 + 1); width: (7 + 0 + 1 - 2) / 3 + 1 = 3
    expect([g.outHeight, g.outWidth]).toEqual([6, 3]);
    expect([g.padTop, g.padLeft, g.padBottom, g.padRight]).toEqual([1, 0, 2, 1]);
  });

  it('x=[1,1,10,9] w=[1,1,3,3] d=[2,3] p=[2,3,2,3]: dilation with padding uses the dilated extent', () => {
    const g = conv2dGeometry([1, 1, 10, 9], [1, 1, 3, 3], { dilations: [2, 3], padding: [2, 3, 2, 3] });
    expect([g.effectiveKernelHeight, g.effectiveKernelWidth]).toEqual([5, 7]);
    expect([g.outHeight, g.outWidth]).toEqual([10, 9]);
  });

  it('SAME_UPPER vs SAME_LOWER with an odd total: x=[1,1,8,7] w=[1,1,4,4] s=1 puts the extra pad at the end or start', () => {
    const upper = conv2dGeometry([1, 1, 8, 7], [1, 1, 4, 4], { padding: 'SAME_UPPER' });
    const lower = conv2dGeometry([1, 1, 8, 7], [1, 1, 4, 4], { padding: 'SAME_LOWER' });
    expect([upper.padTop, upper.padBottom, upper.outHeight]).toEqual([1, 2, 8]);
    expect([lower.padTop, lower.padBottom, lower.outHeight]).toEqual([2, 1, 8]);
  });

  it('SAME with stride and dilation: x=[1,1,10,10] w=[1,1,3,3] s=2 d=2 p=SAME_UPPER', () => {
    const g = conv2dGeometry([1, 1, 10, 10], [1, 1, 3, 3], { strides: [2, 2], dilations: [2, 2], padding: 'SAME_UPPER' });
    // out = ceil(10/2) = 5; total = (5-1)*2 + 5 - 10 = 3 -> [1, 2]
    expect([g.outHeight, g.padTop, g.padBottom]).toEqual([5, 1, 2]);
  });

  it('SAME never pads negatively: x=[1,1,9,9] w=[1,1,1,1] s=4', () => {
    const g = conv2dGeometry([1, 1, 9, 9], [1, 1, 1, 1], { strides: [4, 4], padding: 'SAME_LOWER' });
    expect([g.outHeight, g.padTop, g.padBottom]).toEqual([3, 0, 0]);
  });

  it('rejects groups that do not divide the channels, naming groups', () => {
    expect(() => conv2dGeometry([1, 5, 8, 8], [4, 2, 3, 3], { groups: 2 })).toThrowError(/groups 2 does not divide the 5 input channels/);
  });

  it('rejects weights whose channels per group do not match', () => {
    expect(() => conv2dGeometry([1, 6, 8, 8], [4, 6, 3, 3], { groups: 2 })).toThrowError(/w has 6 input channels per group/);
  });

  it('rejects an empty output: kernel extent larger than the padded input', () => {
    try {
      conv2dGeometry([1, 1, 4, 4], [1, 1, 3, 3], { dilations: [2, 2] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(GeometryError);
      expect((e as GeometryError).field).toBe('padding');
      expect((e as GeometryError).message).toMatch(/kernel extent 5 .* larger than the padded input 4/);
    }
  });
});

describe('pool2dGeometry', () => {
  it('x=[1,1,3,3] k=2 s=2 p=1 ceil: the last window would start in the end padding and is dropped', () => {
    // span = 3 + 2 - 2 = 3 -> ceil(3 / 2) + 1 = 3 windows starting at rows -1, 1, 3; row 3 is the
    // bottom pad (H + padTop = 4 <= (3 - 1) * 2), so that window is not produced: 2, as in floor mode.
    const ceil = pool2dGeometry([1, 1, 3, 3], { kernel: [2, 2], strides: [2, 2], padding: [1, 1, 1, 1], ceilMode: true });
    const floor = pool2dGeometry([1, 1, 3, 3], { kernel: [2, 2], strides: [2, 2], padding: [1, 1, 1, 1] });
    expect([ceil.outHeight, ceil.outWidth, floor.outHeight]).toEqual([2, 2, 2]);
    // x=[1,1,5,5] k=2 s=2 p=[0,0,1,1] ceil: windows at 0, 2, 4; row 4 is input: kept.
    const kept = pool2dGeometry([1, 1, 5, 5], { kernel: [2, 2], strides: [2, 2], padding: [0, 0, 1, 1], ceilMode: true });
    expect(kept.outHeight).toBe(3);
  });

  it('ceil mode adds a partial window over the bottom edge: x=[1,1,7,8] k=2 s=2', () => {
    const g = pool2dGeometry([1, 1, 7, 8], { kernel: [2, 2], strides: [2, 2], ceilMode: true });
    expect([g.outHeight, g.outWidth]).toEqual([4, 4]);
    const f = pool2dGeometry([1, 1, 7, 8], { kernel: [2, 2], strides: [2, 2] });
    expect([f.outHeight, f.outWidth]).toEqual([3, 4]);
  });

  it('rejects a pad as large as the kernel extent', () => {
    expect(() => pool2dGeometry([1, 1, 8, 8], { kernel: [2, 2], padding: [2, 0, 0, 0] })).toThrowError(/pads \[2, 0\] must be smaller than the kernel extent 2/);
  });

  it('rejects a dilated window that lies entirely in padding: H=2 k=2 d=3 p=[2,0,2,0]', () => {
    expect(() => pool2dGeometry([1, 1, 2, 6], { kernel: [2, 1], dilations: [3, 1], padding: [2, 0, 2, 0] }))
      .toThrowError(/height: window 1 .* lies entirely in padding/);
  });

  it('avgPoolDivisor: padding counts only with countIncludePad, ceil overhang never', () => {
    const base = { kernel: [3, 3] as const, strides: [2, 2] as const, padding: [1, 1, 1, 1] as const, ceilMode: true };
    // H = W = 6: span 6 + 2 - 3 = 5 -> ceil(2.5) + 1 = 4 windows starting at -1, 1, 3, 5; (4-1)*2 = 6 < 7: kept.
    const inc = pool2dGeometry([1, 1, 6, 6], { ...base, countIncludePad: true });
    const exc = pool2dGeometry([1, 1, 6, 6], { ...base, countIncludePad: false });
    expect(inc.outHeight).toBe(4);
    expect(avgPoolDivisor(inc, -1, -1)).toBe(9);
    expect(avgPoolDivisor(exc, -1, -1)).toBe(4);
    // last window rows 5, 6, 7: 5 is input, 6 is the explicit bottom pad, 7 is ceil overhang.
    expect(avgPoolDivisor(inc, 5, 5)).toBe(4);
    expect(avgPoolDivisor(exc, 5, 5)).toBe(1);
  });
});
