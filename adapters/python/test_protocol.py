"""Self-test of the Python host adapter and its two examples, over the real pipes.

    python3 adapters/python/test_protocol.py        # exit 0 when every check passes

Starts examples/python/numpy_naive.py, examples/python/numpy_views.py and a deliberately
misbehaving host (written to a temporary file) as subprocesses, speaks docs/host-protocol.md to
them, and checks every reply: the handshake, results against a float64 numpy reference written
here independently (per-tap strided slices of the padded input, not the examples' window loops),
the inputs echoed back, time requests, errors with stack lines, wrong shapes, writes into an input,
aliasing, declines, supports() requests (and supports() that misbehaves), a near-miss keyword of
serve() refused, stdout kept clean of kernel prints, and a clean exit at stdin EOF.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
NAIVE = os.path.join(ROOT, "examples", "python", "numpy_naive.py")
VIEWS = os.path.join(ROOT, "examples", "python", "numpy_views.py")
REPLY_TIMEOUT = 60.0


# ---------------------------------------------------------------------------------------------
# A protocol client


class Host:
    def __init__(self, script):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, cwd=ROOT)
        self.next_id = 0
        self.hello = self.read()[0]

    def _watchdog(self):
        timer = threading.Timer(REPLY_TIMEOUT, self.proc.kill)
        timer.daemon = True
        timer.start()
        return timer

    def read(self):
        timer = self._watchdog()
        try:
            line = self.proc.stdout.readline()
            assert line.endswith(b"\n"), "no header line from the host (got %r); stderr:\n%s" % (line[:200], self.log())
            header = json.loads(line.decode("utf-8"))
            tensors = []
            for spec in header.get("tensors", []):
                n = int(np.prod(spec["shape"], dtype=np.int64))
                data = self.proc.stdout.read(4 * n) if n else b""
                assert len(data) == 4 * n, "frame %s: %d of %d bytes" % (spec["name"], len(data), 4 * n)
                tensors.append((spec["name"], np.frombuffer(data, dtype="<f4").reshape(spec["shape"])))
            return header, tensors
        finally:
            timer.cancel()

    def send(self, header, tensors=()):
        self.next_id += 1
        header = dict(header, id=self.next_id)
        if tensors:
            header["tensors"] = [{"name": n, "shape": list(a.shape)} for n, a in tensors]
        self.proc.stdin.write(json.dumps(header).encode("utf-8") + b"\n")
        for _, a in tensors:
            self.proc.stdin.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
        self.proc.stdin.flush()
        reply, frames = self.read()
        assert reply.get("id") == self.next_id, "reply id %r for request %d" % (reply.get("id"), self.next_id)
        return reply, frames

    def call(self, op, geometry, tensors, outputs, kind="call", **extra):
        header = dict({"type": kind, "op": op, "geometry": geometry, "outputs": [{"name": n, "shape": list(s)} for n, s in outputs]}, **extra)
        return self.send(header, tensors)

    def close(self):
        """Closes stdin and returns the exit code (the host must exit by itself)."""
        self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the host did not exit within 20 s of stdin EOF")
        rest = self.proc.stdout.read()
        assert rest == b"", "bytes on stdout after the last reply: %r" % rest[:200]
        return code

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# Geometry records (the explicit-padding subset of harness/geometry.ts)


def _axis(size, kernel, stride, dilation, pad0, pad1, ceil):
    ek = (kernel - 1) * dilation + 1
    span = size + pad0 + pad1 - ek
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + pad0:
        out -= 1
    return out, ek


def conv_geometry(xs, ws, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), groups=1):
    n, c, h, w = xs
    o, _, kh, kw = ws
    oh, ekh = _axis(h, kh, strides[0], dilations[0], pads[0], pads[2], False)
    ow, ekw = _axis(w, kw, strides[1], dilations[1], pads[1], pads[3], False)
    return {"batch": n, "inChannels": c, "outChannels": o, "groups": groups, "inHeight": h, "inWidth": w,
            "outHeight": oh, "outWidth": ow, "kernelHeight": kh, "kernelWidth": kw, "strideHeight": strides[0],
            "strideWidth": strides[1], "dilationHeight": dilations[0], "dilationWidth": dilations[1],
            "padTop": pads[0], "padLeft": pads[1], "padBottom": pads[2], "padRight": pads[3],
            "effectiveKernelHeight": ekh, "effectiveKernelWidth": ekw, "forwardFlops": 0, "backwardFlops": 0, "forwardBytes": 0}


def pool_geometry(xs, kernel, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), ceil=False, cip=False, propagate_nan=True):
    n, c, h, w = xs
    oh, ekh = _axis(h, kernel[0], strides[0], dilations[0], pads[0], pads[2], ceil)
    ow, ekw = _axis(w, kernel[1], strides[1], dilations[1], pads[1], pads[3], ceil)
    return {"batch": n, "channels": c, "inHeight": h, "inWidth": w, "outHeight": oh, "outWidth": ow,
            "kernelHeight": kernel[0], "kernelWidth": kernel[1], "strideHeight": strides[0], "strideWidth": strides[1],
            "dilationHeight": dilations[0], "dilationWidth": dilations[1], "padTop": pads[0], "padLeft": pads[1],
            "padBottom": pads[2], "padRight": pads[3], "countIncludePad": cip, "propagateNan": propagate_nan,
            "effectiveKernelHeight": ekh, "effectiveKernelWidth": ekw, "forwardFlops": 0, "forwardBytes": 0, "backwardBytes": 0}


# ---------------------------------------------------------------------------------------------
# Float64 references: one strided slice of the padded input per kernel tap


def _padded(a, g, fill=0.0):
    """a padded by the explicit pads, plus any ceil-mode overhang past the bottom / right."""
    extra_h = max(0, (g["outHeight"] - 1) * g["strideHeight"] + g["effectiveKernelHeight"] - (g["inHeight"] + g["padTop"] + g["padBottom"]))
    extra_w = max(0, (g["outWidth"] - 1) * g["strideWidth"] + g["effectiveKernelWidth"] - (g["inWidth"] + g["padLeft"] + g["padRight"]))
    return np.pad(a, ((0, 0), (0, 0), (g["padTop"], g["padBottom"] + extra_h), (g["padLeft"], g["padRight"] + extra_w)), constant_values=fill)


def _tap(g, ky, kx):
    r0, c0 = ky * g["dilationHeight"], kx * g["dilationWidth"]
    return (slice(r0, r0 + (g["outHeight"] - 1) * g["strideHeight"] + 1, g["strideHeight"]),
            slice(c0, c0 + (g["outWidth"] - 1) * g["strideWidth"] + 1, g["strideWidth"]))


def _crop(ap, g):
    return ap[:, :, g["padTop"]:g["padTop"] + g["inHeight"], g["padLeft"]:g["padLeft"] + g["inWidth"]]


def ref_conv(x, w, b, g):
    xp = _padded(x.astype(np.float64), g)
    G = g["groups"]
    cg, og = g["inChannels"] // G, g["outChannels"] // G
    y = np.zeros((g["batch"], g["outChannels"], g["outHeight"], g["outWidth"]))
    for grp in range(G):
        ci, oi = slice(grp * cg, (grp + 1) * cg), slice(grp * og, (grp + 1) * og)
        for ky in range(g["kernelHeight"]):
            for kx in range(g["kernelWidth"]):
                rs, cs = _tap(g, ky, kx)
                y[:, oi] += np.einsum("nchw,oc->nohw", xp[:, ci, rs, cs], w[oi, :, ky, kx].astype(np.float64))
    if b is not None:
        y += b[None, :, None, None]
    return y


def ref_conv_backward(x, w, dy, g):
    xp = _padded(x.astype(np.float64), g)
    dxp = np.zeros(xp.shape)
    dw = np.zeros(w.shape)
    G = g["groups"]
    cg, og = g["inChannels"] // G, g["outChannels"] // G
    for grp in range(G):
        ci, oi = slice(grp * cg, (grp + 1) * cg), slice(grp * og, (grp + 1) * og)
        for ky in range(g["kernelHeight"]):
            for kx in range(g["kernelWidth"]):
                rs, cs = _tap(g, ky, kx)
                dw[oi, :, ky, kx] = np.einsum("nohw,nchw->oc", dy[:, oi], xp[:, ci, rs, cs])
                dxp[:, ci, rs, cs] += np.einsum("nohw,oc->nchw", dy[:, oi], w[oi, :, ky, kx].astype(np.float64))
    return _crop(dxp, g), dw, dy.astype(np.float64).sum(axis=(0, 2, 3))


def _avg_counts(g):
    inside = np.ones((1, 1, g["inHeight"], g["inWidth"]))
    if g["countIncludePad"]:
        inside = np.pad(inside, ((0, 0), (0, 0), (g["padTop"], g["padBottom"]), (g["padLeft"], g["padRight"])), constant_values=1.0)
        g = dict(g, padTop=0, padLeft=0, padBottom=0, padRight=0,
                 inHeight=inside.shape[2], inWidth=inside.shape[3])
    mask = _padded(inside, g)
    counts = np.zeros((g["outHeight"], g["outWidth"]))
    for ky in range(g["kernelHeight"]):
        for kx in range(g["kernelWidth"]):
            rs, cs = _tap(g, ky, kx)
            counts += mask[0, 0, rs, cs]
    return counts


def ref_avg(x, g):
    xp = _padded(x.astype(np.float64), g)
    total = np.zeros((g["batch"], g["channels"], g["outHeight"], g["outWidth"]))
    for ky in range(g["kernelHeight"]):
        for kx in range(g["kernelWidth"]):
            rs, cs = _tap(g, ky, kx)
            total += xp[:, :, rs, cs]
    return total / _avg_counts(g)


def ref_avg_backward(x, dy, g):
    dxp = np.zeros(_padded(x, g).shape)
    share = dy.astype(np.float64) / _avg_counts(g)
    for ky in range(g["kernelHeight"]):
        for kx in range(g["kernelWidth"]):
            rs, cs = _tap(g, ky, kx)
            dxp[:, :, rs, cs] += share
    return _crop(dxp, g)


def ref_max(x, dy, g):
    """(y, dx) by plain Python loops: padding never wins, first maximum, NaN rules of cases/README.md."""
    y = np.zeros((g["batch"], g["channels"], g["outHeight"], g["outWidth"]))
    dx = np.zeros(x.shape)
    for n in range(g["batch"]):
        for c in range(g["channels"]):
            for oy in range(g["outHeight"]):
                for ox in range(g["outWidth"]):
                    best = first_nan = None
                    for ky in range(g["kernelHeight"]):
                        for kx in range(g["kernelWidth"]):
                            iy = oy * g["strideHeight"] - g["padTop"] + ky * g["dilationHeight"]
                            ix = ox * g["strideWidth"] - g["padLeft"] + kx * g["dilationWidth"]
                            if not (0 <= iy < g["inHeight"] and 0 <= ix < g["inWidth"]):
                                continue
                            v = x[n, c, iy, ix]
                            if np.isnan(v):
                                if first_nan is None:
                                    first_nan = (iy, ix)
                            elif best is None or v > x[n, c, best[0], best[1]]:
                                best = (iy, ix)
                    win = first_nan if (first_nan is not None and (g["propagateNan"] or best is None)) else best
                    y[n, c, oy, ox] = x[n, c, win[0], win[1]]
                    dx[n, c, win[0], win[1]] += dy[n, c, oy, ox]
    return y, dx


# ---------------------------------------------------------------------------------------------
# Checks


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def close(got, want, what, rtol=1e-5, atol=1e-5):
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, "%s: shape %s, expected %s" % (what, got.shape, want.shape)
    ok = np.isclose(got.astype(np.float64), want, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        i = tuple(int(v) for v in np.argwhere(~ok)[0])
        raise AssertionError("%s differs at %s: got %r, expected %r" % (what, i, got[i], want[i]))


def result(reply, frames, outputs, inputs):
    """Checks a `result` reply: names in order, inputs echoed bit for bit; returns the output arrays."""
    assert reply["type"] == "result", "expected a result, got %r" % (reply,)
    assert isinstance(reply["kernelMs"], float) and reply["kernelMs"] >= 0, reply
    assert "violations" not in reply, reply
    names = [n for n, _ in frames]
    assert names == list(outputs) + [n for n, _ in inputs], "tensor order %s" % names
    for (name, sent), (_, back) in zip(inputs, frames[len(outputs):]):
        assert np.array_equal(sent.astype("<f4").view(np.uint32), back.view(np.uint32)), "input %s came back changed" % name
    return [a for _, a in frames[:len(outputs)]]


rng = np.random.default_rng(7)


def uniform(*shape):
    return rng.uniform(-1, 1, size=shape).astype(np.float32)


CONV_GEOMETRIES = [
    dict(xs=(2, 3, 7, 6), ws=(4, 3, 3, 2)),
    dict(xs=(2, 5, 11, 7), ws=(7, 5, 3, 2), strides=(2, 3), pads=(1, 0, 2, 1)),
    dict(xs=(1, 3, 13, 10), ws=(5, 3, 3, 2), strides=(2, 1), dilations=(3, 2), pads=(2, 1, 0, 3)),
    dict(xs=(2, 6, 9, 8), ws=(9, 2, 3, 3), strides=(2, 2), pads=(1, 1, 1, 1), groups=3),
    dict(xs=(1, 5, 7, 12), ws=(10, 1, 2, 5), strides=(1, 2), pads=(0, 2, 1, 0), groups=5),
    dict(xs=(1, 2, 3, 3), ws=(3, 2, 1, 1), pads=(2, 2, 2, 2)),  # windows entirely in padding give the bias
]


def conv_case(spec, bias=True):
    g = conv_geometry(**spec)
    x, w = uniform(*spec["xs"]), uniform(*spec["ws"])
    b = uniform(spec["ws"][0]) if bias else None
    dy = uniform(g["batch"], g["outChannels"], g["outHeight"], g["outWidth"])
    return g, x, w, b, dy


def run_conv(host, g, x, w, b, dy):
    ys = (g["batch"], g["outChannels"], g["outHeight"], g["outWidth"])
    inputs = [("x", x), ("w", w)] + ([("bias", b)] if b is not None else [])
    (y,) = result(*host.call("conv2d", g, inputs, [("y", ys)]), ["y"], inputs)
    inputs = [("x", x), ("w", w), ("dy", dy)]
    grads = result(*host.call("conv2dBackward", g, inputs, [("dx", x.shape), ("dw", w.shape), ("db", (w.shape[0],))]), ["dx", "dw", "db"], inputs)
    return y, grads


@check
def naive_handshake():
    host = Host(NAIVE)
    h = host.hello
    assert h == {"protocol": "convbench-host", "version": 2, "name": "numpy-naive", "layout": "NCHW",
                 "ops": ["conv2d", "conv2dBackward", "avgPool2d", "avgPool2dBackward"], "declines": h.get("declines")}, h
    assert set(h["declines"]) == {"maxPool2d", "maxPool2dBackward"}, h
    assert host.close() == 0


@check
def naive_conv():
    host = Host(NAIVE)
    for spec in CONV_GEOMETRIES:
        for bias in (True, False):
            g, x, w, b, dy = conv_case(spec, bias)
            y, (dx, dw, db) = run_conv(host, g, x, w, b, dy)
            close(y, ref_conv(x, w, b, g), "conv2d y %s" % spec)
            rdx, rdw, rdb = ref_conv_backward(x, w, dy, g)
            close(dx, rdx, "conv2dBackward dx %s" % spec)
            close(dw, rdw, "conv2dBackward dw %s" % spec)
            close(db, rdb, "conv2dBackward db %s" % spec)
    assert host.close() == 0


POOL_GEOMETRIES = [
    dict(xs=(2, 3, 6, 5), kernel=(2, 2), strides=(2, 2)),
    dict(xs=(2, 5, 11, 7), kernel=(3, 2), strides=(2, 3), pads=(1, 0, 2, 1), ceil=True, cip=True),
    dict(xs=(2, 5, 11, 7), kernel=(3, 2), strides=(2, 3), pads=(1, 0, 2, 1), ceil=True, cip=False),
    dict(xs=(1, 2, 7, 8), kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), ceil=True, cip=True),  # overhang past the pad
    dict(xs=(1, 2, 7, 8), kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), ceil=True, cip=False),
    dict(xs=(2, 3, 11, 12), kernel=(2, 3), dilations=(3, 2), pads=(1, 2, 1, 2), cip=True),
    dict(xs=(1, 2, 6, 5), kernel=(3, 3), pads=(0, 1, 2, 0), cip=True),
    dict(xs=(1, 2, 6, 5), kernel=(3, 3), pads=(1, 1, 1, 1), cip=False),
    dict(xs=(1, 4, 7, 7), kernel=(7, 7)),
]


@check
def naive_avg_pool():
    host = Host(NAIVE)
    for spec in POOL_GEOMETRIES:
        g = pool_geometry(**spec)
        x = uniform(*spec["xs"])
        ys = (g["batch"], g["channels"], g["outHeight"], g["outWidth"])
        dy = uniform(*ys)
        (y,) = result(*host.call("avgPool2d", g, [("x", x)], [("y", ys)]), ["y"], [("x", x)])
        close(y, ref_avg(x, g), "avgPool2d %s" % spec)
        inputs = [("x", x), ("dy", dy)]
        (dx,) = result(*host.call("avgPool2dBackward", g, inputs, [("dx", x.shape)]), ["dx"], inputs)
        close(dx, ref_avg_backward(x, dy, g), "avgPool2dBackward %s" % spec)
    # The divisor rule on numbers worked by hand: a 3x3 window at the corner of a 2x2 input with
    # pads 1: 4 input taps; count_include_pad adds the 5 pad taps; overhang never counts.
    g = pool_geometry((1, 1, 2, 2), (3, 3), pads=(1, 1, 1, 1), cip=True)
    x = np.array([[[[1, 2], [3, 4]]]], dtype=np.float32)
    (y,) = result(*host.call("avgPool2d", g, [("x", x)], [("y", (1, 1, 2, 2))]), ["y"], [("x", x)])
    close(y, np.full((1, 1, 2, 2), 10 / 9), "count_include_pad by hand")
    g = pool_geometry((1, 1, 2, 2), (3, 3), pads=(1, 1, 1, 1), cip=False)
    (y,) = result(*host.call("avgPool2d", g, [("x", x)], [("y", (1, 1, 2, 2))]), ["y"], [("x", x)])
    close(y, np.full((1, 1, 2, 2), 2.5), "count_exclude_pad by hand")
    reply, frames = host.call("maxPool2d", pool_geometry((1, 1, 4, 4), (2, 2)), [("x", uniform(1, 1, 4, 4))], [("y", (1, 1, 3, 3))])
    assert reply["type"] == "declined" and "max pooling" in reply["reason"] and not frames, reply
    assert host.close() == 0


@check
def naive_time():
    host = Host(NAIVE)
    g, x, w, b, _ = conv_case(CONV_GEOMETRIES[0])
    reply, frames = host.call("conv2d", g, [("x", x), ("w", w), ("bias", b)], [("y", (2, 4, 5, 5))],
                              kind="time", warmup=2, iterations=5, minMs=30)
    assert reply["type"] == "timed" and not frames, reply
    s = reply["samplesMs"]
    assert len(s) >= 5 and all(isinstance(v, (int, float)) and v >= 0 for v in s), s
    assert sum(s) >= 30 * 0.999, "samples add up to %s ms, less than minMs" % sum(s)
    # iterations bound when the time is already reached
    reply, _ = host.call("conv2d", g, [("x", x), ("w", w), ("bias", b)], [("y", (2, 4, 5, 5))],
                         kind="time", warmup=0, iterations=3, minMs=0)
    assert reply["type"] == "timed" and len(reply["samplesMs"]) == 3, reply
    assert host.close() == 0


@check
def views_handshake_and_declines():
    host = Host(VIEWS)
    h = host.hello
    assert h["name"] == "numpy-views" and h["layout"] == "NCHW", h
    assert h["ops"] == ["conv2d", "conv2dBackward", "maxPool2d", "maxPool2dBackward"], h
    assert set(h["declines"]) == {"avgPool2d", "avgPool2dBackward"}, h
    for spec, why in [(dict(xs=(1, 2, 9, 9), ws=(3, 2, 3, 3), dilations=(2, 2)), "dilation"),
                      (dict(xs=(1, 4, 9, 9), ws=(4, 2, 3, 3), groups=2), "groups")]:
        g = conv_geometry(**spec)
        reply, _ = host.call("conv2d", g, [("x", uniform(*spec["xs"])), ("w", uniform(*spec["ws"]))], [("y", (1, spec["ws"][0], g["outHeight"], g["outWidth"]))])
        assert reply["type"] == "declined" and why in reply["reason"], reply
    g = pool_geometry((1, 2, 7, 8), (3, 3), strides=(2, 2), pads=(1, 1, 1, 1), ceil=True)
    reply, _ = host.call("maxPool2d", g, [("x", uniform(1, 2, 7, 8))], [("y", (1, 2, g["outHeight"], g["outWidth"]))])
    assert reply["type"] == "declined" and "ceil" in reply["reason"], reply
    reply, _ = host.call("avgPool2d", pool_geometry((1, 1, 4, 4), (2, 2)), [("x", uniform(1, 1, 4, 4))], [("y", (1, 1, 3, 3))])
    assert reply["type"] == "declined", reply
    assert host.close() == 0


@check
def views_conv_right_at_stride_1_wrong_at_stride_2():
    host = Host(VIEWS)
    for spec in [dict(xs=(3, 1, 13, 11), ws=(8, 1, 3, 3)), dict(xs=(2, 5, 11, 7), ws=(7, 5, 3, 2), pads=(1, 0, 2, 1))]:
        g, x, w, b, dy = conv_case(spec)
        y, (dx, dw, db) = run_conv(host, g, x, w, b, dy)
        close(y, ref_conv(x, w, b, g), "views conv2d stride 1")
        rdx, rdw, rdb = ref_conv_backward(x, w, dy, g)
        close(dx, rdx, "views dx stride 1")
        close(dw, rdw, "views dw stride 1")
        close(db, rdb, "views db stride 1")
    for spec in [dict(xs=(3, 1, 13, 11), ws=(8, 1, 3, 3), strides=(2, 2)), dict(xs=(2, 5, 11, 7), ws=(7, 5, 3, 2), strides=(2, 3), pads=(1, 0, 2, 1))]:
        g, x, w, b, dy = conv_case(spec)
        y, (dx, dw, db) = run_conv(host, g, x, w, b, dy)
        close(y, ref_conv(x, w, b, g), "views conv2d stride 2 (the forward view has the stride)")
        rdx, rdw, rdb = ref_conv_backward(x, w, dy, g)
        assert not np.allclose(dx, rdx, atol=1e-3), "the views seed's dx bug is gone at stride 2"
        assert not np.allclose(dw, rdw, atol=1e-3), "the views seed's dw bug is gone at stride 2"
        close(db, rdb, "views db stride 2")
    assert host.close() == 0


@check
def views_max_pool():
    host = Host(VIEWS)
    nan, inf = np.nan, np.inf
    cases = [
        (pool_geometry((2, 3, 9, 8), (3, 3), pads=(1, 1, 1, 1)), rng.integers(-1, 2, size=(2, 3, 9, 8)).astype(np.float32)),  # ties
        (pool_geometry((1, 1, 3, 4), (2, 2)), np.full((1, 1, 3, 4), 2, dtype=np.float32)),
        (pool_geometry((1, 1, 2, 3), (2, 2), pads=(1, 1, 1, 1)), np.array([[[[-inf, -inf, 1], [-inf, inf, -2]]]], dtype=np.float32)),
        (pool_geometry((1, 1, 2, 2), (2, 2), pads=(1, 1, 0, 0)), np.full((1, 1, 2, 2), -inf, dtype=np.float32)),
        (pool_geometry((1, 1, 3, 3), (2, 2), propagate_nan=True), np.array([[[[1, nan, 0], [2, 3, -1], [nan, nan, 5]]]], dtype=np.float32)),
        (pool_geometry((1, 1, 3, 3), (2, 2), propagate_nan=False), np.array([[[[1, nan, 0], [2, 3, -1], [nan, 4, 5]]]], dtype=np.float32)),
        (pool_geometry((1, 1, 3, 3), (2, 2), propagate_nan=False), np.array([[[[nan, nan, 0], [nan, nan, -1], [nan, 4, 5]]]], dtype=np.float32)),
        (pool_geometry((2, 5, 11, 7), (3, 2), pads=(1, 0, 2, 1)), uniform(2, 5, 11, 7)),
    ]
    for g, x in cases:
        ys = (g["batch"], g["channels"], g["outHeight"], g["outWidth"])
        dy = uniform(*ys)
        ry, rdx = ref_max(x, dy, g)
        (y,) = result(*host.call("maxPool2d", g, [("x", x)], [("y", ys)]), ["y"], [("x", x)])
        close(y, ry, "views maxPool2d stride 1 %s" % (x.shape,))
        (dx,) = result(*host.call("maxPool2dBackward", g, [("x", x), ("dy", dy)], [("dx", x.shape)]), ["dx"], [("x", x), ("dy", dy)])
        close(dx, rdx, "views maxPool2dBackward stride 1 %s" % (x.shape,))
    g = pool_geometry((3, 8, 12, 10), (2, 2), strides=(2, 2))
    x, dy = uniform(3, 8, 12, 10), uniform(3, 8, 6, 5)
    ry, rdx = ref_max(x, dy, g)
    (y,) = result(*host.call("maxPool2d", g, [("x", x)], [("y", dy.shape)]), ["y"], [("x", x)])
    close(y, ry, "views maxPool2d stride 2")
    (dx,) = result(*host.call("maxPool2dBackward", g, [("x", x), ("dy", dy)], [("dx", x.shape)]), ["dx"], [("x", x), ("dy", dy)])
    assert not np.allclose(dx, rdx), "the views seed's stride bug is gone from max pooling's dx at stride 2"
    assert host.close() == 0


# ---------------------------------------------------------------------------------------------
# The adapter's own behaviour, with a host that misbehaves on purpose

BAD_HOST = r'''
import os, subprocess, sys
sys.path.insert(0, %(adapters)r)
import numpy as np
import convbench_host as cb

def inner(n):
    raise ValueError("boom %%d" %% n)

def recurse(n):
    return recurse(n + 1) if n < 30 else inner(n)

def conv2d(x, w, bias, g):
    shape = (g.batch, g["outChannels"], g.outHeight, g.outWidth)
    mode = g.inHeight
    if mode == 1:
        return inner(1)
    if mode == 2:
        return np.zeros((shape[0], shape[1], shape[2] + 1, shape[3]), dtype=np.float32)
    if mode == 3:
        x[0, 0, 0, 1] = 42.0
        return np.zeros(shape, dtype=np.float32)
    if mode == 4:
        print("a print to sys.stdout")
        sys.stdout.flush()
        os.write(1, b"a write to fd 1\n")
        subprocess.call(["echo", "a child process on fd 1"])
        return np.ones(shape, dtype=np.float64)  # float64 is converted
    if mode == 5:
        raise cb.Declined("mode 5 is too big")
    if mode == 6:
        return [[0.0]]
    if mode == 7:
        return recurse(0)
    if mode == 8:
        return x[:, :, ::-1, :]  # a reversed view of an input (a 1x1 kernel keeps x's shape)
    if mode == 9:
        return np.zeros(shape, dtype=object)
    return np.full(shape, float(g.strideHeight), dtype=np.float32)

def conv2d_backward(x, w, dy, g):
    if g.inHeight == 1:
        return np.zeros_like(x), np.zeros_like(w)
    return {"dx": np.zeros_like(x), "dw": np.ones_like(w), "db": dy.sum(axis=(0, 2, 3))}

def avg_pool2d(x, g):
    return x  # a 1x1 window at stride 1: the right values, but the input's own buffer

def avg_pool2d_backward(x, dy, g):
    return dy[:, :, :, :]  # a view of dy

cb.serve(name="bad-host+1", conv2d=conv2d, conv2d_backward=conv2d_backward, avg_pool2d=avg_pool2d,
         avg_pool2d_backward=avg_pool2d_backward, declines={"max_pool2d": "max pooling is not written yet"})
'''


def bad_host():
    fd, path = tempfile.mkstemp(suffix="_bad_host.py")
    with os.fdopen(fd, "w") as f:
        f.write(BAD_HOST % {"adapters": HERE})
    return path


@check
def adapter_behaviour():
    path = bad_host()
    try:
        host = Host(path)
        assert host.hello == {"protocol": "convbench-host", "version": 2, "name": "bad-host+1", "layout": "NCHW",
                              "ops": ["conv2d", "conv2dBackward", "avgPool2d", "avgPool2dBackward"],
                              "declines": {"maxPool2d": "max pooling is not written yet"}}, host.hello

        def conv(mode, xs=None, ws=(2, 1, 1, 1)):
            g = conv_geometry(xs or (1, 1, mode, 2), ws)
            x, w = uniform(*g_shape(g)), uniform(*ws)
            return g, x, w, host.call("conv2d", g, [("x", x), ("w", w)], [("y", (1, ws[0], g["outHeight"], g["outWidth"]))])

        def g_shape(g):
            return (g["batch"], g["inChannels"], g["inHeight"], g["inWidth"])

        # an ordinary call: geometry readable as attributes and as a dict, bias absent
        g, x, w, (reply, frames) = conv(10)
        (y,) = result(reply, frames, ["y"], [("x", x), ("w", w)])
        assert (y == 1.0).all()

        # a kernel that raises: type and message, stack lines innermost first, our frames only
        _, _, _, (reply, frames) = conv(1)
        assert reply["type"] == "error" and reply["error"] == "ValueError: boom 1" and not frames, reply
        assert reply["stack"][0].endswith(" in inner") and reply["stack"][1].endswith(" in conv2d"), reply["stack"]
        assert all(":" in s and "convbench_host.py" not in s for s in reply["stack"]), reply["stack"]
        _, _, _, (reply, _) = conv(7)
        assert reply["error"] == "ValueError: boom 30" and len(reply["stack"]) == 8, reply
        assert reply["stack"][0].endswith(" in inner") and reply["stack"][-1].endswith(" in recurse"), reply["stack"]

        # the wrong shape, a list, an object array: errors naming what came back
        _, _, _, (reply, _) = conv(2)
        assert reply["type"] == "error" and "[1, 2, 3, 2]" in reply["error"] and "[1, 2, 2, 2]" in reply["error"] and " y " in reply["error"], reply
        _, _, _, (reply, _) = conv(6)
        assert reply["type"] == "error" and "list" in reply["error"] and "numpy array" in reply["error"], reply
        _, _, _, (reply, _) = conv(9)
        assert reply["type"] == "error" and "object" in reply["error"], reply

        # a kernel that writes into its input: the echoed x shows it, the harness's copy does not
        g, x, w, (reply, frames) = conv(3)
        assert reply["type"] == "result", reply
        back = dict(frames)
        assert back["x"][0, 0, 0, 1] == 42.0 and x[0, 0, 0, 1] != 42.0
        assert np.array_equal(np.delete(back["x"].ravel(), 1), np.delete(x.ravel(), 1)) and np.array_equal(back["w"], w)

        # prints from Python, from fd 1 and from a child process go to stderr, never to the protocol
        _, _, _, (reply, frames) = conv(4)
        (y,) = result(reply, frames, ["y"], [("x", frames[1][1]), ("w", frames[2][1])])
        assert (y == 1.0).all() and y.dtype == np.float32
        log = host.log()
        for text in ("a print to sys.stdout", "a write to fd 1", "a child process on fd 1"):
            assert text in log, "%r not on stderr:\n%s" % (text, log)

        # a kernel that declines; an op declined in the handshake; an op neither given nor declined
        _, _, _, (reply, _) = conv(5)
        assert reply == {"type": "declined", "id": host.next_id, "reason": "mode 5 is too big"}, reply
        pg = pool_geometry((1, 2, 3, 3), (1, 1))
        px = uniform(1, 2, 3, 3)
        reply, _ = host.call("maxPool2d", pg, [("x", px)], [("y", (1, 2, 3, 3))])
        assert reply["type"] == "declined" and reply["reason"] == "max pooling is not written yet", reply
        reply, _ = host.call("maxPool2dBackward", pg, [("x", px), ("dy", px)], [("dx", (1, 2, 3, 3))])
        assert reply["type"] == "error" and "maxPool2dBackward" in reply["error"], reply

        # outputs aliasing inputs are reported as violations (the values still travel)
        reply, frames = host.call("avgPool2d", pg, [("x", px)], [("y", (1, 2, 3, 3))])
        assert reply["type"] == "result" and reply["violations"] == ["y is the same buffer as input x"], reply
        reply, frames = host.call("avgPool2dBackward", pg, [("x", px), ("dy", px + 1)], [("dx", (1, 2, 3, 3))])
        assert reply["violations"] == ["dx is the same buffer as input dy"], reply
        _, _, _, (reply, _) = conv(8, ws=(1, 1, 1, 1))
        assert reply["violations"] == ["y shares memory with input x"], reply

        # conv2dBackward: a dict result is fine, two values are an error
        g = conv_geometry((1, 1, 3, 3), (2, 1, 2, 2))
        x, w, dy = uniform(1, 1, 3, 3), uniform(2, 1, 2, 2), uniform(1, 2, 2, 2)
        inputs = [("x", x), ("w", w), ("dy", dy)]
        dx, dw, db = result(*host.call("conv2dBackward", g, inputs, [("dx", x.shape), ("dw", w.shape), ("db", (2,))]), ["dx", "dw", "db"], inputs)
        assert (dw == 1).all() and np.allclose(db, dy.sum(axis=(0, 2, 3)))
        g = conv_geometry((1, 1, 1, 3), (2, 1, 1, 2))
        reply, _ = host.call("conv2dBackward", g, [("x", uniform(1, 1, 1, 3)), ("w", uniform(2, 1, 1, 2)), ("dy", uniform(1, 2, 1, 2))],
                             [("dx", (1, 1, 1, 3)), ("dw", (2, 1, 1, 2)), ("db", (2,))])
        assert reply["type"] == "error" and "returned 2 values" in reply["error"], reply

        # time: an error during timing, a declined geometry during timing, an empty tensor
        g = conv_geometry((1, 1, 1, 2), (2, 1, 1, 1))
        reply, _ = host.call("conv2d", g, [("x", uniform(1, 1, 1, 2)), ("w", uniform(2, 1, 1, 1))], [("y", (1, 2, 1, 2))], kind="time", warmup=0, iterations=2, minMs=0)
        assert reply["type"] == "error" and reply["error"] == "ValueError: boom 1", reply
        g = conv_geometry((1, 1, 5, 2), (2, 1, 1, 1))
        reply, _ = host.call("conv2d", g, [("x", uniform(1, 1, 5, 2)), ("w", uniform(2, 1, 1, 1))], [("y", (1, 2, 5, 2))], kind="time", warmup=1, iterations=2, minMs=0)
        assert reply["type"] == "declined", reply
        g = conv_geometry((1, 1, 10, 2), (2, 1, 1, 1))
        reply, _ = host.call("conv2d", g, [("x", uniform(1, 1, 10, 2)), ("w", uniform(2, 1, 1, 1))], [("y", (1, 2, 10, 2))], kind="time", warmup=1, iterations=4, minMs=5)
        assert reply["type"] == "timed" and len(reply["samplesMs"]) >= 4 and sum(reply["samplesMs"]) >= 5 * 0.999, reply
        reply, frames = host.call("avgPool2dBackward", pg, [("x", px), ("dy", np.zeros((1, 2, 0, 3), np.float32))], [("dx", (1, 2, 0, 3))])
        assert reply["type"] == "result" and frames[0][1].shape == (1, 2, 0, 3), reply

        assert host.close() == 0, host.log()
    finally:
        os.unlink(path)


@check
def adapter_refuses_a_bad_name_before_the_handshake():
    fd, path = tempfile.mkstemp(suffix="_bad_name.py")
    with os.fdopen(fd, "w") as f:
        f.write("import sys\nsys.path.insert(0, %r)\nimport convbench_host as cb\ncb.serve(name='has space', conv2d=lambda *a: None)\n" % HERE)
    try:
        p = subprocess.run([sys.executable, path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        assert p.returncode != 0 and p.stdout == b"" and b"name must be" in p.stderr, p
    finally:
        os.unlink(path)


SUPPORTS_HOST = r'''
import sys
sys.path.insert(0, %(adapters)r)
import numpy as np
import convbench_host as cb

def avg_pool2d(x, g):
    if g.kernelHeight == 3:
        raise AssertionError("called on a geometry supports() declined")
    return np.zeros((g.batch, g.channels, g.outHeight, g.outWidth), dtype=np.float32)

def avg_pool2d_backward(x, dy, g):
    raise AssertionError("called although supports() declines the direction")

def supports(g, op):
    mode = g.inHeight
    if mode == 1:
        raise ValueError("supports blew up")
    if mode == 2:
        return False
    if mode == 3:
        return ""
    if mode == 4:
        return 1
    if mode == 5:
        raise cb.Declined("declined by raising")
    if op == "avgPool2dBackward":
        return "no average-pool gradient"
    return "3x3 windows are not supported" if g.kernelHeight == 3 else True

cb.serve(name="supports", avg_pool2d=avg_pool2d, avg_pool2d_backward=avg_pool2d_backward, supports=supports)
'''


def script(text):
    fd, path = tempfile.mkstemp(suffix="_host.py")
    with os.fdopen(fd, "w") as f:
        f.write(text % {"adapters": HERE})
    return path


@check
def adapter_supports():
    path = script(SUPPORTS_HOST)
    try:
        host = Host(path)
        assert host.hello["version"] == 2 and host.hello["ops"] == ["avgPool2d", "avgPool2dBackward"], host.hello

        def ask(xs, kernel, kind="supports", op="avgPool2d"):
            g = pool_geometry(xs, kernel)
            x = uniform(*xs)
            ys = (g["batch"], g["channels"], g["outHeight"], g["outWidth"])
            if kind == "supports":
                return host.send({"type": "supports", "op": op, "geometry": g})
            tensors = [("x", x)] + ([("dy", uniform(*ys))] if op.endswith("Backward") else [])
            outputs = [("y", ys)] if not op.endswith("Backward") else [("dx", xs)]
            return host.call(op, g, tensors, outputs, kind=kind, **({"warmup": 0, "iterations": 2, "minMs": 0} if kind == "time" else {}))

        # a supports request carries no tensors; True, a reason, a decline by op
        assert ask((1, 1, 8, 8), (2, 2)) == ({"type": "supported", "id": host.next_id}, []), "supported"
        reply, frames = ask((1, 1, 8, 8), (3, 3))
        assert reply == {"type": "declined", "id": host.next_id, "reason": "3x3 windows are not supported"} and not frames, reply
        reply, _ = ask((1, 1, 8, 8), (2, 2), op="avgPool2dBackward")
        assert reply["type"] == "declined" and reply["reason"] == "no average-pool gradient", reply
        reply, _ = ask((1, 1, 5, 5), (1, 1))
        assert reply["type"] == "declined" and reply["reason"] == "declined by raising", reply

        # a call or a timing supports() declines is declined again, and the kernel is never called
        for kind in ("call", "time"):
            reply, frames = ask((1, 1, 8, 8), (3, 3), kind=kind)
            assert reply["type"] == "declined" and "3x3" in reply["reason"] and not frames, reply
            reply, _ = ask((1, 1, 8, 8), (2, 2), kind=kind, op="avgPool2dBackward")
            assert reply["type"] == "declined", reply
        reply, frames = ask((1, 1, 8, 8), (2, 2), kind="call")
        assert reply["type"] == "result", reply

        # a supports() that raises or answers something else is an error, whatever the request
        for kind in ("supports", "call"):
            reply, _ = ask((1, 1, 1, 4), (1, 1), kind=kind)
            assert reply["type"] == "error" and reply["error"] == "supports(): ValueError: supports blew up", reply
            assert reply["stack"] and reply["stack"][0].endswith(" in supports"), reply
        for xs, shown in (((1, 1, 2, 4), "False"), ((1, 1, 3, 4), "''"), ((1, 1, 4, 4), "1")):
            reply, _ = ask(xs, (1, 1))
            assert reply["type"] == "error" and reply["error"] == "supports(): returned %s; it must return True or a non-empty reason string" % shown, reply
        assert host.close() == 0, host.log()
    finally:
        os.unlink(path)


@check
def adapter_refuses_a_near_miss_keyword():
    for keyword, suggestion in (("maxpool2d", "max_pool2d"), ("avgPool2dBackward", "avg_pool2d_backward"), ("conv2d_backwards", "conv2d_backward")):
        path = script("import sys\nsys.path.insert(0, %(adapters)r)\nimport convbench_host as cb\ncb.serve(name='near', " + keyword + "=lambda *a: None)\n")
        try:
            p = subprocess.run([sys.executable, path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            want = '"%s" is not a kernel of serve(); did you mean "%s"?' % (keyword, suggestion)
            assert p.returncode != 0 and p.stdout == b"" and want.encode() in p.stderr, (keyword, p)
        finally:
            os.unlink(path)


def main():
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print("ok    %s" % fn.__name__)
        except Exception:
            failed += 1
            print("FAIL  %s\n%s" % (fn.__name__, traceback.format_exc()))
    print("%d of %d checks passed" % (len(CHECKS) - failed, len(CHECKS)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
