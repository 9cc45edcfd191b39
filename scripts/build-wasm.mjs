#!/usr/bin/env node
// Compiles fast's SIMD kernels (implementations/fast/asm/*.as, AssemblyScript: the GEMM, the
// depthwise conv, the max- and average-pool forwards) into one module, implementations/fast/asm/gemm.wasm (one
// memory for all of them), and copies it to dist/implementations/fast/asm/ when dist/ exists (npm
// run build runs this after tsc). The compiler is the `assemblyscript` devDependency; nothing is
// downloaded. Each source is handed to asc in memory as <name>.ts, every one an entry file whose
// exports the module exports (they are not TypeScript, so they have another extension that keeps
// them away from tsc and vitest).
//
//   node scripts/build-wasm.mjs            compile and copy
//   node scripts/build-wasm.mjs --check    fail unless gemm.wasm is what the sources compile to
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const asmDir = join(root, 'implementations/fast/asm');
const sources = readdirSync(asmDir).filter((f) => f.endsWith('.as')).sort();
const target = join(root, 'implementations/fast/asm/gemm.wasm');
const distDir = join(root, 'dist/implementations/fast/asm');

let asc;
try {
  asc = await import('assemblyscript/asc');
} catch (e) {
  if (existsSync(target)) {
    console.warn(`build-wasm: assemblyscript is not installed (${e.code ?? e.message}); keeping the existing gemm.wasm`);
    copyToDist();
    process.exit(0);
  }
  console.warn(`build-wasm: assemblyscript is not installed (${e.code ?? e.message}); fast will use its TypeScript GEMM`);
  process.exit(0);
}

const { error, stderr, binary } = await asc.compileString(
  Object.fromEntries(sources.map((f) => [f.replace(/\.as$/, '.ts'), readFileSync(join(asmDir, f), 'utf8')])),
  { optimizeLevel: 3, shrinkLevel: 0, runtime: 'stub', noAssert: true, enable: ['simd'], initialMemory: 1 },
);
if (error || !binary) {
  console.error(`build-wasm: asc failed on ${sources.join(', ')} in ${asmDir}\n${stderr.toString()}`);
  process.exit(1);
}
if (!WebAssembly.validate(binary)) {
  console.error('build-wasm: the compiled module does not validate');
  process.exit(1);
}

if (process.argv.includes('--check')) {
  const same = existsSync(target) && Buffer.compare(readFileSync(target), Buffer.from(binary)) === 0;
  if (!same) { console.error(`build-wasm: ${target} is stale; run node scripts/build-wasm.mjs`); process.exit(1); }
  process.exit(0);
}
writeFileSync(target, binary);
copyToDist();
console.log(`build-wasm: ${binary.length} bytes -> implementations/fast/asm/gemm.wasm`);

function copyToDist() {
  if (!existsSync(join(root, 'dist'))) return;
  mkdirSync(distDir, { recursive: true });
  copyFileSync(target, join(distDir, 'gemm.wasm'));
}
