// fast's float32 SIMD kernels: asm/gemm.as (the GEMM), asm/depthwise.as (the depthwise conv),
// asm/maxpool.as and asm/avgpool.as (the pool forwards), compiled by scripts/build-wasm.mjs into one module with
// one memory, asm/gemm.wasm. One instance per thread: each thread that imports this module (the
// main one and the helper worker) compiles and instantiates it for itself, with a linear memory of
// its own that grows on demand and is reused across calls. `simd` is undefined where the file is
// missing or the engine lacks 128-bit SIMD (WebAssembly.validate on a tiny SIMD module); callers
// then use their TypeScript paths. CONVBENCH_FAST_NO_SIMD=1 forces that fallback (for comparisons).
import { readFileSync } from 'node:fs';

type Fn = (...args: number[]) => number;

export interface SimdGemm {
  /** C = A * B (or +=), see asm/gemm.as; pointers are byte addresses, strides elements. */
  gemm(m: number, n: number, k: number, a: number, ars: number, acs: number, bMode: number, b: number, brs: number,
    bcs: number, c: number, ldc: number, accumulate: number, pa: number, pb: number): void;
  setTables(colOff: number, colY: number, colX: number, flags: number, rowOff: number, rowDy: number, rowDx: number,
    h: number, w: number): void;
  im2colDense(x: number, r0: number, rows: number, cols: number, out: number): void;
  col2im(dcol: number, ld: number, r0: number, rows: number, j0: number, j1: number, planes: number, out: number): void;
  /** Depthwise conv with stride-1 columns, see asm/depthwise.as. */
  dwGeometry(h: number, w: number, pt: number, pl: number, pb: number, pr: number, kh: number, kw: number, sh: number,
    dh: number, dw: number, oh: number, ow: number, plane: number): void;
  dwForward(x: number, channels: number, mult: number, w: number, b: number, hasBias: number, y: number, plane: number,
    shared: number): void;
  dwBackward(x: number, channels: number, mult: number, w: number, dy: number, dx: number, dwAcc: number, plane: number,
    q: number): void;
  /** Max-pool forward with column stride 1 or 2, see asm/maxpool.as. */
  mpGeometry(h: number, w: number, pt: number, pl: number, pw: number, ph: number, kh: number, kw: number, sh: number,
    sw: number, dh: number, dw: number, oh: number, ow: number, row: number, hb: number): void;
  mpForward(x: number, planes: number, y: number, row: number, hb: number, nanFlags: number, propagate: number): void;
  /** Average-pool forward with column stride 1 or 2, see asm/avgpool.as. */
  apGeometry(h: number, w: number, pt: number, pl: number, pw: number, ph: number, kh: number, kw: number, sh: number,
    sw: number, dh: number, dw: number, oh: number, ow: number, row: number, wholePlane: number): void;
  apForward(x: number, planes: number, y: number, row: number, hb: number, div: number): void;
  /** Columns per B panel (the im2col flags are per panel). */
  readonly NR: number;
  /** Starts a call's allocations over. */
  reset(): void;
  /** Byte address of `bytes` bytes (16-aligned), growing the memory when needed; take every block before making views. */
  alloc(bytes: number): number;
  /** Views of the memory as it is now (made after the call's allocations). */
  f32(): Float32Array;
  i32(): Int32Array;
  f64(): Float64Array;
  /** Scratch for the packed A and B panels of one gemm call. */
  readonly packedABytes: number;
  readonly packedBBytes: number;
}

/**
 * Whole planes per call of a kernel that copies x into the module's memory a chunk at a time (at
 * least one, at most `planes`): 32K floats, so a chunk copied in is still in cache when read and
 * the memory stays small.
 */
export function planesPerCall(planes: number, planeFloats: number): number {
  return Math.max(1, Math.min(planes, Math.floor((1 << 15) / Math.max(planeFloats, 1))));
}

/** A tiny module using one v128 instruction (i32x4.splat in a function body). */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 8, 1, 6, 0, 65, 0, 253, 17, 11,
]);

/** True where this Node can run WebAssembly SIMD (the fast paths expect the module there). */
export const SIMD_SUPPORTED = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);

/**
 * The module, or undefined (TypeScript paths) when SIMD is off or unsupported, or the .wasm is
 * missing or not the one these sources expect (a build older than the sources: `npm run build`).
 */
function load(): SimdGemm | undefined {
  try {
    return instantiate();
  } catch (e) {
    process.stderr.write(`fast: asm/gemm.wasm unusable (${e instanceof Error ? e.message : String(e)}); run npm run build. Using the TypeScript paths.\n`);
    return undefined;
  }
}

function instantiate(): SimdGemm | undefined {
  if (process.env.CONVBENCH_FAST_NO_SIMD === '1') return undefined;
  if (!SIMD_SUPPORTED) return undefined;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(new URL('./asm/gemm.wasm', import.meta.url)));
  } catch {
    return undefined;
  }
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  const ex = instance.exports;
  const memory = ex.memory;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error('asm/gemm.wasm exports no memory');
  const fn = (name: string): Fn => {
    const f = ex[name];
    if (typeof f !== 'function') throw new Error(`asm/gemm.wasm exports no function ${name}`);
    return f as Fn;
  };
  const gemm = fn('gemm'), setTables = fn('setTables'), im2colDense = fn('im2colDense'), col2im = fn('col2im');
  const dwGeometry = fn('dwGeometry'), dwForward = fn('dwForward'), dwBackward = fn('dwBackward');
  const mpGeometry = fn('mpGeometry'), mpForward = fn('mpForward');
  const apGeometry = fn('apGeometry'), apForward = fn('apForward');
  const base = Math.ceil(fn('heapBase')() / 64) * 64;
  let used = base;
  let f32 = new Float32Array(memory.buffer), i32 = new Int32Array(memory.buffer), f64 = new Float64Array(memory.buffer);
  const fresh = () => {
    if (f32.buffer !== memory.buffer) {
      f32 = new Float32Array(memory.buffer); i32 = new Int32Array(memory.buffer); f64 = new Float64Array(memory.buffer);
    }
  };
  return {
    gemm, setTables, im2colDense, col2im, dwGeometry, dwForward, dwBackward, mpGeometry, mpForward, apGeometry, apForward,
    NR: fn('blockNR')(),
    packedABytes: fn('packedABytes')(),
    packedBBytes: fn('packedBBytes')(),
    reset() { used = base; },
    alloc(bytes) {
      const at = used;
      used = Math.ceil((at + bytes) / 16) * 16;
      if (used > memory.buffer.byteLength) memory.grow(Math.ceil((used - memory.buffer.byteLength) / 65536));
      return at;
    },
    f32() { fresh(); return f32; },
    i32() { fresh(); return i32; },
    f64() { fresh(); return f64; },
  };
}

export const simd: SimdGemm | undefined = load();
