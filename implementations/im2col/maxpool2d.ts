// Max pooling via im2col: per channel plane, a value column col[kH*kW, OH*OW] plus the shared tap
// index table (columns.ts; -1 marks padding taps, which never win) are reduced over taps in
// row-major window order. Ties keep the first maximum; with g.propagateNan the first NaN tap wins,
// otherwise NaN taps are skipped; an all-NaN window yields NaN (its first NaN tap wins).
// The table and the columns are module scratch, reused while the geometry stays the same.
import { type Pool2dGeometry, poolOutputShape } from '../../harness/geometry.ts';
import type { Tensor } from '../../harness/tensor.ts';
import { im2col, tapIndex } from './columns.ts';

/** Scratch kept between calls: the tap index table of the last geometry, columns and per-position state. */
class ArgmaxColumns {
  private key = '';
  positions = 0;
  idx: Int32Array = new Int32Array(0);
  private padTaps: Int32Array = new Int32Array(0); // the entries of idx that are padding
  arg: Int32Array = new Int32Array(0);              // winning tap t per output position
  private col: Float32Array = new Float32Array(0);
  private best: Float64Array = new Float64Array(0);
  private firstNan: Int32Array = new Int32Array(0);
  private propagateNan = true;

  /** Makes the scratch fit geometry g (the table is rebuilt only when the windows change). */
  prepare(g: Pool2dGeometry): void {
    this.propagateNan = g.propagateNan;
    const key = [g.inHeight, g.inWidth, g.outHeight, g.outWidth, g.kernelHeight, g.kernelWidth,
      g.strideHeight, g.strideWidth, g.dilationHeight, g.dilationWidth, g.padTop, g.padLeft].join();
    if (key === this.key) return;
    this.key = key;
    this.positions = g.outHeight * g.outWidth;
    this.idx = tapIndex(g);
    let pads = 0;
    for (let j = 0; j < this.idx.length; j++) if (this.idx[j] < 0) pads++;
    this.padTaps = new Int32Array(pads);
    for (let j = 0, k = 0; j < this.idx.length; j++) if (this.idx[j] < 0) this.padTaps[k++] = j;
    if (this.col.length < this.idx.length) this.col = new Float32Array(this.idx.length);
    if (this.best.length < this.positions) {
      this.best = new Float64Array(this.positions);
      this.arg = new Int32Array(this.positions);
      this.firstNan = new Int32Array(this.positions);
    }
  }

  /** Fills `arg` with the winning tap of every window of the plane starting at x[planeOffset]. */
  run(x: Float32Array, planeOffset: number, planeSize: number): void {
    im2col(x, planeOffset, this.idx, this.col, 0);
    let nan = false;
    for (let i = planeOffset; i < planeOffset + planeSize; i++) if (x[i] !== x[i]) { nan = true; break; }
    if (nan) this.reduceWithNan();
    else this.reduce();
  }

  /** The reduction for a plane without NaN: padding taps become -inf, and can win only an all -inf window. */
  private reduce(): void {
    const { idx, col, best, arg, padTaps, positions: P } = this;
    const n = idx.length;
    for (let k = 0; k < padTaps.length; k++) col[padTaps[k]] = Number.NEGATIVE_INFINITY;
    for (let p = 0; p < P; p++) { best[p] = col[p]; arg[p] = 0; }
    for (let row = P, t = 1; row < n; row += P, t++) {
      for (let p = 0; p < P; p++) {
        const v = col[row + p];
        if (v > best[p]) { best[p] = v; arg[p] = t; } // strict: ties keep the first
      }
    }
    if (padTaps.length === 0) return;
    for (let p = 0; p < P; p++) {
      if (idx[arg[p] * P + p] >= 0) continue;
      let t = 0; // an all -inf window whose first tap is padding: its first real tap wins
      while (idx[t * P + p] < 0) t++;
      arg[p] = t;
    }
  }

  /** The full reduction, for a plane holding a NaN. */
  private reduceWithNan(): void {
    const { idx, col, best, arg, firstNan, positions: P, propagateNan } = this;
    arg.fill(-1, 0, P);
    firstNan.fill(-1, 0, P);
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

const cols = new ArgmaxColumns();

/** Calls visit(output offset, input offset of that window's winner) for every output element. */
function forEachWinner(x: Tensor, g: Pool2dGeometry, visit: (out: number, winner: number) => void): void {
  cols.prepare(g);
  const P = cols.positions;
  const inPlane = g.inHeight * g.inWidth;
  for (let plane = 0; plane < g.batch * g.channels; plane++) {
    const xOffset = plane * inPlane;
    cols.run(x.data, xOffset, inPlane);
    for (let p = 0; p < P; p++) visit(plane * P + p, xOffset + cols.winner(p));
  }
}

export function maxPool2d(x: Tensor, g: Pool2dGeometry): Tensor {
  const y = new Float32Array(g.batch * g.channels * g.outHeight * g.outWidth);
  const xd = x.data;
  forEachWinner(x, g, (out, winner) => { y[out] = xd[winner]; });
  return { shape: poolOutputShape(g), data: y };
}

/** Routes each dy to its window's winner, accumulating (in float32) where windows overlap. */
export function maxPool2dBackward(x: Tensor, dy: Tensor, g: Pool2dGeometry): Tensor {
  const dx = new Float32Array(x.data.length);
  const d = dy.data;
  forEachWinner(x, g, (out, winner) => { dx[winner] += d[out]; });
  return { shape: [...x.shape], data: dx };
}
