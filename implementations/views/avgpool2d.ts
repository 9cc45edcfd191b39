// Average pooling from window views: the window-sum of zero-padded x, divided by the window-sum of
// a mask that is 1 where a tap counts (the input; the explicit padding too with countIncludePad;
// never the ceil-mode overhang past padBottom / padRight).
import type { Pool2dGeometry } from '../../harness/geometry.ts';
import type { Tensor } from '../../harness/tensor.ts';
import {
  allocate, broadcast, constant, cropPadding, dense, mulSum, overhang, pad, padForWindows, reshape, scatterAdd, toTensor,
  windows, zerosForWindows, type Storage, type View,
} from './view.ts';

/** Sum over the trailing kH, kW axes of a window view. */
function windowSum(v: View): View<Float64Array> {
  return mulSum(v, constant(v.shape, 1), 2);
}

/** The divisor of each window, a dense [OH, OW] view. */
export function divisors(g: Pool2dGeometry): View<Float64Array> {
  const [overhangH, overhangW] = overhang(g);
  const input = allocate([1, 1, g.inHeight, g.inWidth], 1);
  const explicit = pad(input, [[0, 0], [0, 0], [g.padTop, g.padBottom], [g.padLeft, g.padRight]], g.countIncludePad ? 1 : 0);
  const mask = pad(explicit, [[0, 0], [0, 0], [0, overhangH], [0, overhangW]], 0);
  return reshape(windowSum(windows(mask, g)), [g.outHeight, g.outWidth]);
}

/** values / divisor for dense [N, C, OH, OW] values: a dense float64 view. */
function divide(values: Storage, g: Pool2dGeometry): View<Float64Array> {
  const d = divisors(g).data;
  const out = allocate([g.batch, g.channels, g.outHeight, g.outWidth]);
  const y = out.data;
  for (let i = 0; i < y.length; i++) y[i] = values[i] / d[i % d.length];
  return out;
}

export function avgPool2d(x: Tensor, g: Pool2dGeometry): Tensor {
  const sums = windowSum(windows(padForWindows(dense(x), g, 0), g));
  return toTensor(divide(sums.data, g));
}

/** Each dy / divisor is added to every tap of its window (overlapping windows accumulate), then cropped. */
export function avgPool2dBackward(x: Tensor, dy: Tensor, g: Pool2dGeometry): Tensor {
  const share = divide(dy.data, g);
  const dxPadded = zerosForWindows(x.shape, g);
  scatterAdd(windows(dxPadded, g), broadcast(broadcast(share, 4, g.kernelHeight), 5, g.kernelWidth));
  return toTensor(cropPadding(dxPadded, g));
}
