// Convolution as pad -> window view -> multiply -> sum (tinygrad's _pool idea). Only the padded
// input, the dx temp and the results are allocated; every other step is a strided view.
// Axis names below: N batch, G groups, Og/Cg output/input channels per group, OH OW output, kH kW taps.
import type { Conv2dGeometry } from '../../harness/geometry.ts';
import type { ConvGradients } from '../../harness/implementation.ts';
import type { Tensor } from '../../harness/tensor.ts';
import {
  broadcast, constant, cropPadding, dense, mulSum, padForWindows, permute, reshape, scatterAdd, splitAxis,
  toTensor, windows, zerosForWindows, type View,
} from './view.ts';

/** Windows of the zero-padded x as [N, G, Cg, OH, OW, kH, kW] (no copy after the pad). */
function inputWindows(x: Tensor, g: Conv2dGeometry): View {
  return splitAxis(windows(padForWindows(dense(x), g, 0), g), 1, [g.groups, g.inChannels / g.groups]);
}

/** w as [G, Og, Cg, kH, kW]. */
function groupedWeights(w: Tensor, g: Conv2dGeometry): View {
  return splitAxis(dense(w), 0, [g.groups, g.outChannels / g.groups]);
}

/** Inserts broadcast axes: `axes` are [position, size] pairs applied in order. */
function expand(v: View, ...axes: [number, number][]): View {
  return axes.reduce((acc, [axis, size]) => broadcast(acc, axis, size), v);
}

export function conv2d(x: Tensor, w: Tensor, bias: Tensor | undefined, g: Conv2dGeometry): Tensor {
  const { batch: N, outHeight: OH, outWidth: OW } = g;
  const Og = g.outChannels / g.groups;
  // [N, G, Cg, OH, OW, kH, kW] -> [N, G, OH, OW, Cg, kH, kW] -> [N, G, Og, OH, OW, Cg, kH, kW]
  const xs = broadcast(permute(inputWindows(x, g), [0, 1, 3, 4, 2, 5, 6]), 2, Og);
  // [G, Og, Cg, kH, kW] -> [N, G, Og, OH, OW, Cg, kH, kW]
  const ws = expand(groupedWeights(w, g), [0, N], [3, OH], [4, OW]);
  const y = reshape(mulSum(xs, ws, 3), [N, g.outChannels, OH, OW]);
  if (bias) scatterAdd(y, expand(dense(bias), [0, N], [2, OH], [3, OW]));
  return toTensor(y);
}

export function conv2dBackward(x: Tensor, w: Tensor, dy: Tensor, g: Conv2dGeometry): ConvGradients {
  const { batch: N, groups: G, outHeight: OH, outWidth: OW, kernelHeight: kH, kernelWidth: kW } = g;
  const Og = g.outChannels / G;
  const Cg = g.inChannels / G;
  const xw = inputWindows(x, g); //                     [N, G, Cg, OH, OW, kH, kW]
  const wg = groupedWeights(w, g); //                    [G, Og, Cg, kH, kW]
  const dyg = splitAxis(dense(dy), 1, [G, Og]); //       [N, G, Og, OH, OW]

  // db[o] = sum over (n, oy, ox) of dy
  const dyo = permute(dense(dy), [1, 0, 2, 3]);
  const db = mulSum(dyo, constant(dyo.shape, 1), 3);

  // dw[g, og, cg, ky, kx] = sum over (n, oy, ox) of dy[n, g, og, oy, ox] * xw[n, g, cg, oy, ox, ky, kx]
  const xsW = broadcast(permute(xw, [1, 2, 5, 6, 0, 3, 4]), 1, Og); //            [G, Og, Cg, kH, kW, N, OH, OW]
  const dysW = expand(permute(dyg, [1, 2, 0, 3, 4]), [2, Cg], [3, kH], [4, kW]); // same
  const dw = reshape(mulSum(dysW, xsW, 3), w.shape);

  // dcols[n, g, cg, oy, ox, ky, kx] = sum over og of dy[n, g, og, oy, ox] * w[g, og, cg, ky, kx],
  // then each tap is added back where it was read: scatterAdd into the same window view of dx.
  const dysX = expand(permute(dyg, [0, 1, 3, 4, 2]), [2, Cg], [5, kH], [6, kW]); // [N, G, Cg, OH, OW, kH, kW, Og]
  const wsX = expand(permute(wg, [0, 2, 3, 4, 1]), [0, N], [3, OH], [4, OW]); //   same
  const dcols = reshape(mulSum(dysX, wsX, 1), [N, g.inChannels, OH, OW, kH, kW]);
  const dxPadded = zerosForWindows(x.shape, g);
  scatterAdd(windows(dxPadded, g), dcols);

  return { dx: toTensor(cropPadding(dxPadded, g)), dw: toTensor(dw), db: toTensor(db) };
}
