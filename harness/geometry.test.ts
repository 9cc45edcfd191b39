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

  it('takes a batch or channels of 0 (empty outputs, 0 FLOPs), never a height or width of 0', () => {
    const g = conv2dGeometry([0, 4, 6, 6], [6, 2, 3, 3], { groups: 2, padding: 'SAME_UPPER' });
    expect([g.outHeight, g.outWidth, g.forwardFlops, g.forwardBytes]).toEqual([6, 6, 0, 0]);
    expect(conv2dGeometry([1, 0, 3, 3], [2, 0, 2, 2], {}).forwardBytes).toBe(4 * 2 * 2 * 2); // y, the bias, is written
    expect(() => conv2dGeometry([1, 1, 0, 3], [1, 1, 1, 1], {})).toThrowError(/x height must be an integer >= 1, got 0/);
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

describe('pool2dGeometry with huge attributes', () => {
  /** The window check as a loop over every window and tap: the reference for small geometries. */
  function firstMissByLoop(size: number, k: number, s: number, d: number, pad0: number, out: number): number {
    for (let o = 0; o < out; o++) {
      let touches = false;
      for (let t = 0; t < k; t++) {
        const i = o * s - pad0 + t * d;
        if (i >= 0 && i < size) touches = true;
      }
      if (!touches) return o;
    }
    return -1;
  }

  it('finds the same first window in padding as a loop over every window and tap', () => {
    const wrong: string[] = [];
    let checked = 0;
    let misses = 0;
    for (let size = 1; size <= 4; size++) for (let k = 1; k <= 3; k++) for (let s = 1; s <= 3; s++) for (let d = 1; d <= 5; d++) {
      const extent = (k - 1) * d + 1;
      for (let p0 = 0; p0 < extent; p0++) for (let p1 = 0; p1 < extent; p1++) for (const ceilMode of [false, true]) {
        if (size + p0 + p1 < extent) continue;
        const attrs = { kernel: [k, 1] as const, strides: [s, 1] as const, dilations: [d, 1] as const, padding: [p0, 0, p1, 0] as const, ceilMode };
        let message = '';
        let out = 0;
        try {
          out = pool2dGeometry([1, 1, size, 1], attrs).outHeight;
        } catch (e) {
          message = e instanceof Error ? e.message : String(e);
          // The output size the check ran on: the same geometry with the window check passing (d = 1).
          out = pool2dGeometry([1, 1, size, 1], { ...attrs, dilations: [1, 1], kernel: [extent, 1] }).outHeight;
        }
        const o = firstMissByLoop(size, k, s, d, p0, out);
        const found = Number(message.match(/window (\d+) /)?.[1] ?? -1);
        if (found !== o) wrong.push(`size ${size} k ${k} s ${s} d ${d} pads ${p0},${p1} ceil ${ceilMode}: window ${found}, loop says ${o}`);
        checked++;
        if (o >= 0) misses++;
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(1000);
    expect(misses).toBeGreaterThan(50);
  });

  it('a 1e6 window and 1e9 strides and dilations resolve without looping over them', () => {
    const g = pool2dGeometry([1, 1, 8, 8], { kernel: [1e6, 1e6], padding: [999_999, 999_999, 999_999, 999_999] });
    expect([g.outHeight, g.outWidth]).toEqual([1_000_007, 1_000_007]);
    const s = pool2dGeometry([1, 1, 8, 8], { kernel: [2, 2], strides: [1e9, 1e9] });
    expect([s.outHeight, s.outWidth]).toEqual([1, 1]);
    // Dilation 1e9 over 1 row padded by 1e9 on both sides: 1e9 + 1 windows; window 0 has its second
    // tap on row 0, window 1 has taps on rows -1e9 + 1 and 1, both padding.
    expect(() => pool2dGeometry([1, 1, 1, 1], { kernel: [2, 1], dilations: [1e9, 1], padding: [1e9, 0, 1e9, 0] }))
      .toThrowError(/height: window 1 .* lies entirely in padding/);
  });

  it('values past 2^53 are an error on their attribute, not a wrong size', () => {
    const cases: [Parameters<typeof pool2dGeometry>[1], string, RegExp][] = [
      [{ kernel: [2, 2], strides: [2 ** 60, 1] }, 'strides', /strides height .* too large/],
      [{ kernel: [2 ** 30, 1], dilations: [2 ** 30, 1] }, 'dilations', /kernel extent .* too large/],
      [{ kernel: [2, 2], padding: [2 ** 53, 0, 0, 0] }, 'padding', /padded input is more than 2\^53/],
    ];
    for (const [attrs, field, message] of cases) {
      try {
        pool2dGeometry([1, 1, 8, 8], attrs);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(GeometryError);
        if (!(e instanceof GeometryError)) return;
        expect(e.field).toBe(field);
        expect(e.message).toMatch(message);
      }
    }
  });
});
