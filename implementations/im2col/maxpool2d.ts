// Max pooling via im2col: per channel plane, a value column col[kH*kW, OH*OW] plus the shared tap
// index table (columns.ts; -1 marks padding taps, which never win) are reduced over taps in
// row-major window order. Ties keep the first maximum; with g.propagateNan the first NaN tap wins,
// otherwise NaN taps are skipped; an all-NaN window yields NaN (its first NaN tap wins).
import { type Pool2dGeometry, poolOutputShape } from '../../harness/geometry.ts';
import { type Tensor, zeros } from '../../harness/tensor.ts';
import { im2col, tapIndex } from './columns.ts';

/** Per-call scratch: the tap index table, one plane's value column and the per-position state. */
class ArgmaxColumns {
  readonly positions: number;
  readonly idx: Int32Array;
  readonly arg: Int32Array;          // winning tap t per output position
  private readonly col: Float32Array;
  private readonly best: Float64Array;
  private readonly firstNan: Int32Array;

  constructor(private readonly g: Pool2dGeometry) {
    this.positions = g.outHeight * g.outWidth;
    this.idx = tapIndex(g);
    this.col = new Float32Array(this.idx.length);
    this.best = new Float64Array(this.positions);
    this.arg = new Int32Array(this.positions);
    this.firstNan = new Int32Array(this.positions);
  }

  /** Fills `arg` with the winning tap of every window of the plane starting at x[planeOffset]. */
  run(x: Float32Array, planeOffset: number): void {
    const { idx, col, best, arg, firstNan, positions: P } = this;
    const propagateNan = this.g.propagateNan;
    im2col(x, planeOffset, idx, col, 0);
    arg.fill(-1);
    firstNan.fill(-1);
    for (let row = 0, t = 0; row < idx.length; row += P, t++) {
      for (let p = 0; p < P; p++) {
        if (idx[row + p] < 0) continue; // padding never wins
        const v = col[row + p];
        if (v !== v) {
          if (!propagateNan) {
            if (firstNan[p] < 0) firstNan[p] = t;
          } else if (arg[p] < 0 || best[p] === best[p]) { // the first NaN wins, and then sticks
            best[p] = v;
            arg[p] = t;
          }
        } else if (arg[p] < 0 || v > best[p]) { // strict: ties keep the first; nothing beats a NaN
          best[p] = v;
          arg[p] = t;
        }
      }
    }
    for (let p = 0; p < P; p++) if (arg[p] < 0) arg[p] = firstNan[p]; // all-NaN window
  }

  /** In-plane input offset of the winner of output position p (after run). */
  winner(p: number): number {
    return this.idx[this.arg[p] * this.positions + p];
  }
}

/** Calls visit(output offset, input offset of that window's winner) for every output element. */
function forEachWinner(x: Tensor, g: Pool2dGeometry, visit: (out: number, winner: number) => void): void {
  const cols = new ArgmaxColumns(g);
  const P = cols.positions;
  const inPlane = g.inHeight * g.inWidth;
  for (let plane = 0; plane < g.batch * g.channels; plane++) {
    const xOffset = plane * inPlane;
    cols.run(x.data, xOffset);
    for (let p = 0; p < P; p++) visit(plane * P + p, xOffset + cols.winner(p));
  }
}

export function maxPool2d(x: Tensor, g: Pool2dGeometry): Tensor {
  const y = zeros(poolOutputShape(g));
  forEachWinner(x, g, (out, winner) => { y.data[out] = x.data[winner]; });
  return y;
}

/** Routes each dy to its window's winner, accumulating where windows overlap. */
export function maxPool2dBackward(x: Tensor, dy: Tensor, g: Pool2dGeometry): Tensor {
  const dx = new Float64Array(x.data.length);
  forEachWinner(x, g, (out, winner) => { dx[winner] += dy.data[out]; });
  return { shape: [...x.shape], data: Float32Array.from(dx) };
}
