// The same kernel with a classic index bug: each window's gradient lands one column to the right.
import mine, { eachWinner } from './maxpool.mjs';

export default {
  ...mine,
  name: 'wrong',
  maxPool2dBackward(x, dy, g) {
    const dx = new Float64Array(x.data.length);
    eachWinner(x, g, (o, i) => { if (i + 1 < dx.length) dx[i + 1] += dy.data[o]; });
    return { shape: [...x.shape], data: Float32Array.from(dx) };
  },
};
