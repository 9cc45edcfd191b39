// reference64: the arbiter. Naive gather loops in float64 over the float32 inputs, written per
// output element (unlike the scatter-style `naive` kernels, so the two are independent). Besides
// each value it yields what the tolerance model needs: sum |terms| and the rounding count n of gamma_n.
//
// Zero padding takes part in conv2d's products (cases/README.md "Numerics rules"): y adds 0 * w for
// every padding tap, dw adds 0 * dy for every padding tap of a window. Such a product is an exact 0
// (adding it never rounds, and it adds 0 to sum |terms|, so n and S count the in-bounds products
// only) unless the other factor is +-inf or NaN: then it is NaN and so is the output element, which
// the comparison then matches exactly (NaN only with NaN). dx and db have no padding taps: dx is
// only defined inside the input (the gradient at padding is dropped), db sums dy.
import { avgPoolDivisor, type Conv2dGeometry, maxPoolIndex, type Pool2dGeometry } from '../geometry.ts';
import type { OutputName } from '../cases/load.ts';
import type { Tensor } from '../tensor.ts';

/** One reference tensor: exact-ish values plus, per element, sum |term| and the rounding count. */
export interface Reference {
  shape: number[];
  value: Float64Array;
  absSum: Float64Array;
  rounds: Uint32Array;
  /** Where a partial sum can exceed absSum (an average's window sum, before the divide): its bound. */
  peak?: Float64Array;
}

/** reference64's outputs of one computation, by name. */
export type References = Partial<Record<OutputName, Reference>>;

function reference(shape: number[]): Reference {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, value: new Float64Array(n), absSum: new Float64Array(n), rounds: new Uint32Array(n) };
}

function convIndexers(g: Conv2dGeometry) {
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  return {
    cg, og,
    xAt: (n: number, c: number, y: number, x: number) => ((n * g.inChannels + c) * g.inHeight + y) * g.inWidth + x,
    wAt: (o: number, c: number, ky: number, kx: number) => ((o * cg + c) * g.kernelHeight + ky) * g.kernelWidth + kx,
    yAt: (n: number, o: number, y: number, x: number) => ((n * g.outChannels + o) * g.outHeight + y) * g.outWidth + x,
  };
}

export function conv2dForward64(x: Tensor, w: Tensor, bias: Tensor | undefined, g: Conv2dGeometry): Reference {
  const r = reference([g.batch, g.outChannels, g.outHeight, g.outWidth]);
  const { cg, og, xAt, wAt, yAt } = convIndexers(g);
  const taps = g.kernelHeight * g.kernelWidth;
  for (let n = 0; n < g.batch; n++)
    for (let o = 0; o < g.outChannels; o++) {
      const x0 = xAt(n, Math.floor(o / og) * cg, 0, 0); // this group's first input channel
      const w0 = wAt(o, 0, 0, 0);
      for (let oy = 0; oy < g.outHeight; oy++)
        for (let ox = 0; ox < g.outWidth; ox++) {
          let sum = 0, abs = 0, terms = 0;
          const top = oy * g.strideHeight - g.padTop, left = ox * g.strideWidth - g.padLeft;
          const inside = top >= 0 && top + g.effectiveKernelHeight <= g.inHeight && left >= 0 && left + g.effectiveKernelWidth <= g.inWidth;
          for (let c = 0; c < cg && inside; c++) {
            // A window inside the input: no padding taps, the same products in the same order.
            const xc = x0 + c * g.inHeight * g.inWidth + top * g.inWidth + left;
            const wc = w0 + c * taps;
            for (let ky = 0; ky < g.kernelHeight; ky++) {
              const xr = xc + ky * g.dilationHeight * g.inWidth, wr = wc + ky * g.kernelWidth;
              for (let kx = 0; kx < g.kernelWidth; kx++) {
                const p = x.data[xr + kx * g.dilationWidth] * w.data[wr + kx];
                sum += p; abs += Math.abs(p); terms++;
              }
            }
          }
          for (let c = 0; c < cg && !inside; c++) {
            const xc = x0 + c * g.inHeight * g.inWidth;
            const wc = w0 + c * taps;
            for (let ky = 0; ky < g.kernelHeight; ky++) {
              const iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight;
              const rowIn = iy >= 0 && iy < g.inHeight;
              for (let kx = 0; kx < g.kernelWidth; kx++) {
                const ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth;
                const wv = w.data[wc + ky * g.kernelWidth + kx];
                // A padding tap takes part: its product 0 * w is exact (no rounding, |term| 0), but
                // NaN when w is +-inf or NaN.
                if (!rowIn || ix < 0 || ix >= g.inWidth) { sum += 0 * wv; continue; }
                const p = x.data[xc + iy * g.inWidth + ix] * wv;
                sum += p; abs += Math.abs(p); terms++;
              }
            }
          }
          if (bias) { sum += bias.data[o]; abs += Math.abs(bias.data[o]); terms++; }
          const i = yAt(n, o, oy, ox);
          r.value[i] = sum; r.absSum[i] = abs; r.rounds[i] = terms;
        }
    }
  return r;
}

/** Input offset along one axis that output index `o` reads with tap `k`, or -1 when it is padding. */
function source(o: number, k: number, stride: number, pad: number, dilation: number, size: number): number {
  const i = o * stride - pad + k * dilation;
  return i >= 0 && i < size ? i : -1;
}

/** Output index along one axis whose tap `k` reads input index `i`, or -1 when none does. */
function target(i: number, k: number, stride: number, pad: number, dilation: number, outSize: number): number {
  const t = i + pad - k * dilation;
  if (t < 0 || t % stride !== 0) return -1;
  const o = t / stride;
  return o < outSize ? o : -1;
}

/**
 * For each input index i along one axis, the (tap k, output o) pairs whose window reads it, in
 * increasing k: pairs of i are kOf/oOf[start[i] .. start[i + 1]).
 */
function readersOf(inSize: number, kernel: number, stride: number, pad: number, dilation: number, outSize: number) {
  const start = new Int32Array(inSize + 1), kOf: number[] = [], oOf: number[] = [];
  for (let i = 0; i < inSize; i++) {
    start[i] = kOf.length;
    for (let k = 0; k < kernel; k++) {
      const o = target(i, k, stride, pad, dilation, outSize);
      if (o >= 0) { kOf.push(k); oOf.push(o); }
    }
  }
  start[inSize] = kOf.length;
  return { start, kOf: Int32Array.from(kOf), oOf: Int32Array.from(oOf) };
}

/** source() for every (tap k, output o) of one axis: table[k * outSize + o]. */
function sourcesOf(outSize: number, kernel: number, stride: number, pad: number, dilation: number, size: number): Int32Array {
  const table = new Int32Array(kernel * outSize);
  for (let k = 0; k < kernel; k++) for (let o = 0; o < outSize; o++) table[k * outSize + o] = source(o, k, stride, pad, dilation, size);
  return table;
}

export function conv2dBackward64(x: Tensor, w: Tensor, dy: Tensor, g: Conv2dGeometry): { dx: Reference; dw: Reference; db: Reference } {
  const { cg, og, xAt, wAt, yAt } = convIndexers(g);
  const dx = reference([g.batch, g.inChannels, g.inHeight, g.inWidth]);
  const rows = readersOf(g.inHeight, g.kernelHeight, g.strideHeight, g.padTop, g.dilationHeight, g.outHeight);
  const cols = readersOf(g.inWidth, g.kernelWidth, g.strideWidth, g.padLeft, g.dilationWidth, g.outWidth);
  for (let n = 0; n < g.batch; n++)
    for (let c = 0; c < g.inChannels; c++) {
      const group = Math.floor(c / cg);
      for (let iy = 0; iy < g.inHeight; iy++)
        for (let ix = 0; ix < g.inWidth; ix++) {
          let sum = 0, abs = 0, terms = 0;
          for (let o = group * og; o < (group + 1) * og; o++) {
            const dy0 = yAt(n, o, 0, 0), w0 = wAt(o, c - group * cg, 0, 0);
            for (let r = rows.start[iy]; r < rows.start[iy + 1]; r++) {
              const dyRow = dy0 + rows.oOf[r] * g.outWidth, wRow = w0 + rows.kOf[r] * g.kernelWidth;
              for (let q = cols.start[ix]; q < cols.start[ix + 1]; q++) {
                const p = dy.data[dyRow + cols.oOf[q]] * w.data[wRow + cols.kOf[q]];
                sum += p; abs += Math.abs(p); terms++;
              }
            }
          }
          const i = xAt(n, c, iy, ix);
          dx.value[i] = sum; dx.absSum[i] = abs; dx.rounds[i] = terms;
        }
    }
  const dw = reference([...w.shape]);
  const srcY = sourcesOf(g.outHeight, g.kernelHeight, g.strideHeight, g.padTop, g.dilationHeight, g.inHeight);
  const srcX = sourcesOf(g.outWidth, g.kernelWidth, g.strideWidth, g.padLeft, g.dilationWidth, g.inWidth);
  for (let o = 0; o < g.outChannels; o++)
    for (let c = 0; c < cg; c++)
      for (let ky = 0; ky < g.kernelHeight; ky++)
        for (let kx = 0; kx < g.kernelWidth; kx++) {
          let sum = 0, abs = 0, terms = 0;
          for (let n = 0; n < g.batch; n++) {
            const x0 = xAt(n, Math.floor(o / og) * cg + c, 0, 0);
            for (let oy = 0; oy < g.outHeight; oy++) {
              const iy = srcY[ky * g.outHeight + oy];
              const dyRow = yAt(n, o, oy, 0);
              for (let ox = 0; ox < g.outWidth; ox++) {
                const ix = srcX[kx * g.outWidth + ox];
                const d = dy.data[dyRow + ox];
                // A padding tap takes part: 0 * dy, exact (no rounding, |term| 0) but NaN when dy
                // is +-inf or NaN.
                if (iy < 0 || ix < 0) { sum += 0 * d; continue; }
                const p = d * x.data[x0 + iy * g.inWidth + ix];
                sum += p; abs += Math.abs(p); terms++;
              }
            }
          }
          const i = wAt(o, c, ky, kx);
          dw.value[i] = sum; dw.absSum[i] = abs; dw.rounds[i] = terms;
        }
  const db = reference([g.outChannels]);
  for (let o = 0; o < g.outChannels; o++) {
    let sum = 0, abs = 0;
    for (let n = 0; n < g.batch; n++)
      for (let p = 0; p < g.outHeight * g.outWidth; p++) {
        const v = dy.data[yAt(n, o, 0, 0) + p];
        sum += v; abs += Math.abs(v);
      }
    db.value[o] = sum; db.absSum[o] = abs; db.rounds[o] = Math.max(g.batch * g.outHeight * g.outWidth - 1, 0); // N = 0: an empty sum
  }
  return { dx, dw, db };
}

/** In-bounds taps of the window of output (oy, ox), as flat offsets within one channel plane. */
function windowTaps(g: Pool2dGeometry, oy: number, ox: number): number[] {
  const taps: number[] = [];
  for (let ky = 0; ky < g.kernelHeight; ky++) {
    const iy = source(oy, ky, g.strideHeight, g.padTop, g.dilationHeight, g.inHeight);
    if (iy < 0) continue;
    for (let kx = 0; kx < g.kernelWidth; kx++) {
      const ix = source(ox, kx, g.strideWidth, g.padLeft, g.dilationWidth, g.inWidth);
      if (ix >= 0) taps.push(iy * g.inWidth + ix);
    }
  }
  return taps;
}

/**
 * Which tap of a window is its maximum: the first NaN when NaN propagates; otherwise the first
 * tap whose value no other non-NaN tap exceeds; an all-NaN window gives its first tap.
 */
function maxTap(values: Float32Array, plane: number, taps: number[], propagateNan: boolean): number {
  let firstNan = -1, best = -1;
  for (const t of taps) {
    const v = values[plane + t];
    if (Number.isNaN(v)) { if (firstNan < 0) firstNan = t; continue; }
    if (best < 0 || v > values[plane + best]) best = t; // strict: ties keep the first
  }
  return firstNan >= 0 && (propagateNan || best < 0) ? firstNan : best;
}

/** Visits every (plane, output offset, window taps) of a pooling geometry. */
function forEachWindow(g: Pool2dGeometry, visit: (plane: number, out: number, oy: number, ox: number, taps: number[]) => void): void {
  const planeSize = g.inHeight * g.inWidth;
  const tapsOf: number[][] = [];
  for (let oy = 0; oy < g.outHeight; oy++)
    for (let ox = 0; ox < g.outWidth; ox++) tapsOf.push(windowTaps(g, oy, ox));
  let out = 0;
  for (let nc = 0; nc < g.batch * g.channels; nc++)
    for (let oy = 0; oy < g.outHeight; oy++)
      for (let ox = 0; ox < g.outWidth; ox++, out++) visit(nc * planeSize, out, oy, ox, tapsOf[oy * g.outWidth + ox]);
}

export function maxPool2dForward64(x: Tensor, g: Pool2dGeometry): Reference {
  const r = reference([g.batch, g.channels, g.outHeight, g.outWidth]);
  forEachWindow(g, (plane, out, _oy, _ox, taps) => {
    const v = x.data[plane + maxTap(x.data, plane, taps, g.propagateNan)];
    r.value[out] = v; r.absSum[out] = Math.abs(v); r.rounds[out] = 0; // a maximum is exact
  });
  return r;
}

/**
 * The indices computation (maxPool2dWithIndices): y as maxPool2dForward64, and per output the
 * index of the tap maxTap picks (the one maxPool2dBackward64 sends the gradient to), in the
 * geometry's storage order (maxPoolIndex). Exact: absSum 0 and no rounding, so the budget is 0.
 */
export function maxPool2dIndices64(x: Tensor, g: Pool2dGeometry): { y: Reference; indices: Reference } {
  const y = maxPool2dForward64(x, g);
  const indices = reference([g.batch, g.channels, g.outHeight, g.outWidth]);
  const planeSize = g.inHeight * g.inWidth;
  forEachWindow(g, (plane, out, _oy, _ox, taps) => {
    const t = maxTap(x.data, plane, taps, g.propagateNan);
    const nc = plane / planeSize;
    indices.value[out] = maxPoolIndex(g, Math.floor(nc / g.channels), nc % g.channels, Math.floor(t / g.inWidth), t % g.inWidth);
  });
  return { y, indices };
}

export function maxPool2dBackward64(x: Tensor, dy: Tensor, g: Pool2dGeometry): Reference {
  const r = reference([...x.shape]);
  const hits = new Uint32Array(x.data.length);
  forEachWindow(g, (plane, out, _oy, _ox, taps) => {
    const i = plane + maxTap(x.data, plane, taps, g.propagateNan);
    r.value[i] += dy.data[out]; r.absSum[i] += Math.abs(dy.data[out]); hits[i]++;
  });
  for (let i = 0; i < hits.length; i++) r.rounds[i] = Math.max(hits[i] - 1, 0);
  return r;
}

function divisorAt(g: Pool2dGeometry, oy: number, ox: number): number {
  return avgPoolDivisor(g, oy * g.strideHeight - g.padTop, ox * g.strideWidth - g.padLeft);
}

export function avgPool2dForward64(x: Tensor, g: Pool2dGeometry): Reference {
  const r = reference([g.batch, g.channels, g.outHeight, g.outWidth]);
  const peak = new Float64Array(r.value.length);
  forEachWindow(g, (plane, out, oy, ox, taps) => {
    const d = divisorAt(g, oy, ox);
    let sum = 0, abs = 0;
    for (const t of taps) { sum += x.data[plane + t]; abs += Math.abs(x.data[plane + t]); }
    // (taps - 1) adds, then a divide, or a multiply by a rounded reciprocal (2 roundings): taps + 1.
    r.value[out] = sum / d; r.absSum[out] = abs / d; r.rounds[out] = taps.length + 1; peak[out] = abs;
  });
  return { ...r, peak };
}

export function avgPool2dBackward64(x: Tensor, dy: Tensor, g: Pool2dGeometry): Reference {
  const r = reference([...x.shape]);
  forEachWindow(g, (plane, out, oy, ox, taps) => {
    const share = dy.data[out] / divisorAt(g, oy, ox);
    for (const t of taps) { r.value[plane + t] += share; r.absSum[plane + t] += Math.abs(share); r.rounds[plane + t]++; }
  });
  // m shares, each dy / d or dy * (1 / d) (up to 2 roundings), then m - 1 adds: m + 1.
  for (let i = 0; i < r.rounds.length; i++) if (r.rounds[i] > 0) r.rounds[i]++;
  return r;
}
