// Layout conversion at the edges (docs/architecture.md "Layouts"): inside, activations are NCHW, weights OIHW.
import { type Tensor } from './tensor.ts';

export type Layout = 'NCHW' | 'NHWC';

/** Permute a rank-4 tensor: output axis i is input axis perm[i]. */
export function permute4(t: Tensor, perm: readonly [number, number, number, number]): Tensor {
  const [s0, s1, s2, s3] = t.shape;
  const inStrides = [s1 * s2 * s3, s2 * s3, s3, 1];
  const shape = perm.map((p) => t.shape[p]);
  const st = perm.map((p) => inStrides[p]);
  const out = new Float32Array(t.data.length);
  let o = 0;
  for (let a = 0; a < shape[0]; a++)
    for (let b = 0; b < shape[1]; b++)
      for (let c = 0; c < shape[2]; c++) {
        let i = a * st[0] + b * st[1] + c * st[2];
        for (let d = 0; d < shape[3]; d++, i += st[3]) out[o++] = t.data[i];
      }
  return { shape, data: out };
}

type Perm = readonly [number, number, number, number];
const NHWC_TO_NCHW: Perm = [0, 3, 1, 2];
const NCHW_TO_NHWC: Perm = [0, 2, 3, 1];
const HWIO_TO_OIHW: Perm = [3, 2, 0, 1];
const OIHW_TO_HWIO: Perm = [2, 3, 1, 0];

export const nhwcToNchw = (t: Tensor): Tensor => permute4(t, NHWC_TO_NCHW);
export const nchwToNhwc = (t: Tensor): Tensor => permute4(t, NCHW_TO_NHWC);
export const hwioToOihw = (t: Tensor): Tensor => permute4(t, HWIO_TO_OIHW);
export const oihwToHwio = (t: Tensor): Tensor => permute4(t, OIHW_TO_HWIO);

/** Shapes, permuted the same way as the tensors above (a shape that is not rank 4 stays as it is). */
const permuteShape = (s: readonly number[], perm: Perm): number[] => (s.length === 4 ? perm.map((p) => s[p]) : [...s]);
export const activationShapeToNchw = (s: readonly number[], layout: Layout): number[] => (layout === 'NCHW' ? [...s] : permuteShape(s, NHWC_TO_NCHW));
export const activationShapeFromNchw = (s: readonly number[], layout: Layout): number[] => (layout === 'NCHW' ? [...s] : permuteShape(s, NCHW_TO_NHWC));
export const weightShapeToOihw = (s: readonly number[], layout: Layout): number[] => (layout === 'NCHW' ? [...s] : permuteShape(s, HWIO_TO_OIHW));
export const weightShapeFromOihw = (s: readonly number[], layout: Layout): number[] => (layout === 'NCHW' ? [...s] : permuteShape(s, OIHW_TO_HWIO));

/** Activations (x, y, dx, dy) from `layout` into NCHW, and back. */
export function activationToNchw(t: Tensor, layout: Layout): Tensor {
  return layout === 'NCHW' ? t : nhwcToNchw(t);
}
export function activationFromNchw(t: Tensor, layout: Layout): Tensor {
  return layout === 'NCHW' ? t : nchwToNhwc(t);
}
/** Weights (w, dw): OIHW goes with NCHW, HWIO with NHWC. */
export function weightsToOihw(t: Tensor, layout: Layout): Tensor {
  return layout === 'NCHW' ? t : hwioToOihw(t);
}
export function weightsFromOihw(t: Tensor, layout: Layout): Tensor {
  return layout === 'NCHW' ? t : oihwToHwio(t);
}
