import { describe, expect, it } from 'vitest';
import { environment, foreignBaseline } from './environment.ts';
import type { Environment } from './report/types.ts';

const base: Environment = {
  node: 'v20.19.1', platform: 'linux', arch: 'x64', cpuModel: 'AMD EPYC 7763 64-Core Processor', cores: 4, memoryGiB: 15.6,
  packages: { 'onnxruntime-node': '1.23.0', '@tensorflow/tfjs-core': '4.22.0', '@tensorflow/tfjs-node': 'absent', tinybench: '6.2.3', vitest: '4.1.0' },
  settings: { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1', CI: 'true' },
};

describe('foreignBaseline', () => {
  it('nothing for the same machine and setup', () => {
    expect(foreignBaseline(base, structuredClone(base))).toEqual([]);
    const here = environment();
    expect(foreignBaseline(here, structuredClone(here))).toEqual([]);
  });

  it('one reason per difference: CPU, cores, platform, Node, engine packages, timing settings', () => {
    const now: Environment = {
      ...base, node: 'v22.1.0', arch: 'arm64', cpuModel: 'Apple M2', cores: 8, memoryGiB: 32,
      packages: { ...base.packages, 'onnxruntime-node': '1.22.0', '@tensorflow/tfjs-node': '4.22.0', '@tensorflow/tfjs-backend-wasm': '4.22.0', tinybench: '6.3.0', vitest: '4.2.0' },
      settings: { CI: 'false' },
    };
    expect(foreignBaseline(base, now)).toEqual([
      'CPU: baseline "AMD EPYC 7763 64-Core Processor", now "Apple M2"',
      'cores: baseline 4, now 8',
      'platform: baseline linux/x64, now linux/arm64',
      'Node: baseline v20.19.1, now v22.1.0',
      '@tensorflow/tfjs-backend-wasm: baseline not recorded, now 4.22.0',
      '@tensorflow/tfjs-node: baseline absent, now 4.22.0',
      'onnxruntime-node: baseline 1.23.0, now 1.22.0',
      'GLIBC_TUNABLES: baseline glibc.malloc.hugetlb=1, now unset',
    ]);
  });
});
