// convbench fuzz: the generator covers the attribute space with valid, small cases that load as
// case files; the built-ins pass; a kernel wrong only on some geometry is found, shrunk to a tiny
// case, and the printed YAML, saved and loaded as a case file, fails it again.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runConformance } from './api.ts';
import { loadCases } from './cases/load.ts';
import { caseYaml, type CommandOutput, fuzz, fuzzArbitrary, fuzzCommand, loadFuzzCase, yamlNumber } from './fuzz.ts';

const FIXTURE = 'harness/fixtures/fuzz-bugs.ts';
const dir = mkdtempSync(join(tmpdir(), 'convbench-fuzz-'));

/** The command's output, captured. */
function capture(): CommandOutput & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => { stdout.push(text); }, err: { write: (text: string) => { stderr.push(text); } } };
}

describe('the generator', () => {
  it('makes valid, small cases over the whole attribute space, each loaded as a case file', () => {
    const cases = fc.sample(fuzzArbitrary(), { numRuns: 120, seed: 42 }).map((spec) => loadFuzzCase(caseYaml(spec)));
    const seen = new Set<string>();
    for (const c of cases) {
      const g = c.geometry;
      expect(c.x.data.length).toBeLessThanOrEqual(2 * 9 * 16 * 16);
      for (const size of [g.batch, g.inHeight, g.inWidth, g.outHeight, g.outWidth, g.kernelHeight, g.kernelWidth]) expect(size).toBeLessThanOrEqual(16);
      const mark = (what: string, yes: boolean) => { if (yes) seen.add(what); };
      mark(c.op, true);
      mark('NHWC', c.layout === 'NHWC');
      mark('batch > 1', g.batch > 1);
      mark('H != W', g.inHeight !== g.inWidth);
      mark('kH != kW', g.kernelHeight !== g.kernelWidth);
      mark('strides differ', g.strideHeight !== g.strideWidth);
      mark('stride > 1', g.strideHeight > 1 || g.strideWidth > 1);
      mark('dilation > 1', g.dilationHeight > 1 || g.dilationWidth > 1);
      mark('asymmetric pads', g.padTop !== g.padBottom || g.padLeft !== g.padRight);
      if (c.op === 'conv2d') {
        const cg = c.geometry;
        mark('groups', cg.groups > 1 && cg.groups < cg.inChannels);
        mark('depthwise with multiplier', cg.groups > 1 && cg.groups === cg.inChannels && cg.outChannels > cg.groups);
        mark('bias', c.bias !== undefined);
        mark('no bias', c.bias === undefined);
      } else {
        const pg = c.geometry;
        mark('ceil mode', pg.outHeight > Math.floor((pg.inHeight + pg.padTop + pg.padBottom - pg.effectiveKernelHeight) / pg.strideHeight) + 1);
        mark('countIncludePad', c.op === 'avgpool2d' && pg.countIncludePad);
        mark('propagateNan false', c.op === 'maxpool2d' && !pg.propagateNan);
        mark('NaN in x', c.op === 'maxpool2d' && c.x.data.some(Number.isNaN));
        mark('-inf in x', c.op === 'maxpool2d' && c.x.data.includes(Number.NEGATIVE_INFINITY));
      }
    }
    const texts = fc.sample(fuzzArbitrary(), { numRuns: 120, seed: 42 }).map((spec) => caseYaml(spec));
    for (const p of ['SAME_UPPER', 'SAME_LOWER', 'padding: [']) expect(texts.some((t) => t.includes(p)), p).toBe(true);
    expect(texts.some((t) => !t.includes('padding:')), 'VALID').toBe(true);
    expect([...seen].sort()).toEqual([
      '-inf in x', 'H != W', 'NHWC', 'NaN in x', 'asymmetric pads', 'avgpool2d', 'batch > 1', 'bias', 'ceil mode', 'conv2d', 'countIncludePad',
      'depthwise with multiplier', 'dilation > 1', 'groups', 'kH != kW', 'maxpool2d', 'no bias', 'propagateNan false', 'stride > 1', 'strides differ',
    ]);
  });

  it('writes float32 values that read back bit for bit', () => {
    const values = [0.1, -1 / 3, 1e-30, 1.5e-45, 3.4028234663852886e38, -0, 0, 7, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    const spec = fc.sample(fuzzArbitrary(['maxpool2d']), { numRuns: 1, seed: 3 })[0];
    const text = caseYaml({ ...spec, x: { shape: [1, 1, 1, values.length], kind: 'uniform', seed: 0, specials: [] } });
    expect(text).toContain('cases:');
    for (const v of values) expect(Object.is(Math.fround(Number(yamlNumber(Math.fround(v)).replace('.nan', 'NaN').replace('.inf', 'Infinity'))), Math.fround(v))).toBe(true);
    expect(yamlNumber(-0)).toBe('-0.0');
    expect(yamlNumber(Math.fround(0.1))).toBe('0.1');
    const literal = `cases:\n  - name: v\n    op: maxpool2d\n    attributes: { kernel: 1 }\n    inputs: { x: { shape: [1, 1, 1, ${values.length}], values: [${values.map((v) => yamlNumber(Math.fround(v))).join(', ')}] } }\n`;
    const c = loadFuzzCase(literal);
    expect([...c.x.data].map((v, i) => Object.is(v, Math.fround(values[i])))).toEqual(values.map(() => true));
  });
});

// Each test starts hosts of its own: concurrently, their start-ups overlap.
describe.concurrent('fuzz', () => {
  it('the built-ins pass 30 runs (hosts started once)', async () => {
    const r = await fuzz({ implementations: ['naive', 'im2col', 'views', 'fast'], runs: 30, seed: 2024 });
    expect(r.failure?.description).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.runs).toBe(30);
    expect(r.tallies.map((t) => t.engine)).toEqual(['naive', 'im2col', 'views', 'fast']);
    // Two computations per run, and naive also takes the max-pool cases' indices.
    for (const t of r.tallies) expect(t.passed).toBe(t.engine === 'naive' ? 73 : 60);
  });

  it('finds a kernel wrong on asymmetric pads, shrinks it to a tiny case, and the printed YAML fails it again', async () => {
    const r = await fuzz({ implementations: [FIXTURE], ops: ['conv2d'], runs: 100, seed: 1 });
    const f = r.failure;
    if (!f) throw new Error('no failure found');
    expect(r.ok).toBe(false);
    expect(f.reproduced).toBe(true);
    expect(f.results.every((x) => x.subject === 'fuzz-bugs' && x.state === 'failed')).toBe(true);
    expect(f.yaml).toMatch(/^# Found by convbench fuzz: fuzz-bugs/);
    expect(f.replay).toEqual(['fuzz', '--impl', FIXTURE, '--op', 'conv2d', '--seed', '1', '--path', f.path]);
    const file = join(dir, 'found.yaml');
    writeFileSync(file, f.yaml);
    const loaded = loadCases([file]);
    expect(loaded.errors).toEqual([]);
    expect(loaded.cases).toHaveLength(1);
    const c = loaded.cases[0];
    if (c.op !== 'conv2d') throw new Error(`shrunk to ${c.op}`);
    const g = c.geometry;
    // A minimal case: one image, one channel, a few elements per axis, and pads that differ.
    expect([g.batch, g.inChannels, g.outChannels, g.groups]).toEqual([1, 1, 1, 1]);
    for (const size of [g.inHeight, g.inWidth, g.kernelHeight, g.kernelWidth, g.outHeight, g.outWidth]) expect(size).toBeLessThanOrEqual(4);
    expect(g.padTop !== g.padBottom || g.padLeft !== g.padRight).toBe(true);
    expect(c.id).toBe(f.caseId);
    // The saved file as a committed case: the fixture fails on it, naive passes.
    const report = await runConformance({ implementations: [FIXTURE, 'naive'], cases: [file], oracles: [] });
    const states = report.results.filter((x) => x.kind === 'implementation').map((x) => `${x.subject} ${x.computation} ${x.state}`);
    for (const x of f.results) expect(states).toContain(`fuzz-bugs ${x.computation} failed`);
    expect(states.filter((s) => s.startsWith('naive')).every((s) => s.endsWith('passed'))).toBe(true);
  });

  it('an error is a failure too, shrunk the same way; the command prints the case and replays it from the seed and path', async () => {
    const r = await fuzz({ implementations: [FIXTURE], ops: ['maxpool2d'], runs: 100, seed: 5 });
    const f = r.failure;
    if (!f) throw new Error('no failure found');
    expect(f.results.map((x) => `${x.computation} ${x.state}`)).toEqual(['backward errored']);
    expect(f.description).toContain('strideWidth 2 is not handled');
    const c = loadFuzzCase(f.yaml);
    expect(c.direction).toBe('backward');
    expect([c.geometry.batch, c.geometry.inHeight, c.geometry.strideHeight, c.geometry.strideWidth]).toEqual([1, 1, 1, 2]);
    // Replayed by the command, it finds the same case and prints it ready to commit.
    const io = capture();
    const saved = join(dir, 'replayed.yaml');
    const code = await fuzzCommand([...f.replay.slice(1), '--save', saved], io);
    expect(io.stderr.join('')).not.toContain('harness error');
    expect(code).toBe(1);
    expect(readFileSync(saved, 'utf8')).toBe(f.yaml);
    const out = io.stdout.join('');
    expect(out).toContain(f.yaml);
    expect(out).toContain(`replay: convbench fuzz --impl ${FIXTURE} --op maxpool2d --seed 5 --path ${f.path}\n`);
    expect(out).toContain(`check it with: convbench run --cases ${saved} --impl ${FIXTURE} --op maxpool2d --oracle none --no-bench\n`);
  });

  it('bad input is exit 2, --help exit 0', async () => {
    const help = capture();
    expect(await fuzzCommand(['--help'], help)).toBe(0);
    expect(help.stdout.join('')).toContain('usage: convbench fuzz');
    const io = capture();
    for (const argv of [['--bogus'], ['--op', 'conv3d'], ['--runs', '0'], ['--runs', '1e3'], ['--seed', 'x'], ['--path', '1:2'], ['--seed', '1', '--path', 'a'], ['--impl', 'nope'], ['--oracle', 'nope']]) {
      expect(await fuzzCommand(argv, io), argv.join(' ')).toBe(2);
    }
    const errors = io.stderr.join('');
    expect(errors).toContain('--op: unknown op "conv3d"');
    expect(errors).toContain('give its --seed too');
    expect(errors).toContain('unknown implementation "nope"');
    expect(errors).toContain('--oracle: unknown oracle "nope"');
    expect(errors).not.toContain('harness error');
  });
});
