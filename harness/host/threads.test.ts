// A kernel declares the threads it computes on (`threads` in the contract and the handshake); the
// report records it beside the implementation and on its timings. A bad count is a load error.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { implementationProblem } from '../implementation.ts';
import { startImplementation } from '../implementations.ts';
import { DEFAULT_LIMITS } from './host.ts';
import { parseHello, PROTOCOL, PROTOCOL_VERSION } from './protocol.ts';

const dir = mkdtempSync(join(tmpdir(), 'convbench-threads-'));
const naive = resolve('implementations/naive/index.ts');
const kernel = (file: string, threads: string) => {
  const path = join(dir, file);
  writeFileSync(path, `import naive from ${JSON.stringify(naive)};\nexport default { ...naive, name: 'two', threads: ${threads} };\n`);
  return path;
};

describe('threads', () => {
  it('a kernel saying threads: 2 is recorded as 2; one saying nothing as 1', async () => {
    const two = await startImplementation(kernel('two.ts', '2'), DEFAULT_LIMITS);
    const plain = await startImplementation('naive', DEFAULT_LIMITS);
    try {
      expect(two.threads).toBe(2);
      expect(plain.threads).toBe(1);
    } finally {
      await two.close();
      await plain.close();
    }
  });

  it.each([0, 1.5, '2', 5000])('threads: %j fails the contract, saying why', (threads) => {
    expect(implementationProblem({ name: 'k', layout: 'NCHW', conv2d: () => 0, threads })).toMatch(/"threads" must be an integer from 1 to 1024/);
  });

  it('a module with a bad threads is a load error', async () => {
    await expect(startImplementation(kernel('bad.ts', '0'), DEFAULT_LIMITS)).rejects.toThrow(/"threads" must be an integer/);
  });

  it('the handshake takes an optional integer threads and refuses anything else', () => {
    const hello = { protocol: PROTOCOL, version: PROTOCOL_VERSION, name: 'k', layout: 'NCHW', ops: ['conv2d'] };
    expect(parseHello(hello).threads).toBeUndefined();
    expect(parseHello({ ...hello, threads: 4 }).threads).toBe(4);
    for (const threads of [0, -1, 2.5, '4', true, 2000]) expect(() => parseHello({ ...hello, threads })).toThrow(/"threads" must be/);
  });
});
