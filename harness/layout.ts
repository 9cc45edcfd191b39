// Layout conversion at the edges (DESIGN.md rule 3): inside, activations are NCHW, weights OIHW.
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

export const nhwcToNchw = (t: Tensor): Tensor => permute4(t, [0, 3, 1, 2]);
export const nchwToNhwc = (t: Tensor): Tensor => permute4(t, [0, 2, 3, 1]);
export const hwioToOihw = (t: Tensor): Tensor => permute4(t, [3, 2, 0, 1]);
export const oihwToHwio = (t: Tensor): Tensor => permute4(t, [2, 3, 1, 0]);

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
