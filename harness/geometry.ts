// All conv/pool shape arithmetic lives here (docs/architecture.md "Geometry"). Every kernel, oracle adapter,
// tolerance rule and report reads the records built by conv2dGeometry / pool2dGeometry.

export type Padding = 'VALID' | 'SAME_UPPER' | 'SAME_LOWER' | readonly [number, number, number, number];

export interface Conv2dGeometry {
  batch: number; inChannels: number; outChannels: number; groups: number;
  inHeight: number; inWidth: number; outHeight: number; outWidth: number;
  kernelHeight: number; kernelWidth: number;
  strideHeight: number; strideWidth: number; dilationHeight: number; dilationWidth: number;
  padTop: number; padLeft: number; padBottom: number; padRight: number;
  /** (kernel - 1) * dilation + 1: the rows/columns one window spans. */
  effectiveKernelHeight: number; effectiveKernelWidth: number;
  /** Multiply-adds counted as 2 FLOPs (bias adds not counted); backward = dx + dw. */
  forwardFlops: number; backwardFlops: number;
  /** float32 bytes read and written by one forward call (x, w, y; bias not counted). */
  forwardBytes: number;
}

export interface Pool2dGeometry {
  batch: number; channels: number;
  inHeight: number; inWidth: number; outHeight: number; outWidth: number;
  kernelHeight: number; kernelWidth: number;
  strideHeight: number; strideWidth: number; dilationHeight: number; dilationWidth: number;
  padTop: number; padLeft: number; padBottom: number; padRight: number;
  /** Average pooling: explicit padding counts in the divisor (ceil-mode overhang never does). */
  countIncludePad: boolean;
  /** Max pooling: a NaN in a window makes the output NaN (true) or is skipped (false). */
  propagateNan: boolean;
  /**
   * Max pooling's indices (maxPool2dWithIndices), as ONNX MaxPool's `storage_order`: 0, row-major
   * offsets into x, ((n * C + c) * H + h) * W + w; 1, column-major within each plane,
   * ((n * C + c) * W + w) * H + h. Nothing else depends on it.
   */
  storageOrder: 0 | 1;
  effectiveKernelHeight: number; effectiveKernelWidth: number;
  /** One comparison or addition per window tap (padding taps included). */
  forwardFlops: number;
  /** float32 bytes read and written by one forward call (x, y). */
  forwardBytes: number;
  /** float32 bytes read and written by one backward call (x, dy, dx). */
  backwardBytes: number;
}

export interface ConvAttributes {
  strides?: readonly [number, number];
  dilations?: readonly [number, number];
  padding?: Padding;
  groups?: number;
}

export interface PoolAttributes {
  kernel: readonly [number, number];
  strides?: readonly [number, number];
  dilations?: readonly [number, number];
  padding?: Padding;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  propagateNan?: boolean;
  /** Max pooling's indices: 0 (default) row-major, 1 column-major within each plane (ONNX's storage_order). */
  storageOrder?: 0 | 1;
}

/** Impossible geometry. `field` names the attribute at fault, so loaders can point at its line. */
export class GeometryError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'GeometryError';
  }
}

interface Axis { pad0: number; pad1: number; out: number; effectiveKernel: number }

/** One spatial axis: resolve the padding and the output size. `name` is 'height' or 'width'. */
function resolveAxis(
  name: string, input: number, kernel: number, stride: number, dilation: number,
  padding: Padding, explicit: readonly [number, number], ceilMode: boolean,
): Axis {
  for (const [field, v, min] of [['kernel', kernel, 1], ['strides', stride, 1], ['dilations', dilation, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new GeometryError(field, `${field} ${name} must be an integer >= ${min}, got ${v}`);
    if (v > Number.MAX_SAFE_INTEGER) throw new GeometryError(field, `${field} ${name} ${v} is too large (more than 2^53 - 1)`);
  }
  const effectiveKernel = (kernel - 1) * dilation + 1;
  if (effectiveKernel > Number.MAX_SAFE_INTEGER) {
    throw new GeometryError(dilation > 1 ? 'dilations' : 'kernel', `${name}: the kernel extent (kernel ${kernel}, dilation ${dilation}) is too large (more than 2^53 - 1)`);
  }
  if (padding === 'SAME_UPPER' || padding === 'SAME_LOWER') {
    const out = Math.ceil(input / stride);
    const total = Math.max((out - 1) * stride + effectiveKernel - input, 0);
    const small = Math.floor(total / 2);
    const [pad0, pad1] = padding === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    return { pad0, pad1, out, effectiveKernel };
  }
  const [pad0, pad1] = padding === 'VALID' ? [0, 0] : explicit;
  if (!Number.isInteger(pad0) || !Number.isInteger(pad1) || pad0 < 0 || pad1 < 0) {
    throw new GeometryError('padding', `padding ${name} must be integers >= 0, got [${pad0}, ${pad1}]`);
  }
  if (input + pad0 + pad1 > Number.MAX_SAFE_INTEGER) {
    throw new GeometryError('padding', `padding ${name} [${pad0}, ${pad1}] is too large: the padded input is more than 2^53 - 1`);
  }
  const span = input + pad0 + pad1 - effectiveKernel;
  if (span < 0) {
    throw new GeometryError('padding', `${name}: the kernel extent ${effectiveKernel} (kernel ${kernel}, dilation ${dilation}) ` +
      `is larger than the padded input ${input + pad0 + pad1}; the output would be empty`);
  }
  let out = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // Ceil mode: a window that would start inside the end padding is not produced.
  if (ceilMode && (out - 1) * stride >= input + pad0) out -= 1;
  return { pad0, pad1, out, effectiveKernel };
}

/** Explicit [top, left, bottom, right] pads as per-axis pairs: height [top, bottom], width [left, right]. */
function explicitPads(padding: Padding | undefined): { height: [number, number]; width: [number, number] } {
  if (Array.isArray(padding)) {
    if (padding.length !== 4) throw new GeometryError('padding', `explicit padding must be [top, left, bottom, right], got [${padding.join(', ')}]`);
    const [t, l, b, r] = padding as readonly number[];
    return { height: [t, b], width: [l, r] };
  }
  return { height: [0, 0], width: [0, 0] };
}

function checkPositive(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new GeometryError(field, `${field} must be an integer >= 1, got ${value}`);
}

/**
 * One dimension of x or w (`what`: "batch", "height", ...): an integer >= 0 where zero-size is
 * allowed (batch and channels: cases/README.md "Zero-size batch and channels"), else >= 1.
 */
function checkDimension(field: 'x' | 'w', what: string, value: number, zeroAllowed: boolean): void {
  const min = zeroAllowed ? 0 : 1;
  if (Number.isInteger(value) && value >= min && value <= Number.MAX_SAFE_INTEGER) return;
  const why = !zeroAllowed && value === 0 ? ' (only the batch and channel dimensions may be 0: there would be no output windows)' : '';
  throw new GeometryError(field, `${field} ${what} must be an integer >= ${min}, got ${value}${why}`);
}

/**
 * The zero-size dimensions of a geometry ('batch', 'input channels', 'output channels' for conv;
 * 'batch', 'channels' for pooling), empty when there are none. A case with one computes nothing
 * (or, with no input channels, only the bias): it is checked, never timed.
 */
export function zeroSizeDimensions(g: Conv2dGeometry | Pool2dGeometry): string[] {
  const dims: [string, number][] = 'groups' in g
    ? [['batch', g.batch], ['input channels', g.inChannels], ['output channels', g.outChannels]]
    : [['batch', g.batch], ['channels', g.channels]];
  return dims.filter(([, v]) => v === 0).map(([name]) => name);
}

/**
 * Conv geometry from NCHW input shape [N, C, H, W] and OIHW weight shape [O, C/groups, kH, kW].
 * N, C and O may be 0 (groups still divide them); H, W and the kernel may not.
 */
export function conv2dGeometry(xShape: readonly number[], wShape: readonly number[], attrs: ConvAttributes): Conv2dGeometry {
  if (xShape.length !== 4) throw new GeometryError('x', `x must have rank 4, got shape [${xShape.join(', ')}]`);
  if (wShape.length !== 4) throw new GeometryError('w', `w must have rank 4, got shape [${wShape.join(', ')}]`);
  const [batch, inChannels, inHeight, inWidth] = xShape;
  const [outChannels, channelsPerGroup, kernelHeight, kernelWidth] = wShape;
  const groups = attrs.groups ?? 1;
  checkPositive('groups', groups);
  // Batch and channels may be 0 (the outputs are then empty, or for no input channels the bias);
  // the spatial sizes may not.
  const dims = [
    ['x', 'batch', batch, true], ['x', 'channels', inChannels, true], ['x', 'height', inHeight, false], ['x', 'width', inWidth, false],
    ['w', 'output channels', outChannels, true], ['w', 'input channels per group', channelsPerGroup, true],
  ] as const;
  for (const [f, what, v, zero] of dims) checkDimension(f, what, v, zero);
  if (inChannels % groups !== 0) throw new GeometryError('groups', `groups ${groups} does not divide the ${inChannels} input channels`);
  if (outChannels % groups !== 0) throw new GeometryError('groups', `groups ${groups} does not divide the ${outChannels} output channels`);
  if (channelsPerGroup !== inChannels / groups) {
    throw new GeometryError('w', `w has ${channelsPerGroup} input channels per group; ${inChannels} channels / ${groups} groups = ${inChannels / groups}`);
  }
  const [sH, sW] = attrs.strides ?? [1, 1];
  const [dH, dW] = attrs.dilations ?? [1, 1];
  const padding = attrs.padding ?? 'VALID';
  const pads = explicitPads(padding);
  const h = resolveAxis('height', inHeight, kernelHeight, sH, dH, padding, pads.height, false);
  const w = resolveAxis('width', inWidth, kernelWidth, sW, dW, padding, pads.width, false);
  const macs = batch * outChannels * h.out * w.out * channelsPerGroup * kernelHeight * kernelWidth;
  const outputs = batch * outChannels * h.out * w.out;
  return {
    batch, inChannels, outChannels, groups, inHeight, inWidth, outHeight: h.out, outWidth: w.out,
    kernelHeight, kernelWidth, strideHeight: sH, strideWidth: sW, dilationHeight: dH, dilationWidth: dW,
    padTop: h.pad0, padLeft: w.pad0, padBottom: h.pad1, padRight: w.pad1,
    effectiveKernelHeight: h.effectiveKernel, effectiveKernelWidth: w.effectiveKernel,
    forwardFlops: 2 * macs,
    backwardFlops: 4 * macs,
    // An empty y needs nothing read: 0 bytes (with no input channels, y is the bias: only y is written).
    forwardBytes: outputs === 0 ? 0 : 4 * (batch * inChannels * inHeight * inWidth + outChannels * channelsPerGroup * kernelHeight * kernelWidth + outputs),
  };
}

/** Σ floor((a*i + b) / m) over 0 <= i < n, for n, a, b >= 0 and m > 0 (AtCoder's floor_sum): O(log m) steps. */
function floorSum(n: bigint, m: bigint, a: bigint, b: bigint): bigint {
  let sum = 0n;
  for (;;) {
    if (a >= m) { sum += (n * (n - 1n) / 2n) * (a / m); a %= m; }
    if (b >= m) { sum += n * (b / m); b %= m; }
    const top = a * n + b;
    if (top < m) return sum;
    [n, b, m, a] = [top / m, top % m, a, m];
  }
}

/**
 * The first pooling window whose taps all fall in padding, or -1; in time independent of the
 * kernel, stride, dilation and output size. Given pads smaller than the kernel extent (checked
 * before), only a window starting in the leading pad can miss the input: its first tap at or past 0
 * is at (start mod dilation), so it misses iff that is >= size. For x >= 0,
 * [x mod d >= size] = floor((x + d - size) / d) - floor(x / d), summed over the windows with floorSum.
 */
function firstWindowInPadding(out: number, stride: number, dilation: number, pad0: number, size: number): number {
  if (dilation <= size || pad0 === 0) return -1;
  const [s, d, p] = [BigInt(stride), BigInt(dilation), BigInt(pad0)];
  const a = (d - (p % d)) % d; // the first window's start, mod d
  const gap = d - BigInt(size);
  const missing = (n: bigint) => floorSum(n, d, s, a + gap) - floorSum(n, d, s, a); // windows < n that miss
  let hi = BigInt(out) < (p + s - 1n) / s ? BigInt(out) : (p + s - 1n) / s; // the windows starting before 0
  if (missing(hi) === 0n) return -1;
  let lo = 0n; // missing(lo) = 0 < missing(hi): once hi = lo + 1, window lo is the first miss
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (missing(mid) > 0n) hi = mid;
    else lo = mid;
  }
  return Number(lo);
}

/** Pool geometry from NCHW input shape [N, C, H, W]; N and C may be 0, H and W may not. */
export function pool2dGeometry(xShape: readonly number[], attrs: PoolAttributes): Pool2dGeometry {
  if (xShape.length !== 4) throw new GeometryError('x', `x must have rank 4, got shape [${xShape.join(', ')}]`);
  const [batch, channels, inHeight, inWidth] = xShape;
  checkDimension('x', 'batch', batch, true);
  checkDimension('x', 'channels', channels, true);
  checkDimension('x', 'height', inHeight, false);
  checkDimension('x', 'width', inWidth, false);
  if (attrs.kernel.length !== 2) throw new GeometryError('kernel', `kernel must be [height, width], got [${attrs.kernel.join(', ')}]`);
  const [kernelHeight, kernelWidth] = attrs.kernel;
  const [sH, sW] = attrs.strides ?? [1, 1];
  const [dH, dW] = attrs.dilations ?? [1, 1];
  const padding = attrs.padding ?? 'VALID';
  const ceilMode = attrs.ceilMode ?? false;
  const pads = explicitPads(padding);
  const h = resolveAxis('height', inHeight, kernelHeight, sH, dH, padding, pads.height, ceilMode);
  const w = resolveAxis('width', inWidth, kernelWidth, sW, dW, padding, pads.width, ceilMode);
  for (const [name, axis] of [['height', h], ['width', w]] as const) {
    if (axis.pad0 >= axis.effectiveKernel || axis.pad1 >= axis.effectiveKernel) {
      throw new GeometryError('padding', `${name}: pooling pads [${axis.pad0}, ${axis.pad1}] must be smaller than the kernel extent ${axis.effectiveKernel}`);
    }
  }
  const axes = [['height', h, inHeight, sH, dH], ['width', w, inWidth, sW, dW]] as const;
  for (const [name, axis, size, s, d] of axes) {
    const o = firstWindowInPadding(axis.out, s, d, axis.pad0, size);
    if (o >= 0) {
      throw new GeometryError('padding', `${name}: window ${o} (rows ${o * s - axis.pad0}..${o * s - axis.pad0 + axis.effectiveKernel - 1}, dilation ${d}) lies entirely in padding`);
    }
  }
  const storageOrder = attrs.storageOrder ?? 0;
  if (storageOrder !== 0 && storageOrder !== 1) throw new GeometryError('storageOrder', `storageOrder must be 0 (row-major) or 1 (column-major), got ${String(storageOrder)}`);
  const outputs = batch * channels * h.out * w.out;
  return {
    batch, channels, inHeight, inWidth, outHeight: h.out, outWidth: w.out,
    kernelHeight, kernelWidth, strideHeight: sH, strideWidth: sW, dilationHeight: dH, dilationWidth: dW,
    padTop: h.pad0, padLeft: w.pad0, padBottom: h.pad1, padRight: w.pad1,
    countIncludePad: attrs.countIncludePad ?? false,
    propagateNan: attrs.propagateNan ?? true,
    storageOrder,
    effectiveKernelHeight: h.effectiveKernel, effectiveKernelWidth: w.effectiveKernel,
    forwardFlops: outputs * kernelHeight * kernelWidth,
    forwardBytes: 4 * (batch * channels * inHeight * inWidth + outputs),
    backwardBytes: 4 * (2 * batch * channels * inHeight * inWidth + outputs),
  };
}

/**
 * Divisor of an average-pooling window whose taps start at (y0, x0): taps inside the input,
 * or with countIncludePad, taps inside the explicitly padded input (never ceil-mode overhang).
 */
export function avgPoolDivisor(g: Pool2dGeometry, y0: number, x0: number): number {
  const lowY = g.countIncludePad ? -g.padTop : 0;
  const highY = g.countIncludePad ? g.inHeight + g.padBottom : g.inHeight;
  const lowX = g.countIncludePad ? -g.padLeft : 0;
  const highX = g.countIncludePad ? g.inWidth + g.padRight : g.inWidth;
  let rows = 0;
  for (let ky = 0; ky < g.kernelHeight; ky++) {
    const y = y0 + ky * g.dilationHeight;
    if (y >= lowY && y < highY) rows++;
  }
  let cols = 0;
  for (let kx = 0; kx < g.kernelWidth; kx++) {
    const x = x0 + kx * g.dilationWidth;
    if (x >= lowX && x < highX) cols++;
  }
  return rows * cols;
}

export function convOutputShape(g: Conv2dGeometry): [number, number, number, number] {
  return [g.batch, g.outChannels, g.outHeight, g.outWidth];
}

/**
 * The index maxPool2dWithIndices gives for input element (n, c, h, w) in the geometry's storage
 * order (ONNX MaxPool's Indices output): a flat offset into the NCHW x, or, with storageOrder 1,
 * into each plane stored column-major.
 */
export function maxPoolIndex(g: Pool2dGeometry, n: number, c: number, h: number, w: number): number {
  const plane = (n * g.channels + c) * g.inHeight * g.inWidth;
  return plane + (g.storageOrder === 1 ? w * g.inHeight + h : h * g.inWidth + w);
}

export function poolOutputShape(g: Pool2dGeometry): [number, number, number, number] {
  return [g.batch, g.channels, g.outHeight, g.outWidth];
}
