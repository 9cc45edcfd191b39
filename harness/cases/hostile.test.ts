// Case files are untrusted input: each hostile file (harness/fixtures/hostile-cases/, plus the paths
// that cannot be committed, made here) fails fast with an error naming file, line and field, and the
// clean file next to it still loads its cases.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaseError, type CaseLimits, DEFAULT_CASE_LIMITS, loadCases, type LoadResult } from './load.ts';

const FIXTURES = new URL('../fixtures/hostile-cases/', import.meta.url).pathname;
const CLEAN_IDS = ['clean pool maxpool2d x=[1,1,4,4] k=2 s=1 p=VALID', 'clean conv conv2d x=[1,2,5,5] w=[3,2,3,3] s=1 p=VALID nobias'];

let root: string;
beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'convbench-hostile-')); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

let folders = 0;
/** A new folder holding clean.yaml and the given fixture files. */
function folder(...fixtures: string[]): string {
  const dir = join(root, `t${folders++}`);
  mkdirSync(dir);
  for (const f of ['clean.yaml', ...fixtures]) cpSync(join(FIXTURES, f), join(dir, f));
  return dir;
}

/** Loads `dir` with paths shown relative to it, so errors read `<file>:<line>: ...`. */
const load = (dir: string, limits: Partial<CaseLimits> = DEFAULT_CASE_LIMITS): LoadResult => loadCases([dir], limits, dir);

const messages = (errors: CaseError[]) => errors.map((e) => e.message);

/** The clean file's cases loaded, with the same bytes as when it is loaded alone. */
function expectCleanLoaded(r: LoadResult): void {
  const alone = loadCases([join(FIXTURES, 'clean.yaml')]);
  expect(alone.errors).toEqual([]);
  const clean = r.cases.filter((c) => c.file === 'clean.yaml');
  expect(clean.map((c) => c.id)).toEqual(CLEAN_IDS);
  expect(clean.map((c) => [...c.x.data])).toEqual(alone.cases.map((c) => [...c.x.data]));
}

describe('hostile case files', () => {
  it('a billion-laughs alias bomb fails at its first alias, naming --max-aliases', () => {
    const r = load(folder('alias-bomb.yaml'));
    expect(messages(r.errors)).toEqual([
      'alias-bomb.yaml:3: b[0]: the YAML aliases from here on expand too many times (an alias bomb?), ' +
      'more than the limit of 100 alias expansions per file (raise it with --max-aliases <n>)',
    ]);
    expectCleanLoaded(r);
  });

  it('with the alias bound raised, the bomb still fails: its expanded size is bounded by --max-file-bytes', () => {
    const r = load(folder('alias-bomb.yaml'), { maxAliases: 1e9 });
    expect(messages(r.errors)).toEqual([
      'alias-bomb.yaml:3: b[0]: with its YAML aliases expanded the file holds 926177112 values: ' +
      'a file may expand to no more values than its size limit of 1048576 bytes (raise it with --max-file-bytes <n>)',
    ]);
    expectCleanLoaded(r);
  });

  it('an alias inside its own anchor is an error on that case; its neighbour loads', () => {
    const r = load(folder('recursive-alias.yaml'));
    expect(messages(r.errors)).toEqual(['recursive-alias.yaml:6: cases[0].inputs.x[1]: a YAML alias that contains itself']);
    expect(r.cases.filter((c) => c.file === 'recursive-alias.yaml').map((c) => c.name)).toEqual(['fine neighbour']);
    expectCleanLoaded(r);
  });

  it('a 1e12-element shape is an error on its shape before anything is allocated', () => {
    const r = load(folder('huge-shape.yaml'));
    expect(messages(r.errors)).toEqual([
      'huge-shape.yaml:7: cases[0].inputs.x.shape: shape [1,1,1000000,1000000] has 1000000000000 elements, ' +
      'more than the limit of 16777216 elements per tensor (raise it with --max-tensor-elements <n>)',
    ]);
    expectCleanLoaded(r);
  });

  it('an output of 1e12 elements implied by the geometry is an error before it is allocated', () => {
    const r = load(folder('huge-output.yaml'));
    expect(messages(r.errors)).toEqual([
      'huge-output.yaml:3: cases[0]: its output y (and dy) would have shape [1,1,1000007,1000007], 1000014000049 elements, ' +
      'more than the limit of 16777216 elements per tensor (raise it with --max-tensor-elements <n>)',
    ]);
    expectCleanLoaded(r);
  });

  it('a case over the per-case bytes (each tensor under its bound) is an error naming --max-case-bytes', () => {
    const dir = folder();
    // x and its y, dy, dx are 4096 x 4096 = 16 Mi elements each: 256 MiB, plus w, dw and db.
    writeFileSync(join(dir, 'big-case.yaml'), `cases:
  - name: big
    op: conv2d
    inputs:
      x: { shape: [1, 1, 4096, 4096] }
      w: { shape: [1, 1, 1, 1] }
`);
    const r = load(dir);
    expect(messages(r.errors)).toEqual([
      'big-case.yaml:2: cases[0]: the case needs 268435468 bytes of float32 tensors (inputs, dy, expected and outputs), ' +
      'more than the limit of 268435456 bytes per case (raise it with --max-case-bytes <n>)',
    ]);
    expectCleanLoaded(r);
  });

  it('a matrix of 1e6 cases is counted, not expanded: an error on the matrix', () => {
    const r = load(folder('huge-matrix.yaml'));
    expect(messages(r.errors)).toEqual([
      'huge-matrix.yaml:8: cases[0].matrix: expands into 1000000 cases, more than the limit of 4096 cases per matrix (raise it with --max-matrix-cases <n>)',
    ]);
    expectCleanLoaded(r);
  });

  it('a matrix over a large literal is bounded by the values it would expand to', () => {
    const dir = folder();
    const row = Array.from({ length: 64 }, () => 0).join(', ');
    writeFileSync(join(dir, 'wide.yaml'), `cases:
  - name: wide
    op: maxpool2d
    attributes: { kernel: 1 }
    inputs:
      x: { shape: [1, 1, 64, 64], values: [${Array.from({ length: 64 }, () => row).join(', ')}] }
    matrix:
      name: [${Array.from({ length: 300 }, (_, i) => `w${i}`).join(', ')}]
`);
    const r = load(dir);
    expect(messages(r.errors)).toEqual([
      'wide.yaml:8: cases[0].matrix: expands into 300 cases of 4411 YAML values each, 1323300 in all: ' +
      'a file may expand to no more values than its size limit of 1048576 bytes (raise it with --max-file-bytes <n>)',
    ]);
    expectCleanLoaded(r);
  });

  it('a 1e6 pooling window, 1e9 strides and dilations, 1e300 strides: decided without looping over them', () => {
    const r = load(folder('huge-window.yaml'));
    expect(messages(r.errors)).toEqual([
      'huge-window.yaml:5: cases[0].attributes.padding: height: the kernel extent 1000000 (kernel 1000000, dilation 1) ' +
      'is larger than the padded input 8; the output would be empty',
      'huge-window.yaml:13: cases[2].attributes.padding: height: window 1 (rows -999999999..1, dilation 1000000000) lies entirely in padding',
      'huge-window.yaml:17: cases[3].attributes.strides: strides height 1e+300 is too large (more than 2^53 - 1)',
    ]);
    const strided = r.cases.find((c) => c.name === 'billion strides');
    expect(strided?.op === 'maxpool2d' && [strided.geometry.outHeight, strided.geometry.outWidth]).toEqual([1, 1]);
    expectCleanLoaded(r);
  });

  it('prototype keys (matrix dot paths, attributes) are rejected per case and never reach Object.prototype', () => {
    const dir = folder('proto-keys.yaml');
    // proto-keys.yaml first, then the clean file (a folder walk would load clean.yaml first).
    const r = loadCases([join(dir, 'proto-keys.yaml'), join(dir, 'clean.yaml')], DEFAULT_CASE_LIMITS, dir);
    expect(messages(r.errors)).toEqual([
      'proto-keys.yaml:8: cases[0].matrix.__proto__.x: "__proto__" is not allowed as a key (it names a JavaScript prototype)',
      'proto-keys.yaml:14: cases[1].matrix.attributes.__proto__: "__proto__" is not allowed as a key (it names a JavaScript prototype)',
      'proto-keys.yaml:17: cases[2].attributes.constructor: "constructor" is not allowed as a key (it names a JavaScript prototype)',
    ]);
    const plain: Record<string, unknown> = {};
    expect([plain.x, plain.polluted]).toEqual([undefined, undefined]);
    expect(r.cases.filter((c) => c.file === 'proto-keys.yaml').map((c) => c.name)).toEqual(['fine neighbour']);
    expectCleanLoaded(r); // the same cases and bytes as when clean.yaml is loaded alone
  });

  it('a FIFO (in a folder, or named directly) is never opened: an error for that path', () => {
    const dir = folder();
    execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
    const r = load(dir);
    expect(messages(r.errors)).toEqual(['pipe.yaml:0: a FIFO, not a regular file: only regular files are read']);
    expectCleanLoaded(r);
    const named = loadCases([join(dir, 'pipe.yaml'), join(dir, 'clean.yaml')], DEFAULT_CASE_LIMITS, dir);
    expect(messages(named.errors)).toEqual(['pipe.yaml:0: a FIFO, not a regular file: only regular files are read']);
    expect(named.cases.map((c) => c.id)).toEqual(CLEAN_IDS);
  });

  it('a symlink to /dev/zero is not read: an error naming the device', () => {
    const dir = folder();
    symlinkSync('/dev/zero', join(dir, 'zero.yaml'));
    const r = load(dir);
    expect(messages(r.errors)).toEqual(['zero.yaml:0: a character device (through a symlink to /dev/zero), not a regular file: only regular files are read']);
    expectCleanLoaded(r);
  });

  it('a socket is not read', async () => {
    const dir = folder();
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 'socket.yaml'), resolve));
    try {
      const r = load(dir);
      expect(messages(r.errors)).toEqual(['socket.yaml:0: a socket, not a regular file: only regular files are read']);
      expectCleanLoaded(r);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('symlink loops and dangling symlinks are errors for their paths; a folder loop is walked once', () => {
    const dir = folder();
    symlinkSync('b.yaml', join(dir, 'a.yaml'));
    symlinkSync('a.yaml', join(dir, 'b.yaml'));
    symlinkSync('missing.yaml', join(dir, 'gone.yaml'));
    symlinkSync('.', join(dir, 'self')); // a folder that contains itself
    const r = load(dir);
    expect(messages(r.errors)).toEqual([
      'a.yaml:0: a symlink loop (too many levels of symbolic links)',
      'b.yaml:0: a symlink loop (too many levels of symbolic links)',
      'gone.yaml:0: a dangling symlink (to missing.yaml, which does not exist)',
      `self:0: the folder ${dir} again (a symlink loop or a folder given twice): skipped`,
    ]);
    expectCleanLoaded(r);
  });

  it('a file over the size bound is not parsed: an error naming --max-file-bytes', () => {
    const dir = folder();
    writeFileSync(join(dir, 'big.yaml'), `# ${'x'.repeat(DEFAULT_CASE_LIMITS.maxFileBytes)}\ncases: []\n`);
    const r = load(dir);
    expect(messages(r.errors)).toEqual([
      `big.yaml:0: the file is ${DEFAULT_CASE_LIMITS.maxFileBytes + 13} bytes, more than the limit of 1048576 bytes per file (raise it with --max-file-bytes <n>)`,
    ]);
    expectCleanLoaded(r);
  });

  it('past the total bound the rest of a matrix is skipped with one error; files before it keep their cases', () => {
    const dir = folder();
    // clean.yaml (loaded first) takes 1,260 bytes: pool x, y, dy, dx of 16 + 9 + 9 + 16 floats and conv
    // x, w, y, dy, dx, dw, db of 50 + 54 + 27 + 27 + 50 + 54 + 3. Each combination here: x, y, dy, dx
    // of 256 floats, 4,096 bytes: two fit in the bound.
    writeFileSync(join(dir, 'many.yaml'), `cases:
  - name: many
    op: maxpool2d
    attributes: { kernel: 1 }
    inputs: { x: { shape: [1, 1, 16, 16] } }
    matrix:
      name: [m1, m2, m3, m4, m5, m6]
`);
    const r = load(dir, { maxTotalBytes: 1260 + 2 * 4096 });
    expectCleanLoaded(r);
    expect(r.cases.filter((c) => c.file === 'many.yaml').map((c) => c.name)).toEqual(['m1', 'm2']);
    expect(messages(r.errors)).toEqual([
      'many.yaml:2: cases[0]: its 4096 bytes would bring the cases loaded to 13548 bytes, more than the limit of 9452 bytes ' +
      'of cases in all (raise it with --max-total-bytes <n>); this case and the rest of its matrix are skipped (matrix name="m3")',
    ]);
  });

  it('each bound can be raised (and lowered) by its option', () => {
    const dir = folder('huge-matrix.yaml');
    writeFileSync(join(dir, 'sized.yaml'), `cases:
  - name: sized
    op: maxpool2d
    attributes: { kernel: 1 }
    inputs: { x: { shape: [1, 1, 10, 10] } }
    matrix:
      attributes.strides: [1, 2, 3]
`);
    const sized = (limits: Partial<CaseLimits>) => {
      const r = loadCases([join(dir, 'sized.yaml')], limits, dir);
      return [r.cases.length, r.errors.map((e) => /--max-[a-z-]+/.exec(e.message)?.[0])];
    };
    expect(sized({})).toEqual([3, []]);
    expect(sized({ maxMatrixCases: 2 })).toEqual([0, ['--max-matrix-cases']]);
    expect(sized({ maxElementsPerTensor: 99 })).toEqual([0, ['--max-tensor-elements', '--max-tensor-elements', '--max-tensor-elements']]);
    expect(sized({ maxElementsPerTensor: 100 })).toEqual([3, []]);
    expect(sized({ maxBytesPerCase: 1599 })).toEqual([2, ['--max-case-bytes']]); // strides 1: x, y, dy, dx of 100 floats
    expect(sized({ maxFileBytes: 100 })).toEqual([0, ['--max-file-bytes']]);
    expect(sized({ maxFileBytes: undefined })).toEqual([3, []]); // an undefined bound keeps its default
    // Raised, the million-case matrix is counted and passes the bound (expanding it is not tried here).
    const huge = loadCases([join(dir, 'huge-matrix.yaml')], { maxMatrixCases: 999_999 }, dir);
    expect(messages(huge.errors)).toEqual([expect.stringContaining('expands into 1000000 cases, more than the limit of 999999 cases per matrix')]);
  });
});

describe('timeLimitSeconds', () => {
  it('becomes timeLimitMs on the case; a matrix may set it; it must be positive', () => {
    const dir = folder();
    writeFileSync(join(dir, 'timed.yaml'), `cases:
  - name: timed
    op: maxpool2d
    timeLimitSeconds: 2.5
    attributes: { kernel: 1 }
    inputs: { x: { shape: [1, 1, 4, 4] } }
  - name: timed matrix
    op: maxpool2d
    attributes: { kernel: 1 }
    inputs: { x: { shape: [1, 1, 4, 4] } }
    matrix:
      attributes.strides: [1, 2]
      timeLimitSeconds: [30]
  - name: zero time
    op: maxpool2d
    timeLimitSeconds: 0
    attributes: { kernel: 1 }
    inputs: { x: { shape: [1, 1, 4, 4] } }
`);
    const r = load(dir);
    const timed = r.cases.filter((c) => c.file === 'timed.yaml');
    expect(timed.map((c) => [c.name, c.timeLimitMs])).toEqual([['timed', 2500], ['timed matrix', 30000], ['timed matrix', 30000]]);
    expect(r.cases.find((c) => c.file === 'clean.yaml')?.timeLimitMs).toBeUndefined();
    expect(messages(r.errors)).toEqual(['timed.yaml:16: cases[2].timeLimitSeconds: must be > 0']);
  });
});
