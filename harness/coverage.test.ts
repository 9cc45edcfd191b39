// Each coverage predicate on a hand-made case that has its feature and one that does not, the
// matrix and the command; and the bundled corpus must fill every cell.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Case, loadCases, loadCaseText } from './cases/load.ts';
import { COLUMNS, coverageCommand, coverageMatrix, FEATURES } from './coverage.ts';
import type { CommandOutput } from './fuzz.ts';

type Spec = Record<string, unknown>;

/** One case from a case object (its name and direction filled in). */
function one(spec: Spec): Case {
  const { cases, errors } = loadCaseText(stringify({ cases: [{ name: 't', ...spec }] }), 'inline.yaml');
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(cases).toHaveLength(1);
  return cases[0];
}

const shape = (...s: number[]) => ({ shape: s });
const values = (s: number[], v: number[]) => ({ shape: s, values: v });
const conv = (x: unknown, w: unknown, attributes: Spec = {}): Spec => ({ op: 'conv2d', attributes, inputs: { x, w } });
const maxPool = (x: unknown, attributes: Spec): Spec => ({ op: 'maxpool2d', attributes, inputs: { x } });
const avgPool = (x: unknown, attributes: Spec): Spec => ({ op: 'avgpool2d', attributes, inputs: { x } });
const inf = Number.POSITIVE_INFINITY;

/** Per feature: cases that have it and cases that do not. */
const EXAMPLES: Record<string, { yes: Spec[]; no: Spec[] }> = {
  'ceil-mode overhang': {
    yes: [avgPool(shape(1, 1, 7, 8), { kernel: 3, strides: 2, ceilMode: true }), maxPool(shape(1, 1, 8, 7), { kernel: 3, strides: 2, ceilMode: true })],
    no: [avgPool(shape(1, 1, 7, 8), { kernel: 3, strides: 2 })],
  },
  'window starts in end pad': {
    yes: [conv(shape(1, 1, 3, 3), shape(1, 1, 1, 1), { padding: 1 }), avgPool(shape(1, 1, 5, 5), { kernel: 2, strides: 2, padding: 1, ceilMode: true })],
    no: [conv(shape(1, 1, 3, 3), shape(1, 1, 3, 3), { padding: 1 }), avgPool(shape(1, 1, 4, 4), { kernel: 2, strides: 2 })],
  },
  'count_include_pad with pads': {
    yes: [avgPool(shape(1, 1, 4, 4), { kernel: 3, padding: 1, countIncludePad: true })],
    no: [avgPool(shape(1, 1, 4, 4), { kernel: 3, padding: 1 }), avgPool(shape(1, 1, 4, 4), { kernel: 3, countIncludePad: true })],
  },
  'SAME_LOWER odd split': {
    yes: [conv(shape(1, 1, 8, 7), shape(1, 1, 4, 4), { padding: 'SAME_LOWER' }), conv(shape(1, 1, 8, 7), shape(1, 1, 4, 4), { padding: [2, 2, 1, 1] })],
    no: [conv(shape(1, 1, 8, 7), shape(1, 1, 4, 4), { padding: 'SAME_UPPER' }), conv(shape(1, 1, 8, 7), shape(1, 1, 3, 3), { padding: 'SAME_LOWER' })],
  },
  'SAME_UPPER odd split': {
    yes: [maxPool(shape(1, 1, 8, 7), { kernel: 4, padding: 'SAME_UPPER' })],
    no: [maxPool(shape(1, 1, 8, 7), { kernel: 4, padding: 'SAME_LOWER' }), maxPool(shape(1, 1, 8, 7), { kernel: 4, padding: [1, 1, 1, 1] })],
  },
  'dilation with stride': {
    yes: [maxPool(shape(1, 1, 7, 8), { kernel: 2, strides: 2, dilations: 2 })],
    no: [maxPool(shape(1, 1, 7, 8), { kernel: 2, dilations: 2 }), maxPool(shape(1, 1, 7, 8), { kernel: 2, strides: [1, 2], dilations: [2, 1] })],
  },
  'grouped (1 < groups < C)': {
    yes: [conv(shape(1, 4, 3, 3), shape(2, 2, 1, 1), { groups: 2 })],
    no: [conv(shape(1, 4, 3, 3), shape(4, 1, 1, 1), { groups: 4 }), conv(shape(1, 4, 3, 3), shape(2, 4, 1, 1))],
  },
  'depthwise multiplier > 1': {
    yes: [conv(shape(1, 2, 3, 3), shape(4, 1, 1, 1), { groups: 2 })],
    no: [conv(shape(1, 2, 3, 3), shape(2, 1, 1, 1), { groups: 2 }), conv(shape(1, 1, 3, 3), shape(2, 1, 1, 1))],
  },
  'batch > 1': { yes: [avgPool(shape(2, 1, 3, 3), { kernel: 2 })], no: [avgPool(shape(1, 1, 3, 3), { kernel: 2 })] },
  'H != W': { yes: [avgPool(shape(1, 1, 3, 4), { kernel: 2 })], no: [avgPool(shape(1, 1, 3, 3), { kernel: 2 })] },
  'kH != kW': { yes: [conv(shape(1, 1, 4, 4), shape(1, 1, 2, 3))], no: [conv(shape(1, 1, 4, 4), shape(1, 1, 3, 3))] },
  'asymmetric pads': {
    yes: [conv(shape(1, 1, 4, 4), shape(1, 1, 3, 3), { padding: [1, 0, 0, 0] }), conv(shape(1, 1, 4, 4), shape(1, 1, 3, 3), { padding: [0, 0, 0, 1] })],
    no: [conv(shape(1, 1, 4, 4), shape(1, 1, 3, 3), { padding: [1, 2, 1, 2] })],
  },
  'NaN in input': {
    yes: [maxPool(values([1, 1, 2, 2], [1, Number.NaN, 2, 3]), { kernel: 2 }), conv(shape(1, 1, 2, 2), values([1, 1, 1, 1], [Number.NaN]))],
    no: [maxPool(values([1, 1, 2, 2], [1, inf, -inf, 3]), { kernel: 2 })],
  },
  '+inf in input': {
    yes: [avgPool(values([1, 1, 2, 2], [1, inf, 2, 3]), { kernel: 2 }), conv(shape(1, 1, 2, 2), values([1, 1, 1, 1], [inf]))],
    no: [avgPool(values([1, 1, 2, 2], [1, Number.NaN, -inf, 3]), { kernel: 2 })],
  },
  '-inf in input': {
    yes: [conv(values([1, 1, 2, 2], [1, -inf, 2, 3]), shape(1, 1, 1, 1))],
    no: [conv(values([1, 1, 2, 2], [1, Number.NaN, inf, 3]), shape(1, 1, 1, 1))],
  },
  'non-finite in padded window': {
    yes: [
      avgPool(values([1, 1, 3, 3], [0, 0, 0, 0, inf, 0, 0, 0, 0]), { kernel: 3, padding: 1 }),
      conv(values([1, 2, 3, 3], [...new Array<number>(17).fill(0), Number.NaN]), shape(1, 2, 2, 2), { padding: [0, 0, 1, 0] }),
      maxPool(values([1, 1, 5, 4], [...new Array<number>(19).fill(0), -inf]), { kernel: 3, strides: 2, ceilMode: true }), // overhang
    ],
    no: [
      avgPool(values([1, 1, 5, 5], [...new Array<number>(24).fill(0), inf]), { kernel: 3, padding: [1, 1, 0, 0] }),
      avgPool(values([1, 1, 3, 3], [0, 0, 0, 0, inf, 0, 0, 0, 0]), { kernel: 2 }),
    ],
  },
  'max-pool tie in window': {
    yes: [maxPool(values([1, 1, 2, 2], [1, 3, 3, 0]), { kernel: 2 })],
    no: [maxPool(values([1, 1, 2, 2], [1, 3, 2, 0]), { kernel: 2 }), maxPool(values([1, 1, 2, 2], [3, 3, 3, Number.NaN]), { kernel: 2 })],
  },
  'max-pool tie across windows': {
    yes: [maxPool(values([1, 1, 1, 3], [1, 5, 5]), { kernel: [1, 2] })],
    no: [maxPool(values([1, 1, 1, 3], [5, 1, 5]), { kernel: [1, 2] }), maxPool(values([1, 1, 2, 4], [3, 3, 3, 3, 0, 0, 0, 0]), { kernel: 2, strides: 2 })],
  },
  'all -inf window': {
    yes: [maxPool(values([1, 1, 2, 3], [-inf, -inf, 1, -inf, -inf, 2]), { kernel: 2 })],
    no: [maxPool(values([1, 1, 2, 3], [-inf, -inf, 1, -inf, 0, 2]), { kernel: 2 })],
  },
  'large K (>= 256)': {
    yes: [conv(shape(1, 16, 4, 4), shape(1, 16, 4, 4)), conv(shape(1, 32, 4, 4), shape(2, 16, 4, 4), { groups: 2 })],
    no: [conv(shape(1, 15, 4, 4), shape(1, 15, 4, 4)), conv(shape(1, 32, 4, 4), shape(4, 8, 4, 4), { groups: 4 })],
  },
  cancellation: {
    // 1 - (1 - 2^-9) = 2^-9, below 1e-3 of the sum of |terms| (about 2); 1 - (1 - 2^-8) is not.
    yes: [conv(values([1, 1, 1, 2], [1, 1]), values([1, 1, 1, 2], [1, -(1 - 2 ** -9)])), conv(values([1, 1, 1, 2], [3, 3]), values([1, 1, 1, 2], [2, -2]))],
    no: [conv(values([1, 1, 1, 2], [1, 1]), values([1, 1, 1, 2], [1, -(1 - 2 ** -8)])), conv(values([1, 1, 1, 2], [0, 0]), values([1, 1, 1, 2], [1, -1]))],
  },
  'NaN skipped': {
    yes: [maxPool(values([1, 1, 2, 2], [1, Number.NaN, 2, 3]), { kernel: 2, propagateNan: false })],
    no: [maxPool(values([1, 1, 2, 2], [1, Number.NaN, 2, 3]), { kernel: 2 }), maxPool(values([1, 1, 2, 2], [1, 4, 2, 3]), { kernel: 2, propagateNan: false })],
  },
  'indices storage order 1': {
    yes: [maxPool(shape(1, 1, 3, 4), { kernel: 2, storageOrder: 1 })],
    no: [maxPool(shape(1, 1, 3, 4), { kernel: 2 }), maxPool(shape(1, 1, 3, 4), { kernel: 2, storageOrder: 0 })],
  },
  'indices across planes': {
    yes: [maxPool(shape(2, 3, 3, 4), { kernel: 2 })],
    no: [maxPool(shape(1, 3, 3, 4), { kernel: 2 }), maxPool(shape(2, 1, 3, 4), { kernel: 2 })],
  },
  'conv window in padding': {
    yes: [conv(shape(1, 1, 2, 2), shape(1, 1, 1, 1), { padding: 1 }), conv(shape(1, 1, 2, 2), shape(1, 1, 1, 1), { padding: [0, 2, 0, 0] })],
    no: [conv(shape(1, 1, 2, 2), shape(1, 1, 2, 2), { padding: 1 })],
  },
  'zero-size batch': {
    yes: [conv(shape(0, 2, 3, 3), shape(1, 2, 2, 2)), maxPool(shape(0, 1, 3, 3), { kernel: 2 }), avgPool(shape(0, 0, 3, 3), { kernel: 2 })],
    no: [conv(shape(1, 0, 3, 3), shape(1, 0, 2, 2)), avgPool(shape(1, 0, 3, 3), { kernel: 2 })],
  },
  'zero-size channels': {
    yes: [
      conv(shape(1, 0, 3, 3), shape(2, 0, 2, 2)), conv(shape(1, 2, 3, 3), shape(0, 2, 2, 2)), conv(shape(1, 0, 3, 3), shape(4, 0, 2, 2), { groups: 2 }),
      maxPool(shape(2, 0, 3, 3), { kernel: 2 }), avgPool(shape(1, 0, 3, 3), { kernel: 2 }),
    ],
    no: [conv(shape(0, 2, 3, 3), shape(1, 2, 2, 2)), maxPool(shape(0, 1, 3, 3), { kernel: 2 })],
  },
};

describe('each feature predicate', () => {
  it('has examples, and only features of the table have them', () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(FEATURES.map((f) => f.name).sort());
  });
  for (const f of FEATURES) {
    const ex = EXAMPLES[f.name];
    if (ex === undefined) continue;
    it(`${f.name}: true on the cases that have it, false on the others`, () => {
      for (const spec of ex.yes) {
        const c = one(spec);
        expect(f.ops, `${c.id}: op of the feature`).toContain(c.op);
        expect(f.has(c), `${f.name} on ${c.id}`).toBe(true);
      }
      for (const spec of ex.no) {
        const c = one(spec);
        expect(f.has(c), `${f.name} on ${c.id}`).toBe(false);
      }
    });
  }
});

describe('coverageMatrix', () => {
  it('counts a case in the columns of its op and directions only, and lists the empty cells', () => {
    const forward = one({ ...maxPool(shape(2, 1, 3, 3), { kernel: 2 }), direction: 'forward' });
    const m = coverageMatrix([forward]);
    const row = m.rows.find((r) => r.feature.name === 'batch > 1');
    const col = (op: string, direction: string) => COLUMNS.findIndex((c) => c.op === op && c.direction === direction);
    expect(row?.cells[col('maxpool2d', 'forward')]).toEqual([forward.id]);
    expect(row?.cells[col('maxpool2d', 'backward')]).toEqual([]);
    expect(m.empty).toContainEqual({ feature: 'batch > 1', op: 'maxpool2d', direction: 'backward' });
    expect(m.empty).not.toContainEqual({ feature: 'batch > 1', op: 'maxpool2d', direction: 'forward' });
    // A feature that does not apply to a column has no cell there, so it is never a hole.
    const ties = m.rows.find((r) => r.feature.name === 'max-pool tie in window');
    expect(ties?.cells[col('conv2d', 'forward')]).toBeUndefined();
    const cancel = m.rows.find((r) => r.feature.name === 'cancellation');
    expect(cancel?.cells[col('conv2d', 'backward')]).toBeUndefined();
    expect(m.empty.some((e) => e.feature === 'cancellation' && e.direction === 'backward')).toBe(false);
    // Max pooling's indices computation is a column of its own, run by forward cases; no other op has it.
    expect(row?.cells[col('maxpool2d', 'indices')]).toEqual([forward.id]);
    expect(col('conv2d', 'indices')).toBe(-1);
    const order = m.rows.find((r) => r.feature.name === 'indices storage order 1');
    expect(order?.cells[col('maxpool2d', 'forward')]).toBeUndefined();
    expect(order?.cells[col('maxpool2d', 'indices')]).toEqual([]);
    const backward = one({ ...maxPool(shape(2, 1, 3, 3), { kernel: 2 }), direction: 'backward' });
    const only = one({ ...maxPool(shape(2, 1, 3, 3), { kernel: 2, strides: 1 }), direction: 'indices' });
    const m2 = coverageMatrix([backward, only]).rows.find((r) => r.feature.name === 'batch > 1');
    expect(m2?.cells[col('maxpool2d', 'indices')]).toEqual([only.id]);
    expect(m2?.cells[col('maxpool2d', 'forward')]).toEqual([]);
  });
});

describe('the bundled corpus', () => {
  it('has a case for every feature in every cell it applies to', () => {
    const loaded = loadCases(['cases']);
    expect(loaded.errors.map((e) => e.message)).toEqual([]);
    const empty = coverageMatrix(loaded.cases).empty.map((e) => `${e.feature}: ${e.op} ${e.direction}`);
    expect(empty, `empty coverage cells:\n${empty.join('\n')}`).toEqual([]);
  });
});

function capture(): CommandOutput & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => { stdout.push(text); }, err: { write: (text: string) => { stderr.push(text); } } };
}

describe('coverageCommand', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convbench-coverage-'));
  it('exits 1 and names the empty cells when a feature has no case', async () => {
    const file = join(dir, 'one.yaml');
    writeFileSync(file, stringify({ cases: [{ name: 'lone', ...maxPool(shape(2, 1, 3, 4), { kernel: 2 }) }] }));
    const io = capture();
    expect(await coverageCommand(['--cases', file], io)).toBe(1);
    const out = io.stdout.join('');
    expect(out).toMatch(/^batch > 1 +EMPTY +EMPTY +1 +1 +1 +EMPTY +EMPTY$/m);
    expect(out).toContain('  NaN in input: conv2d forward');
    expect(out).not.toContain('  batch > 1: maxpool2d forward');
  });
  it('exits 2 on a bad flag, a missing path and a case file that does not load', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'cases:\n  - name: bad\n    op: conv2d\n');
    for (const argv of [['--nope'], ['--cases', join(dir, 'missing')], ['--cases', bad]]) {
      const io = capture();
      expect(await coverageCommand(argv, io), argv.join(' ')).toBe(2);
      expect(io.stderr.join('')).toContain('convbench coverage:');
    }
  });
});
