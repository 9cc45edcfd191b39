// Max pooling from window views. Padding is marked in a second tensor, not in the values: an index
// tensor (each input's flat offset, -1 for padding) is padded and windowed exactly like x, so a tap
// is padding iff its index is -1, and -Infinity or NaN inputs are treated as the values they are.
import type { Pool2dGeometry } from '../../harness/geometry.ts';
import { sizeOf, type Tensor } from '../../harness/tensor.ts';
import { dense, forEachOuter, padForWindows, windows } from './view.ts';

/**
 * Flat input offset of each window's winner, row-major over [N, C, OH, OW]: the first maximum in
 * row-major window order; a NaN tap wins at once (propagateNan) or is skipped; an all-NaN window
 * gives its first NaN. Valid geometry gives every window at least one input tap.
 */
export function argmaxes(x: Tensor, g: Pool2dGeometry): Float64Array {
  const values = windows(padForWindows(dense(x), g, 0), g);
  const offsets = windows(padForWindows(dense({ shape: x.shape, data: Float64Array.from(x.data.keys()) }), g, -1), g);
  // Same padded shape -> same strides and offsets: one offset p addresses both views.
  const xs = values.data;
  const is = offsets.data;
  const [, , , , kH, kW] = values.shape;
  const [, , , , tH, tW] = values.strides;
  const { propagateNan } = g;
  const out = new Float64Array(sizeOf(values.shape.slice(0, 4)));
  forEachOuter(values, 2, (base, k) => {
    let best = -1;
    let bestValue = 0;
    let firstNan = -1;
    taps: for (let ky = 0, row = base; ky < kH; ky++, row += tH) {
      for (let kx = 0, p = row; kx < kW; kx++, p += tW) {
        const i = is[p];
        if (i < 0) continue; // padding never wins
        const v = xs[p];
        if (v !== v) { // NaN
          if (propagateNan) { best = i; break taps; }
          if (firstNan < 0) firstNan = i;
        } else if (best < 0 || v > bestValue) {
          best = i;
          bestValue = v;
        }
      }
    }
    out[k] = best >= 0 ? best : firstNan;
  });
  return out;
}

export function maxPool2d(x: Tensor, g: Pool2dGeometry): Tensor {
  const arg = argmaxes(x, g);
  const y = new Float32Array(arg.length);
  for (let k = 0; k < arg.length; k++) y[k] = x.data[arg[k]];
  return { shape: [g.batch, g.channels, g.outHeight, g.outWidth], data: y };
}

/** Each dy goes to its window's winner; winners shared by overlapping windows accumulate. */
export function maxPool2dBackward(x: Tensor, dy: Tensor, g: Pool2dGeometry): Tensor {
  const arg = argmaxes(x, g);
  const dx = new Float64Array(x.data.length);
  for (let k = 0; k < arg.length; k++) dx[arg[k]] += dy.data[k];
  return { shape: [...x.shape], data: Float32Array.from(dx) };
}
