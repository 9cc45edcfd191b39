"""numpy-naive: the CNNumpy seed's method (slide a window over the input, multiply, sum) as a
convbench host. NCHW, every geometry field: strides, dilation, groups, asymmetric pads,
count_include_pad, ceil mode. Max pooling is declined: the seed has none.

    convbench --impl "cmd:python3 examples/python/numpy_naive.py"

One Python loop over output positions; each window is a numpy slice (batch and channels at once),
clipped to the taps that fall inside the input: padding taps are skipped, never materialised.
Sums are float64, results float32.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "adapters", "python"))
import convbench_host  # noqa: E402


def tap_range(start, kernel, dilation, size):
    """Taps t in [lo, hi) of a window starting at `start` whose row start + t * dilation is in [0, size)."""
    lo = max(0, -(start // dilation))  # the first t with start + t * dilation >= 0
    hi = min(kernel, (size - 1 - start) // dilation + 1)
    return lo, max(lo, hi)


def window(start, kernel, dilation, size):
    """(slice of the input, slice of the kernel taps) for one axis of one window; empty when all padding."""
    lo, hi = tap_range(start, kernel, dilation, size)
    first = start + lo * dilation
    return slice(first, first + (hi - lo - 1) * dilation + 1, dilation), slice(lo, hi)


def windows(g):
    """Yields (oy, ox, input rows, input cols, tap rows, tap cols) for every output position with a tap inside."""
    for oy in range(g.outHeight):
        rows, ky = window(oy * g.strideHeight - g.padTop, g.kernelHeight, g.dilationHeight, g.inHeight)
        if ky.start == ky.stop:
            continue
        for ox in range(g.outWidth):
            cols, kx = window(ox * g.strideWidth - g.padLeft, g.kernelWidth, g.dilationWidth, g.inWidth)
            if kx.start != kx.stop:
                yield oy, ox, rows, cols, ky, kx


# ---------------------------------------------------------------------------------------------
# Convolution. Axis names: n batch, g group, c input channel in its group, o output channel in its
# group, a b the window's taps inside the input.


def conv2d(x, w, bias, g):
    n, G = g.batch, g.groups
    cg, og = g.inChannels // G, g.outChannels // G
    x = x.astype(np.float64)
    wg = w.astype(np.float64).reshape(G, og, cg, g.kernelHeight, g.kernelWidth)
    y = np.zeros((n, g.outChannels, g.outHeight, g.outWidth))
    if bias is not None:
        y += bias.astype(np.float64)[None, :, None, None]
    for oy, ox, rows, cols, ky, kx in windows(g):
        patch = x[:, :, rows, cols]
        patch = patch.reshape(n, G, cg, patch.shape[2], patch.shape[3])
        y[:, :, oy, ox] += np.einsum("ngcab,gocab->ngo", patch, wg[:, :, :, ky, kx]).reshape(n, g.outChannels)
    return y.astype(np.float32)


def conv2d_backward(x, w, dy, g):
    """Each output gradient spreads back over its window: into dx through w, into dw through x."""
    n, G = g.batch, g.groups
    cg, og = g.inChannels // G, g.outChannels // G
    x = x.astype(np.float64)
    wg = w.astype(np.float64).reshape(G, og, cg, g.kernelHeight, g.kernelWidth)
    dy = dy.astype(np.float64)
    dyg = dy.reshape(n, G, og, g.outHeight, g.outWidth)
    dx = np.zeros(x.shape)
    dw = np.zeros(wg.shape)
    for oy, ox, rows, cols, ky, kx in windows(g):
        d = dyg[:, :, :, oy, ox]  # [n, G, og]
        patch = x[:, :, rows, cols]
        a, b = patch.shape[2], patch.shape[3]
        patch = patch.reshape(n, G, cg, a, b)
        dw[:, :, :, ky, kx] += np.einsum("ngo,ngcab->gocab", d, patch)
        dx[:, :, rows, cols] += np.einsum("ngo,gocab->ngcab", d, wg[:, :, :, ky, kx]).reshape(n, g.inChannels, a, b)
    db = dy.sum(axis=(0, 2, 3))
    return dx.astype(np.float32), dw.reshape(w.shape).astype(np.float32), db.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Average pooling


def divisor(g, y0, x0):
    """Taps of the window starting at (y0, x0) that count: inside the input, or with countIncludePad
    inside the explicitly padded input; a ceil-mode overhang past padBottom / padRight never counts."""
    pads = (g.padTop, g.padBottom, g.padLeft, g.padRight) if g.countIncludePad else (0, 0, 0, 0)
    rows = tap_range(y0 + pads[0], g.kernelHeight, g.dilationHeight, g.inHeight + pads[0] + pads[1])
    cols = tap_range(x0 + pads[2], g.kernelWidth, g.dilationWidth, g.inWidth + pads[2] + pads[3])
    return (rows[1] - rows[0]) * (cols[1] - cols[0])


def avg_pool2d(x, g):
    x = x.astype(np.float64)
    y = np.zeros((g.batch, g.channels, g.outHeight, g.outWidth))
    for oy, ox, rows, cols, _, _ in windows(g):
        total = x[:, :, rows, cols].sum(axis=(2, 3))
        y[:, :, oy, ox] = total / divisor(g, oy * g.strideHeight - g.padTop, ox * g.strideWidth - g.padLeft)
    return y.astype(np.float32)


def avg_pool2d_backward(x, dy, g):
    """Each output gradient, divided by its window's divisor, goes to every input tap of the window."""
    dy = dy.astype(np.float64)
    dx = np.zeros(x.shape)
    for oy, ox, rows, cols, _, _ in windows(g):
        share = dy[:, :, oy, ox] / divisor(g, oy * g.strideHeight - g.padTop, ox * g.strideWidth - g.padLeft)
        dx[:, :, rows, cols] += share[:, :, None, None]
    return dx.astype(np.float32)


if __name__ == "__main__":
    convbench_host.serve(
        name="numpy-naive",
        layout="NCHW",
        conv2d=conv2d,
        conv2d_backward=conv2d_backward,
        avg_pool2d=avg_pool2d,
        avg_pool2d_backward=avg_pool2d_backward,
        declines={
            "maxPool2d": "the numpy-naive seed (CNNumpy) has no max pooling",
            "maxPool2dBackward": "the numpy-naive seed (CNNumpy) has no max pooling",
        },
    )
