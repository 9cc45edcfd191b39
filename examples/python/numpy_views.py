"""numpy-views: the views seed's method (a strided window view of the input, multiplied and summed
with tensordot) as a convbench host, WITH THE SEED'S STRIDE BUG KEPT ON PURPOSE.

    convbench --impl "cmd:python3 examples/python/numpy_views.py"

The forward passes build their window view with the stride and are right at every stride. The
backward passes are written the way the seed writes its weight gradient,
`x[:, h:h+OH, w:w+OW]`: output position (oy, ox) is taken to read input (oy + ky, ox + kx), which
is only true at stride 1. So at stride 1 everything is right, and at stride 2 conv2d's dx and dw
and max pooling's dx are wrong: convbench is expected to report those cases as failures.

NCHW. Zero padding is applied with np.pad. Declined (the method as written cannot express them):
dilation > 1, groups > 1, a ceil-mode window that overhangs the padding, and average pooling.
"""

import os
import sys

import numpy as np
from numpy.lib.stride_tricks import as_strided

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "adapters", "python"))
import convbench_host  # noqa: E402
from convbench_host import Declined  # noqa: E402


def check_expressible(g):
    if g.dilationHeight != 1 or g.dilationWidth != 1:
        raise Declined("dilation > 1 is not supported (the window view has unit taps)")
    if g.get("groups", 1) != 1:
        raise Declined("groups > 1 is not supported")
    if (g.outHeight - 1) * g.strideHeight + g.kernelHeight > g.inHeight + g.padTop + g.padBottom or \
            (g.outWidth - 1) * g.strideWidth + g.kernelWidth > g.inWidth + g.padLeft + g.padRight:
        raise Declined("ceil mode with a window past the padding is not supported")


def padded(x, g, fill=0.0):
    return np.pad(x, ((0, 0), (0, 0), (g.padTop, g.padBottom), (g.padLeft, g.padRight)), constant_values=fill)


def strided_windows(xp, g):
    """[N, C, Hp, Wp] -> read-only view [N, C, OH, OW, kH, kW]; window (oy, ox) starts at (oy * sH, ox * sW)."""
    sn, sc, sh, sw = xp.strides
    return as_strided(xp, shape=xp.shape[:2] + (g.outHeight, g.outWidth, g.kernelHeight, g.kernelWidth),
                      strides=(sn, sc, sh * g.strideHeight, sw * g.strideWidth, sh, sw), writeable=False)


def crop(dxp, g):
    return dxp[:, :, g.padTop:g.padTop + g.inHeight, g.padLeft:g.padLeft + g.inWidth]


# ---------------------------------------------------------------------------------------------
# Convolution


def conv2d(x, w, bias, g):
    check_expressible(g)
    view = strided_windows(padded(x.astype(np.float64), g), g)
    y = np.tensordot(view, w.astype(np.float64), axes=([1, 4, 5], [1, 2, 3]))  # [N, OH, OW, O]
    y = y.transpose(0, 3, 1, 2)
    if bias is not None:
        y = y + bias.astype(np.float64)[None, :, None, None]
    return np.ascontiguousarray(y, dtype=np.float32)


def conv2d_backward(x, w, dy, g):
    check_expressible(g)
    xp = padded(x.astype(np.float64), g)
    w = w.astype(np.float64)
    dy = dy.astype(np.float64)
    oh, ow = g.outHeight, g.outWidth
    dw = np.zeros(w.shape)
    dxp = np.zeros(xp.shape)
    for ky in range(g.kernelHeight):
        for kx in range(g.kernelWidth):
            # THE SEED'S BUG: output (oy, ox) read input (oy * stride + ky, ox * stride + kx), but
            # these slices take oy + ky, ox + kx: right only at stride 1.
            taps = xp[:, :, ky:ky + oh, kx:kx + ow]
            dw[:, :, ky, kx] = np.tensordot(dy, taps, axes=([0, 2, 3], [0, 2, 3]))
            dxp[:, :, ky:ky + oh, kx:kx + ow] += np.tensordot(dy, w[:, :, ky, kx], axes=([1], [0])).transpose(0, 3, 1, 2)
    db = dy.sum(axis=(0, 2, 3))
    return crop(dxp, g).astype(np.float32), dw.astype(np.float32), db.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Max pooling. Padding never wins (a mask view marks it), the first maximum in row-major window
# order wins ties; with propagateNan a NaN wins at once, without it NaNs are skipped unless the
# window has nothing else.


def winners(x, g):
    """(values [N, C, OH, OW, kH*kW] of each window, index of each window's winning tap)."""
    check_expressible(g)
    n, c = x.shape[:2]
    k = g.kernelHeight * g.kernelWidth
    values = strided_windows(padded(x, g), g).reshape(n, c, g.outHeight, g.outWidth, k)
    inside = padded(np.ones((1, 1, g.inHeight, g.inWidth), dtype=bool), g, False)
    inside = strided_windows(inside, g).reshape(1, 1, g.outHeight, g.outWidth, k)
    nan = np.isnan(values) & inside
    real = inside & ~nan
    best = np.where(real, values, -np.inf).max(axis=-1, keepdims=True)
    first_max = np.argmax(real & (values == best), axis=-1)
    first_nan = np.argmax(nan, axis=-1)
    if g.propagateNan:
        index = np.where(nan.any(axis=-1), first_nan, first_max)
    else:
        index = np.where(real.any(axis=-1), first_max, first_nan)
    return values, index


def max_pool2d(x, g):
    values, index = winners(x, g)
    return np.take_along_axis(values, index[..., None], axis=-1)[..., 0].astype(np.float32)


def max_pool2d_backward(x, dy, g):
    _, index = winners(x, g)
    dy = dy.astype(np.float64)
    oh, ow = g.outHeight, g.outWidth
    dxp = np.zeros((x.shape[0], x.shape[1], g.inHeight + g.padTop + g.padBottom, g.inWidth + g.padLeft + g.padRight))
    for ky in range(g.kernelHeight):
        for kx in range(g.kernelWidth):
            # THE SEED'S BUG again: window (oy, ox) is taken to start at input (oy, ox), not (oy * stride, ox * stride).
            dxp[:, :, ky:ky + oh, kx:kx + ow] += np.where(index == ky * g.kernelWidth + kx, dy, 0.0)
    return crop(dxp, g).astype(np.float32)


if __name__ == "__main__":
    convbench_host.serve(
        name="numpy-views",
        layout="NCHW",
        conv2d=conv2d,
        conv2d_backward=conv2d_backward,
        max_pool2d=max_pool2d,
        max_pool2d_backward=max_pool2d_backward,
        declines={
            "avgPool2d": "the views seed has only max pooling",
            "avgPool2dBackward": "the views seed has only max pooling",
        },
    )
