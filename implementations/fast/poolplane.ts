// The padded plane the fast pools work on: one input plane with its padding, and any ceil-mode
// overhang, around it, so every window lies inside and the window loops need no bounds checks.
// Buffers are module scratch, grown on demand and reused across calls.
import type { Pool2dGeometry } from '../../harness/geometry.ts';

export interface PaddedPlane {
  /** Rows and columns of the padded plane. */
  height: number;
  width: number;
  /** True when the padded plane is the input plane itself (no padding, no overhang). */
  bare: boolean;
}

export function paddedPlane(g: Pool2dGeometry): PaddedPlane {
  const height = Math.max(g.padTop + g.inHeight, (g.outHeight - 1) * g.strideHeight + g.effectiveKernelHeight);
  const width = Math.max(g.padLeft + g.inWidth, (g.outWidth - 1) * g.strideWidth + g.effectiveKernelWidth);
  const bare = g.padTop === 0 && g.padLeft === 0 && height === g.inHeight && width === g.inWidth;
  return { height, width, bare };
}

/**
 * Offsets of the window taps, in row-major window order, from the window's first tap, in a plane
 * whose rows are `rowStride` apart; written into `out` (grown if short), which is returned.
 */
export function tapOffsets(g: Pool2dGeometry, rowStride: number, out: Int32Array): Int32Array {
  const taps = out.length >= g.kernelHeight * g.kernelWidth ? out : new Int32Array(g.kernelHeight * g.kernelWidth);
  let t = 0;
  for (let ky = 0; ky < g.kernelHeight; ky++)
    for (let kx = 0; kx < g.kernelWidth; kx++) taps[t++] = ky * g.dilationHeight * rowStride + kx * g.dilationWidth;
  return taps;
}

export function grownInt32(buffer: Int32Array, n: number): Int32Array {
  return buffer.length >= n ? buffer : new Int32Array(Math.max(n, 2 * buffer.length));
}

export function grownFloat32(buffer: Float32Array, n: number): Float32Array {
  return buffer.length >= n ? buffer : new Float32Array(Math.max(n, 2 * buffer.length));
}

export function grownFloat64(buffer: Float64Array, n: number): Float64Array {
  return buffer.length >= n ? buffer : new Float64Array(Math.max(n, 2 * buffer.length));
}

/** The float32 bits of `data`, as a view on the same memory. */
export function bitsOf(data: Float32Array): Int32Array {
  return new Int32Array(data.buffer, data.byteOffset, data.length);
}
