// Expected outputs computed elsewhere, compared within the case's `tolerance.expected` (ULPs, or
// numpy's allclose rtol/atol) instead of bit for bit, and reported as such.
import { describe, expect, it } from 'vitest';
import { loadCaseText } from './cases/load.ts';
import { checkOutputs, referenceOutputs } from './check.ts';
import { compareWithin, describeTolerance } from './compare.ts';

const t = (data: number[]) => ({ shape: [data.length], data: Float32Array.from(data) });
/** The float32 `k` steps above positive v. */
const up = (v: number, k: number) => {
  const f = Float32Array.of(v);
  const i = new Int32Array(f.buffer);
  i[0] += k;
  return f[0];
};

describe('compareWithin, ulps', () => {
  it('passes at the allowed ULPs and fails one beyond, naming the ULPs', () => {
    expect(compareWithin(t([up(1.5, 3)]), t([1.5]), { ulps: 3 }).ok).toBe(true);
    const beyond = compareWithin(t([up(1.5, 4), 1.5]), t([1.5, 1.5]), { ulps: 3 });
    expect(beyond).toMatchObject({ ok: false, failures: 1, maxUlps: 4 });
    expect(beyond.mismatches[0]).toMatchObject({ index: 0, ulps: 4, ratio: 4 / 3 });
  });

  it('ulps 0 is exact except for the sign of zero; non-finite values compare exactly', () => {
    expect(compareWithin(t([-0]), t([0]), { ulps: 0 }).ok).toBe(true);
    expect(compareWithin(t([up(2, 1)]), t([2]), { ulps: 0 }).ok).toBe(false);
    expect(compareWithin(t([NaN]), t([NaN]), { ulps: 1 }).ok).toBe(true);
    expect(compareWithin(t([3.4e38]), t([Infinity]), { ulps: 1000 }).ok).toBe(false);
    expect(compareWithin(t([Infinity]), t([-Infinity]), { ulps: 1000 }).ok).toBe(false);
    expect(compareWithin(t([1]), t([NaN]), { ulps: 1000 }).ok).toBe(false);
  });

  it('a different shape is a problem, not a pass', () => {
    expect(compareWithin(t([1, 2]), t([1]), { ulps: 9 })).toMatchObject({ ok: false, problem: expect.stringMatching(/shape/) });
  });
});

describe('compareWithin, rtol and atol', () => {
  it('passes |got - want| <= atol + rtol * |want| and fails past it', () => {
    expect(compareWithin(t([100.09]), t([100]), { rtol: 1e-3 }).ok).toBe(true);
    expect(compareWithin(t([100.2]), t([100]), { rtol: 1e-3 }).ok).toBe(false);
    expect(compareWithin(t([5e-8]), t([0]), { rtol: 1e-3, atol: 1e-7 }).ok).toBe(true);
    expect(compareWithin(t([2e-7]), t([0]), { rtol: 1e-3, atol: 1e-7 }).ok).toBe(false);
    expect(compareWithin(t([NaN]), t([1]), { rtol: 1, atol: 1 }).ok).toBe(false);
  });

  it('describes itself', () => {
    expect(describeTolerance({ rtol: 1e-3, atol: 1e-7 })).toBe('rtol 0.001, atol 1e-7');
    expect(describeTolerance({ ulps: 4 })).toBe('4 ulp');
  });
});

describe('a case with tolerance.expected', () => {
  const text = (tolerance: string, expected = '\n    expected:\n      y: [[[[3.0000002]]]]') => `cases:
  - name: within
    op: conv2d
    direction: forward
    inputs:
      x: [[[[1, 2]]]]
      w: [[[[1, 1]]]]${expected}
    tolerance: ${tolerance}
`;

  it('is checked "expected within <tolerance>", and the exact check is not made', () => {
    for (const [tolerance, ok] of [['{ expected: { ulps: 1 } }', true], ['{ expected: { ulps: 0 } }', false], ['{ expected: { atol: 1.0e-6 } }', true]] as const) {
      const { cases, errors } = loadCaseText(text(tolerance), 'within.yaml');
      expect(errors.map((e) => e.message)).toEqual([]);
      const c = cases[0];
      const checks = checkOutputs(c, 'forward', { y: { shape: [1, 1, 1, 1], data: Float32Array.of(3) } }, referenceOutputs(c, 'forward'));
      expect(checks.map((k) => k.against)).toEqual([`expected within ${describeTolerance(c.expectedTolerance ?? { ulps: -1 })}`, 'reference64']);
      expect(checks[0].comparison.ok).toBe(ok);
    }
  });

  it('without expected outputs, or with an unknown or empty tolerance, is a case error', () => {
    expect(loadCaseText(text('{ expected: { ulps: 1 } }', ''), 'w.yaml').errors[0]?.message).toMatch(/tolerance.expected: .*no expected outputs/);
    expect(loadCaseText(text('{ expected: { ulp: 1 } }'), 'w.yaml').errors).toHaveLength(1);
    expect(loadCaseText(text('{ expected: {} }'), 'w.yaml').errors).toHaveLength(1);
    expect(loadCaseText(text('{ expected: { ulps: -1 } }'), 'w.yaml').errors).toHaveLength(1);
    for (const bad of ['{ ulps: .nan }', '{ ulps: .inf }', '{ atol: -.inf }', '{ rtol: .nan }', '{ rtol: .inf }']) {
      expect(loadCaseText(text(`{ expected: ${bad} }`), 'w.yaml').errors[0]?.message, bad).toMatch(/tolerance\.expected\.\w+: must be|must be/);
    }
  });
});
