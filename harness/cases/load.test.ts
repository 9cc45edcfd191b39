import { describe, expect, it } from 'vitest';
import { generate } from './generate.ts';
import { loadCaseText } from './load.ts';

const load = (text: string) => loadCaseText(text, 'bad.yaml');

describe('case files', () => {
  it('a bad field is named with its file and line, and the other cases still load', () => {
    const { cases, errors } = load(`cases:
  - name: good
    op: maxpool2d
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 1, 4, 4] } }
  - name: bad
    op: conv2d
    attributes:
      strides: [2, 0]
    inputs: { x: { shape: [1, 1, 4, 4] }, w: { shape: [1, 1, 2, 2] } }
`);
    expect(cases.map((c) => c.name)).toEqual(['good']);
    expect(errors.map((e) => e.message)).toEqual(['bad.yaml:9: cases[1].attributes.strides[1]: must be >= 1']);
  });

  it('unknown fields, wrong enums and missing fields are named', () => {
    const { errors } = load(`cases:
  - name: a
    op: conv3d
    inputs: { x: [1] }
  - name: b
    op: conv2d
    stride: 2
    inputs: { x: [1] }
  - name: c
    op: conv2d
`);
    expect(errors.map((e) => e.message)).toEqual([
      'bad.yaml:3: cases[0].op: must be one of conv2d, maxpool2d, avgpool2d',
      'bad.yaml:5: cases[1]: unknown field "stride"',
      'bad.yaml:9: cases[2]: missing required field "inputs"',
    ]);
  });

  it('impossible geometry is an error on the attribute at fault', () => {
    const { errors } = load(`cases:
  - name: g
    op: conv2d
    attributes:
      groups: 2
    inputs:
      x: { shape: [1, 3, 5, 5] }
      w: { shape: [2, 1, 3, 3] }
`);
    expect(errors.map((e) => e.message)).toEqual(['bad.yaml:5: cases[0].attributes.groups: groups 2 does not divide the 3 input channels']);
  });

  it('literal values must fill the shape; ragged lists are named', () => {
    const { errors } = load(`cases:
  - name: short
    op: maxpool2d
    attributes: { kernel: 1 }
    inputs:
      x: { shape: [1, 1, 2, 2], values: [1, 2, 3] }
  - name: ragged
    op: maxpool2d
    attributes: { kernel: 1 }
    inputs:
      x: [[[[1, 2], [3]]]]
`);
    expect(errors.map((e) => e.message)).toEqual([
      'bad.yaml:6: cases[0].inputs.x.values: 3 values do not fill shape [1,1,2,2] (4 elements)',
      'bad.yaml:11: cases[1].inputs.x[0][0][1]: ragged values: item has shape [1], item 0 has [2]',
    ]);
  });

  it('a YAML syntax error names its line', () => {
    const { errors } = load('cases:\n  - name: a\n    op: [conv2d\n');
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/^bad\.yaml:\d+: YAML syntax: /);
  });

  it('a matrix expands into the cross product, each id spelling its geometry', () => {
    const { cases, errors } = load(`cases:
  - name: m
    op: avgpool2d
    attributes: { kernel: [3, 2] }
    inputs: { x: { shape: [2, 3, 9, 8] } }
    matrix:
      attributes.strides: [1, [2, 3]]
      attributes.countIncludePad: [false, true]
      attributes.padding: [VALID, [1, 0, 1, 1]]
`);
    expect(errors).toEqual([]);
    expect(cases.map((c) => c.id)).toContain('m avgpool2d x=[2,3,9,8] k=3x2 s=2x3 p=[1,0,1,1] cip');
    expect(new Set(cases.map((c) => c.id)).size).toBe(8);
  });

  it('a bad matrix value is reported at its matrix key', () => {
    const { cases, errors } = load(`cases:
  - name: m
    op: maxpool2d
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 1, 4, 4] } }
    matrix:
      attributes.strides: [1, -2]
`);
    expect(cases).toHaveLength(1);
    expect(errors.map((e) => e.message)).toEqual(['bad.yaml:7: cases[0].matrix.attributes.strides: must be >= 1 (matrix attributes.strides=-2)']);
  });

  it('NHWC literals are stored NCHW, HWIO weights OIHW', () => {
    const { cases } = load(`cases:
  - name: l
    op: conv2d
    layout: NHWC
    inputs:
      x: [[[[1, 2], [3, 4]]]]
      w: [[[[5], [6]]]]
`);
    const c = cases[0];
    expect(c.op).toBe('conv2d');
    if (c.op !== 'conv2d') return;
    expect(c.x.shape).toEqual([1, 2, 1, 2]);
    expect([...c.x.data]).toEqual([1, 3, 2, 4]);
    expect(c.w.shape).toEqual([1, 2, 1, 1]);
    expect([...c.w.data]).toEqual([5, 6]);
  });
});

describe('generators', () => {
  it('the same seed gives the same bytes; another seed differs', () => {
    const a = generate(64, { kind: 'uniform', low: -1, high: 1, seed: 7 });
    expect(generate(64, { kind: 'uniform', low: -1, high: 1, seed: 7 })).toEqual(a);
    expect(generate(64, { kind: 'uniform', low: -1, high: 1, seed: 8 })).not.toEqual(a);
    expect(a.every((v) => v >= -1 && v < 1)).toBe(true);
  });

  it('integers are whole and cover [low, high]', () => {
    const v = generate(1000, { kind: 'integers', low: -2, high: 2, seed: 1 });
    expect(new Set(v)).toEqual(new Set([-2, -1, 0, 1, 2]));
  });

  it('normal values have about the requested mean and spread', () => {
    const v = generate(20000, { kind: 'normal', mean: 3, std: 2, seed: 5 });
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    expect(mean).toBeCloseTo(3, 1);
    expect(sd).toBeCloseTo(2, 1);
  });
});
