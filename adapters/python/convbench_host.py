"""convbench host adapter for Python: write plain numpy functions, call serve().

    import convbench_host as cb

    def conv2d(x, w, bias, g):          # float32 arrays; bias is None when the case has none
        if g.groups != 1:
            raise cb.Declined("groups > 1 is not supported")
        ...
        return y                        # shape (g.batch, g.outChannels, g.outHeight, g.outWidth)

    def supports(g, op):                # optional: asked before each computation is sent
        return "groups > 1 is not supported" if op.startswith("conv2d") and g.groups != 1 else True

    cb.serve(name="mine", conv2d=conv2d, supports=supports, declines={"maxPool2d": "not written yet"})

Run it with `convbench --impl "cmd:python3 kernels/mine.py"`. This file speaks protocol version 2
of docs/host-protocol.md on stdin/stdout; it needs only the standard library and numpy (Python 3.9+).

Kernels (all optional; give at least one):

    conv2d(x, w, bias_or_None, g) -> y
    conv2d_backward(x, w, dy, g) -> (dx, dw, db)        # a tuple/list, or a dict with those keys
    max_pool2d(x, g) -> y            avg_pool2d(x, g) -> y
    max_pool2d_backward(x, dy, g) -> dx
    avg_pool2d_backward(x, dy, g) -> dx
    max_pool2d_with_indices(x, g) -> (y, indices)      # or a dict; see below

`max_pool2d_with_indices` gives, per output, the index of its window's maximum (the tap the
gradient goes to: the first maximum in row-major window order), ONNX MaxPool's `Indices` in
`g.storageOrder`: 0, the flat offset into the NCHW x, ((n*C + c)*H + h)*W + w; 1, column-major
within the plane, ((n*C + c)*W + w)*H + h. An integer array is fine (sent as float32, exact: x has
at most 2^24 elements).

Every input is a fresh, writable, C-contiguous float32 array in the host's layout (NCHW: weights
OIHW; NHWC: weights HWIO). `g` is the geometry record of harness/geometry.ts: a `Geometry`, a dict
whose camelCase fields are also attributes (`g.strideHeight == g["strideHeight"]`). Output size and
explicit pads are already resolved (padTop, padLeft, padBottom, padRight); ceil mode shows only in
outHeight / outWidth.

A result must be a numpy array of a real dtype with exactly the expected shape; it is sent as
float32. A kernel that does not handle a geometry raises `Declined("reason")`; any other exception
is reported as an error with its innermost stack lines. Whole ops left out on purpose go in
`declines` ({op: reason}, op as `maxPool2d` or `max_pool2d`).

`supports(g, op)`, if given, says up front whether a computation is taken: `op` is the contract op
(`"conv2d"`, `"conv2dBackward"`, `"maxPool2d"`, ...), `g` the geometry its kernel would get. It
returns True, or a non-empty reason string (or raises Declined): reported "n/a for <name>:
<reason>", and the kernel is then neither called nor timed. A supports() that raises another
exception, returns anything else, or hangs is the kernel's error. A keyword close to a kernel's
name (`maxpool2d=`, `avg_pool2d_backwards=`) is refused with a suggestion.

serve() first moves the real stdout to a private file descriptor and points fd 1 (and sys.stdout)
at stderr, so prints from a kernel, or from C code under it, land in the harness's stderr log and
never in the protocol; likewise stdin is replaced by /dev/null. Print nothing to stdout before
serve() is called: that would break the handshake. serve() returns when the harness closes stdin.
"""

import json
import os
import re
import signal
import sys
import threading
import time
import traceback

import numpy as np

__all__ = ["serve", "Declined", "Geometry"]

PROTOCOL = "convbench-host"
VERSION = 2
MAX_HEADER_BYTES = 1 << 20
MAX_STACK_LINES = 8
# A `time` request goes on until both `iterations` and `minMs` are met; this bounds the number of
# samples so the reply header stays far below the harness's 1 MiB header limit for very fast kernels.
MAX_SAMPLES = 20000

_NAME = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")
_THIS_FILE = os.path.normcase(os.path.abspath(__file__))
_TooHardError = getattr(getattr(np, "exceptions", np), "TooHardError", ArithmeticError)

# contract op -> (serve() keyword, input names, output names)
_OPS = {
    "conv2d": ("conv2d", ("x", "w", "bias"), ("y",)),
    "conv2dBackward": ("conv2d_backward", ("x", "w", "dy"), ("dx", "dw", "db")),
    "maxPool2d": ("max_pool2d", ("x",), ("y",)),
    "maxPool2dBackward": ("max_pool2d_backward", ("x", "dy"), ("dx",)),
    "maxPool2dWithIndices": ("max_pool2d_with_indices", ("x",), ("y", "indices")),
    "avgPool2d": ("avg_pool2d", ("x",), ("y",)),
    "avgPool2dBackward": ("avg_pool2d_backward", ("x", "dy"), ("dx",)),
}
_BY_KEYWORD = {kw: op for op, (kw, _, _) in _OPS.items()}


def _distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            row.append(min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = row
    return prev[-1]


def _near_miss(key):
    """The serve() keyword of a kernel that `key` nearly names (case, `_`, a letter or two), or None."""
    flat = key.lower().replace("_", "")
    best = None
    for kw in _BY_KEYWORD:
        d = _distance(flat, kw.replace("_", ""))
        if d <= (2 if len(kw) > 6 else 1) and (best is None or d < best[0]):
            best = (d, kw)
    return best and best[1]


class Declined(Exception):
    """Raise from a kernel to decline a geometry: reported as "n/a for <name>: <reason>"."""

    def __init__(self, reason="declined"):
        super().__init__(reason)
        self.reason = str(reason) or "declined"


class Geometry(dict):
    """The request's geometry record: a dict whose fields can also be read as attributes."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError("geometry has no field %r (fields: %s)" % (key, ", ".join(sorted(self)))) from None


class _ProtocolError(Exception):
    """The harness sent something this host cannot read: logged to stderr, then the host exits."""


# ---------------------------------------------------------------------------------------------
# Transport


def _claim_stdio():
    """Returns (reader, writer) over private copies of fds 0 and 1; fd 1 -> stderr, fd 0 -> /dev/null."""
    for stream in (sys.stdout, sys.__stdout__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    out_fd = os.dup(1)
    in_fd = os.dup(0)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    try:
        sys.stdin = open(os.devnull, "r")
    except OSError:
        pass
    reader = os.fdopen(in_fd, "rb", buffering=1 << 16)
    writer = os.fdopen(out_fd, "wb", buffering=1 << 16)
    return reader, writer


def _read_exact(reader, n):
    chunks = []
    left = n
    while left > 0:
        chunk = reader.read(left)
        if not chunk:
            raise EOFError("stdin closed in the middle of a message (%d of %d frame bytes read)" % (n - left, n))
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read_message(reader):
    """The next (header, [(name, array)]), or None at a clean end of stdin."""
    line = reader.readline(MAX_HEADER_BYTES + 1)
    if not line:
        return None
    if not line.endswith(b"\n"):
        if len(line) > MAX_HEADER_BYTES:
            raise _ProtocolError("a header line longer than %d bytes" % MAX_HEADER_BYTES)
        raise EOFError("stdin closed in the middle of a header line")
    try:
        header = json.loads(line.decode("utf-8"))
    except ValueError:
        raise _ProtocolError("not a JSON header line: %r" % line[:120]) from None
    if not isinstance(header, dict):
        raise _ProtocolError("a header that is not a JSON object: %r" % line[:120])
    tensors = []
    for spec in header.get("tensors") or []:
        name, shape = _spec(spec)
        count = 1
        for d in shape:
            count *= d
        data = _read_exact(reader, 4 * count) if count else b""
        tensors.append((name, np.frombuffer(data, dtype="<f4").reshape(shape).copy()))
    return header, tensors


def _spec(spec):
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(spec.get("shape"), list):
        raise _ProtocolError("a tensor spec that is not {name, shape}: %r" % (spec,))
    shape = spec["shape"]
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise _ProtocolError("tensor %r has a shape that is not a list of integers >= 0: %r" % (spec["name"], shape))
    return spec["name"], tuple(shape)


def _send(writer, header, tensors=()):
    """One message: the header (with a `tensors` list when there are frames), then the frames."""
    frames = []
    if tensors:
        header = dict(header)
        header["tensors"] = []
        for name, array in tensors:
            a = np.ascontiguousarray(array, dtype="<f4")
            header["tensors"].append({"name": name, "shape": [int(d) for d in a.shape]})
            frames.append(a)
    writer.write(json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n")
    for a in frames:
        if a.size:
            writer.write(a.reshape(-1).view(np.uint8).data)
    writer.flush()


# ---------------------------------------------------------------------------------------------
# Calling kernels


def _stack(exc):
    """Up to 8 `file:line in func` lines, innermost first, without this adapter's own frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.normcase(os.path.abspath(f.filename)) != _THIS_FILE]
    lines = []
    cwd = os.getcwd()
    for f in reversed(frames[-MAX_STACK_LINES:]):
        path = f.filename
        try:
            rel = os.path.relpath(path, cwd)
            if not rel.startswith(".."):
                path = rel
        except ValueError:  # another drive on Windows
            pass
        lines.append("%s:%s in %s" % (path, f.lineno, f.name))
    return lines


def _error_text(exc):
    message = str(exc)
    text = "%s: %s" % (type(exc).__name__, message) if message else type(exc).__name__
    return text[:4000]


def _arguments(op, tensors, geometry):
    """The kernel's positional arguments (bias None when absent) and the inputs in request order."""
    _, names, _ = _OPS[op]
    given = dict(tensors)
    missing = [n for n in names if n not in given and n != "bias"]
    if missing:
        raise _RequestError("the %s request has no tensor %s" % (op, ", ".join(repr(n) for n in missing)))
    args = [given.get(n) for n in names]
    return args + [geometry]


class _RequestError(Exception):
    """A request this host cannot serve (not a kernel failure): replied to as an error."""


class _SupportsError(Exception):
    """supports() raised or answered something else than True or a reason: (message, stack lines)."""


def _collect(op, result, expected):
    """The kernel's result as [(name, array)] in `outputs` order, or raises _RequestError naming the fault."""
    _, _, names = _OPS[op]
    if len(names) == 1:
        values = [result]
    elif isinstance(result, dict):
        absent = [n for n in names if n not in result]
        if absent:
            raise _RequestError("%s returned a dict without %s; expected keys %s" % (op, ", ".join(absent), ", ".join(names)))
        values = [result[n] for n in names]
    elif isinstance(result, (tuple, list)):
        if len(result) != len(names):
            raise _RequestError("%s returned %d values; expected %d: (%s)" % (op, len(result), len(names), ", ".join(names)))
        values = list(result)
    else:
        raise _RequestError("%s returned %s; expected a tuple (%s) of numpy arrays" % (op, type(result).__name__, ", ".join(names)))
    shapes = {}
    for spec in expected:
        name, shape = _spec(spec)
        shapes[name] = shape
    out = []
    for name, value in zip(names, values):
        if not isinstance(value, np.ndarray):
            raise _RequestError("%s returned %s for %s; expected a numpy array" % (op, type(value).__name__, name))
        if value.dtype.kind not in "fiub":
            raise _RequestError("%s returned %s with dtype %s; expected a real (float) array" % (op, name, value.dtype))
        want = shapes.get(name)
        if want is not None and tuple(value.shape) != want:
            raise _RequestError("%s returned %s with shape %s; expected shape %s" % (op, name, _fmt(value.shape), _fmt(want)))
        out.append((name, value))
    return out


def _fmt(shape):
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def _aliasing(outputs, inputs):
    """The contract breaches visible here: an output that is, or overlaps, an input's buffer."""
    found = []
    for oname, o in outputs:
        for iname, i in inputs:
            if i is None or not np.may_share_memory(o, i):
                continue
            try:
                shared = np.shares_memory(o, i, max_work=1 << 20)
            except _TooHardError:
                shared = True  # too costly to decide exactly: may_share_memory already said the bounds overlap
            if not shared:
                continue
            same = o is i or (o.__array_interface__["data"][0] == i.__array_interface__["data"][0] and o.shape == i.shape and o.strides == i.strides)
            found.append("%s is the same buffer as input %s" % (oname, iname) if same else "%s shares memory with input %s" % (oname, iname))
    return found


class _Host:
    def __init__(self, name, layout, kernels, declines, supports, writer, threads=None):
        self.name = name
        self.threads = threads
        self.layout = layout
        self.kernels = kernels  # contract op -> function
        self.declines = declines
        self.supports = supports
        self.writer = writer

    def hello(self):
        header = {"protocol": PROTOCOL, "version": VERSION, "name": self.name, "layout": self.layout, "ops": [op for op in _OPS if op in self.kernels]}
        if self.declines:
            header["declines"] = self.declines
        if self.threads is not None:
            header["threads"] = self.threads
        _send(self.writer, header)

    def handle(self, header, tensors):
        rid = header.get("id")
        kind = header.get("type")
        op = header.get("op")
        try:
            if kind not in ("call", "time", "supports"):
                raise _RequestError("unknown request type %r" % (kind,))
            if op not in _OPS:
                raise _RequestError("unknown op %r" % (op,))
            kernel = self.kernels.get(op)
            if kernel is None:
                if op in self.declines:
                    _send(self.writer, {"type": "declined", "id": rid, "reason": self.declines[op]})
                    return
                raise _RequestError("%s does not implement %s" % (self.name, op))
            geometry = header.get("geometry")
            if not isinstance(geometry, dict):
                raise _RequestError("the request has no geometry object")
            # Asked before a call (protocol 2), and again before every call and timing.
            reason = self.refusal(Geometry(geometry), op)
            if reason is not None or kind == "supports":
                _send(self.writer, {"type": "declined", "id": rid, "reason": reason} if reason is not None else {"type": "supported", "id": rid})
                return
            args = _arguments(op, tensors, Geometry(geometry))
            if kind == "call":
                self.call(rid, op, kernel, args, tensors, header.get("outputs") or [])
            else:
                self.time(rid, kernel, args, header)
        except Declined as d:
            _send(self.writer, {"type": "declined", "id": rid, "reason": d.reason[:4000]})
        except _RequestError as e:
            _send(self.writer, {"type": "error", "id": rid, "error": str(e)[:4000], "stack": []})
        except _SupportsError as e:
            _send(self.writer, {"type": "error", "id": rid, "error": e.args[0][:4000], "stack": e.args[1]})
        except Exception as e:  # a kernel's own failure
            _send(self.writer, {"type": "error", "id": rid, "error": _error_text(e), "stack": _stack(e)})

    def refusal(self, geometry, op):
        """None when supports() takes the computation, else its reason; raises _SupportsError when it misbehaves."""
        if self.supports is None:
            return None
        try:
            answer = self.supports(geometry, op)
        except Declined as d:
            return d.reason[:4000]
        except Exception as e:
            raise _SupportsError("supports(): %s" % _error_text(e), _stack(e)) from None
        if isinstance(answer, (bool, np.bool_)) and answer:
            return None
        if isinstance(answer, str) and answer:
            return answer[:4000]
        plain = answer is None or isinstance(answer, (bool, np.bool_, int, float, str))
        shown = repr(answer)[:80] if plain else "a %s" % type(answer).__name__
        raise _SupportsError("supports(): returned %s; it must return True or a non-empty reason string" % shown, [])

    def call(self, rid, op, kernel, args, tensors, expected):
        start = time.perf_counter()
        result = kernel(*args)
        elapsed = time.perf_counter() - start
        outputs = _collect(op, result, expected)
        reply = {"type": "result", "id": rid, "kernelMs": elapsed * 1000.0}
        violations = _aliasing(outputs, tensors)
        if violations:
            reply["violations"] = violations
        # The inputs are the very arrays the kernel received: a kernel that wrote into one is caught.
        _send(self.writer, reply, outputs + list(tensors))

    def time(self, rid, kernel, args, header):
        warmup = _count(header, "warmup", 0)
        iterations = max(_count(header, "iterations", 1), 1)
        min_ms = header.get("minMs", 0)
        if not isinstance(min_ms, (int, float)) or isinstance(min_ms, bool) or not min_ms >= 0:
            raise _RequestError("minMs must be a number >= 0, got %r" % (min_ms,))
        keep = None
        for _ in range(warmup):
            keep = kernel(*args)
        samples = []
        total = 0.0
        while (len(samples) < iterations or total < min_ms) and len(samples) < max(iterations, MAX_SAMPLES):
            start = time.perf_counter()
            keep = kernel(*args)  # the previous result stays alive until this call returns
            ms = (time.perf_counter() - start) * 1000.0
            samples.append(round(ms, 6))
            total += ms
        del keep
        _send(self.writer, {"type": "timed", "id": rid, "samplesMs": samples})


def _count(header, key, default):
    v = header.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise _RequestError("%s must be an integer >= 0, got %r" % (key, v))
    return v


# ---------------------------------------------------------------------------------------------


def _declines(declines, kernels):
    out = {}
    for key, reason in (declines or {}).items():
        op = key if key in _OPS else _BY_KEYWORD.get(key)
        if op is None:
            raise ValueError("declines names %r, not one of %s" % (key, ", ".join(_OPS)))
        if op in kernels:
            raise ValueError("%s is both given and declined" % op)
        out[op] = str(reason) or "declined"
    return out


def _watch_parent():
    """If the harness dies without closing stdin (SIGKILL), a kernel stuck in a loop would keep this
    host alive: a daemon thread, which runs beside the kernel, ends the host's process group."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        try:
            if os.getpgrp() == os.getpid():
                os.killpg(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="convbench-parent-watch", daemon=True).start()


def serve(name, layout="NCHW", conv2d=None, conv2d_backward=None, max_pool2d=None, max_pool2d_backward=None,
          avg_pool2d=None, avg_pool2d_backward=None, declines=None, supports=None, threads=None,
          max_pool2d_with_indices=None, **unknown):
    """Serve the given kernels to the harness over stdin/stdout until stdin closes."""
    for key in unknown:
        near = _near_miss(key)
        if near:
            raise TypeError('"%s" is not a kernel of serve(); did you mean "%s"?' % (key, near))
        raise TypeError("serve() got an unexpected keyword argument %r" % (key,))
    if supports is not None and not callable(supports):
        raise TypeError("supports must be a function, got %s" % type(supports).__name__)
    given = {"conv2d": conv2d, "conv2d_backward": conv2d_backward, "max_pool2d": max_pool2d,
             "max_pool2d_backward": max_pool2d_backward, "avg_pool2d": avg_pool2d, "avg_pool2d_backward": avg_pool2d_backward,
             "max_pool2d_with_indices": max_pool2d_with_indices}
    kernels = {}
    for keyword, fn in given.items():
        if fn is not None:
            if not callable(fn):
                raise TypeError("%s must be a function, got %s" % (keyword, type(fn).__name__))
            kernels[_BY_KEYWORD[keyword]] = fn
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError("name must be 1-64 letters, digits, '.', '_', '-' or '+', got %r" % (name,))
    if layout not in ("NCHW", "NHWC"):
        raise ValueError("layout must be 'NCHW' or 'NHWC', got %r" % (layout,))
    if not kernels:
        raise ValueError("serve() needs at least one kernel")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 1024):
        raise ValueError("threads must be an integer from 1 to 1024 (the threads the kernels compute on), got %r" % (threads,))
    declined = _declines(declines, kernels)

    reader, writer = _claim_stdio()
    _watch_parent()
    host = _Host(name, layout, kernels, declined, supports, writer, threads)
    try:
        host.hello()
        while True:
            message = _read_message(reader)
            if message is None:
                return
            host.handle(*message)
    except EOFError as e:
        sys.stderr.write("convbench_host: %s\n" % e)
    except _ProtocolError as e:
        sys.stderr.write("convbench_host: protocol error: %s\n" % e)
        sys.stderr.flush()
        sys.exit(2)
    except (BrokenPipeError, KeyboardInterrupt):
        pass  # the harness went away
    finally:
        for stream in (writer, reader):
            try:
                stream.close()
            except OSError:
                pass
