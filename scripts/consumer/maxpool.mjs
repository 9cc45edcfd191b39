// A user's kernel in plain JavaScript (the consumer smoke test's): max pooling, forward and
// backward, NCHW, written from the geometry record alone. Ties go to the first maximum; padding
// never wins; a NaN wins when propagateNan, else is skipped.
function argmax(x, g, plane, oy, ox) {
  let best = -1;
  let firstNan = -1;
  for (let ky = 0; ky < g.kernelHeight; ky++) {
    const iy = oy * g.strideHeight - g.padTop + ky * g.dilationHeight;
    if (iy < 0 || iy >= g.inHeight) continue;
    for (let kx = 0; kx < g.kernelWidth; kx++) {
      const ix = ox * g.strideWidth - g.padLeft + kx * g.dilationWidth;
      if (ix < 0 || ix >= g.inWidth) continue;
      const i = plane + iy * g.inWidth + ix;
      const v = x.data[i];
      if (Number.isNaN(v)) {
        if (g.propagateNan) return i;
        if (firstNan < 0) firstNan = i;
      } else if (best < 0 || v > x.data[best]) best = i;
    }
  }
  return best >= 0 ? best : firstNan;
}

/** Calls visit(outputIndex, inputIndexOfTheMaximum) for every output element. */
export function eachWinner(x, g, visit) {
  let o = 0;
  for (let nc = 0; nc < g.batch * g.channels; nc++) {
    const plane = nc * g.inHeight * g.inWidth;
    for (let oy = 0; oy < g.outHeight; oy++) for (let ox = 0; ox < g.outWidth; ox++) visit(o++, argmax(x, g, plane, oy, ox));
  }
}

export default {
  name: 'mine',
  layout: 'NCHW',
  maxPool2d(x, g) {
    const y = new Float32Array(g.batch * g.channels * g.outHeight * g.outWidth);
    eachWinner(x, g, (o, i) => { y[o] = x.data[i]; });
    return { shape: [g.batch, g.channels, g.outHeight, g.outWidth], data: y };
  },
  maxPool2dBackward(x, dy, g) {
    const dx = new Float64Array(x.data.length);
    eachWinner(x, g, (o, i) => { dx[i] += dy.data[o]; });
    return { shape: [...x.shape], data: Float32Array.from(dx) };
  },
};
