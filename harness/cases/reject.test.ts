import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../check.ts';
import { exitCodeOf } from '../exit-code.ts';
import { fixtureReport } from '../report/fixture.ts';
import type { Report } from '../report/types.ts';
import { printSummary } from '../summary.ts';
import { loadCaseText, loadCases } from './load.ts';

const load = (text: string) => loadCaseText(text, 'r.yaml');

const entry = (reject: string, body: string) => `cases:
  - name: must go
    reject: '${reject}'
${body}`;
const STRIDE_ZERO = `    op: conv2d
    attributes: { strides: [1, 0] }
    inputs: { x: { shape: [1, 1, 4, 4] }, w: { shape: [1, 1, 2, 2] } }
`;
const VALID = `    op: maxpool2d
    attributes: { kernel: 2 }
    inputs: { x: { shape: [1, 1, 4, 4] } }
`;

describe('must-reject cases (reject:)', () => {
  it('a refusal whose message matches the regex passes, and is neither a case nor a case error', () => {
    const { cases, errors, rejections } = load(entry('/strides\\[1\\]: must be >= \\d/', STRIDE_ZERO));
    expect(cases).toEqual([]);
    expect(errors).toEqual([]);
    expect(rejections).toEqual([{
      name: 'must go', file: 'r.yaml', line: 2, pattern: '/strides\\[1\\]: must be >= \\d/', ok: true,
      message: 'r.yaml:5: cases[0].attributes.strides[1]: must be >= 1',
    }]);
  });

  it('plain text is a substring of the message; geometry errors count too', () => {
    const { rejections } = load(entry('does not divide the 3 input channels', `    op: conv2d
    attributes: { groups: 2 }
    inputs: { x: { shape: [1, 3, 4, 4] }, w: { shape: [2, 1, 2, 2] } }
`));
    expect(rejections.map((x) => [x.ok, x.pattern])).toEqual([[true, '"does not divide the 3 input channels"']]);
  });

  it('an entry that loads fails, and takes no place among the cases', () => {
    const { cases, errors, rejections } = load(entry('/must be >= 1/', VALID));
    expect(cases).toEqual([]);
    expect(errors).toEqual([]);
    expect(rejections.map((x) => [x.ok, x.message])).toEqual([[false, 'expected the loader to reject it with /must be >= 1/, but it loaded']]);
  });

  it('a matrix entry fails when any combination loads', () => {
    const { rejections } = load(entry('must be >= 1', `${STRIDE_ZERO.replace('[1, 0]', '1')}    matrix: { attributes.strides: [0, 1, 2] }
`));
    expect(rejections.map((x) => [x.ok, x.message])).toEqual([[false, 'expected the loader to reject it with "must be >= 1", but it loaded (as 2 cases)']]);
  });

  it('a refusal with another message fails, quoting the message', () => {
    const { errors, rejections } = load(entry('/groups/i', STRIDE_ZERO));
    expect(errors).toEqual([]);
    expect(rejections.map((x) => [x.ok, x.message])).toEqual([[
      false, 'expected the loader to reject it with /groups/i, but it rejected it with: r.yaml:5: cases[0].attributes.strides[1]: must be >= 1',
    ]]);
  });

  it('prototype keys in a must-reject entry are its refusal', () => {
    const { errors, rejections } = load(entry('not allowed as a key', `    op: maxpool2d
    attributes: { kernel: 2, __proto__: { x: 1 } }
    inputs: { x: { shape: [1, 1, 4, 4] } }
`));
    expect(errors).toEqual([]);
    expect(rejections.map((x) => x.ok)).toEqual([true]);
  });

  it('a reject that is not a string or not a valid regex is bad input, and the other cases still load', () => {
    const { cases, errors, rejections } = load(`cases:
  - name: a
    reject: 3
${VALID}  - name: b
    reject: '/(/'
${VALID}  - name: c
${VALID}`);
    expect(cases.map((c) => c.name)).toEqual(['c']);
    expect(rejections).toEqual([]);
    expect(errors.map((e) => e.message)).toEqual([
      'r.yaml:3: cases[0].reject: must be a non-empty string: a /regex/ or text that the loader\'s message must match',
      expect.stringMatching(/^r\.yaml:8: cases\[1\]\.reject: not a valid regular expression: /),
    ]);
  });

  it('the committed cases/rejects are all refused as their patterns say', () => {
    const { cases, errors, rejections } = loadCases(['cases/rejects']);
    expect(cases).toEqual([]);
    expect(errors).toEqual([]);
    expect(rejections.length).toBeGreaterThanOrEqual(4);
    expect(rejections.filter((x) => !x.ok)).toEqual([]);
  });

  it('a failing rejection fails the run (exit 1) and shows in the console summary', () => {
    const passed: CheckResult = { caseId: 'c', subject: 's', kind: 'implementation', computation: 'forward', state: 'passed', checks: [] };
    const base: Report = { ...fixtureReport(), caseErrors: [], results: [passed] };
    delete base.gate;
    const good = { name: 'n', file: 'f.yaml', line: 3, pattern: '/x/', ok: true, message: 'f.yaml:4: x' };
    const bad = { ...good, ok: false, message: 'expected the loader to reject it with /x/, but it loaded' };
    expect(exitCodeOf({ ...base, rejections: [good] })).toBe(0);
    expect(exitCodeOf({ ...base, rejections: [good, bad] })).toBe(1);
    expect(exitCodeOf({ ...base, rejections: [bad], caseErrors: [{ file: 'f', line: 1, field: '', message: 'm' }] })).toBe(2);
    const lines: string[] = [];
    printSummary({ ...base, rejections: [good, bad] }, (l) => lines.push(l));
    expect(lines).toContain('must-reject case "n" (f.yaml:3): expected the loader to reject it with /x/, but it loaded');
    expect(lines).toContain('2 must-reject case(s): 1 rejected as expected, 1 not (see failures)');
  });
});
