// Row copies shared by the pool and depthwise kernels (compiled with them into gemm.wasm).

/**
 * Copies `bytes` (a multiple of 4) from src to dst: 16 bytes at a time, then floats. A loop rather
 * than memory.copy, which V8 runs as a call out of the module: measured 3x slower on 40-byte rows.
 */
@inline export function copyRow(dst: usize, src: usize, bytes: usize): void {
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) v128.store(dst + i, v128.load(src + i));
  for (; i < bytes; i += 4) store<u32>(dst + i, load<u32>(src + i));
}
