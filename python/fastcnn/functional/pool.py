"""Pooling: max / average over windows (1-D and 2-D) and global average, with their gradients.

Semantics follow torch.nn.functional: stride None means kernel_size; explicit padding is at most
half the kernel on each side; max pooling pads with -inf and propagates NaN; ceil_mode keeps a last
window only if it starts inside the input or its leading padding; avg pooling with count_include_pad
divides by the window clipped to the padded input, else by the number of input elements in it.
padding may also be 'valid' or 'same' (ceil(L/stride) outputs, the odd extra pad at the end).
1-D pooling runs through the 2-D kernels on (N, C, 1, L).
Every op takes a keyword-only out= (forward: an array for y; backward: a 1-tuple (dx,)) to write
into instead of allocating: float32, C-contiguous, writable, the result's shape, not overlapping an input.
"""
from __future__ import annotations

import numpy as np

from . import _validate as V

__all__ = [
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "max_pool1d", "max_pool1d_backward", "avg_pool1d", "avg_pool1d_backward",
    "global_avg_pool2d", "global_avg_pool2d_backward",
]


def _flag(v, fn: str, name: str) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument '{name}' got {v!r} ({type(v).__name__}), needed a bool")
    return bool(v)


def _output_size(size: int, k: int, s: int, before: int, after: int, ceil_mode: bool) -> int:
    out = (size + before + after - k + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and out > 0 and (out - 1) * s >= size + before:
        out -= 1  # the last window must start inside the input or its leading padding
    return out


def _geometry(fn, sizes, kernel_size, stride, padding, ceil_mode):
    """(kernel, stride, [(before, after)] per dim, output sizes) for spatial input sizes."""
    n = len(sizes)
    k = V.tuple_of(kernel_size, n, fn, "kernel_size", minimum=1)
    s = k if stride is None else V.tuple_of(stride, n, fn, "stride", minimum=1)
    pads = V.padding(padding, fn, sizes, k, s, modes=("valid", "same"))
    half = tuple(kk // 2 for kk in k)
    if any(a > h or b > h for (a, b), h in zip(pads, half)):
        raise V.error(fn, "padding", repr(padding), f"at most half the kernel size {half} on each side")
    ceil_mode = _flag(ceil_mode, fn, "ceil_mode")
    out = tuple(_output_size(size, kk, ss, a, b, ceil_mode) for size, kk, ss, (a, b) in zip(sizes, k, s, pads))
    if any(o < 1 for o in out):
        padded = tuple(size + a + b for size, (a, b) in zip(sizes, pads))
        raise V.error(fn, "kernel_size", repr(kernel_size),
                      f"a window that fits the padded input of size {padded} (output would be {out})")
    return k, s, pads, out, ceil_mode


def _pool2d_args(fn, x, kernel_size, stride, padding, ceil_mode):
    x = V.array(x, fn, "x", ndim=4, layout="(N, C, H, W)")
    k, s, pads, out, ceil_mode = _geometry(fn, x.shape[2:], kernel_size, stride, padding, ceil_mode)
    flat_pads = (pads[0][0], pads[0][1], pads[1][0], pads[1][1])
    return x, (x.shape[0], x.shape[1]) + out, (k, s, flat_pads, ceil_mode)


def _pool1d_args(fn, x, kernel_size, stride, padding, ceil_mode):
    x = V.array(x, fn, "x", ndim=3, layout="(N, C, L)")
    k, s, pads, out, ceil_mode = _geometry(fn, x.shape[2:], kernel_size, stride, padding, ceil_mode)
    geom = ((1, k[0]), (1, s[0]), (0, 0, pads[0][0], pads[0][1]), ceil_mode)
    return x, (x.shape[0], x.shape[1]) + out, geom


def _as_2d(a):
    """(N, C, L) as (N, C, 1, L): a view, host or device."""
    return a.reshape((a.shape[0], a.shape[1], 1, a.shape[2]))



def _backward_arrays(fn, dy, x, yshape, forward: str, out):
    """dy checked against the forward's output shape, and dx (out's entry or a new array)."""
    dy = V.array(dy, fn, "dy")
    V.check_shape(dy, fn, "dy", yshape, f"the output shape of {forward}")
    dx, = V.outputs(out, (x.shape,), fn, (("dy", dy), ("x", x)))
    return dy, dx

def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, *, out=None) -> np.ndarray:
    """x (N, C, H, W) -> (N, C, P, Q): the maximum of each window."""
    fn = "max_pool2d"
    K = V.kernels(fn, ("x", x), ("out", out))
    x, yshape, geom = _pool2d_args(fn, x, kernel_size, stride, padding, ceil_mode)
    y = V.output(out, yshape, fn, (("x", x),))
    K.max_pool2d_forward(x, y, *geom)
    return y


def max_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, ceil_mode=False, *, out=None) -> tuple:
    """(dx,): dy routed to each window's first maximum (recomputed from x); overlaps add up."""
    fn = "max_pool2d_backward"
    K = V.kernels(fn, ("x", x), ("dy", dy))
    x, yshape, geom = _pool2d_args(fn, x, kernel_size, stride, padding, ceil_mode)
    dy, dx = _backward_arrays(fn, dy, x, yshape, "max_pool2d", out)
    K.max_pool2d_backward(dy, x, dx, *geom)
    return (dx,)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, *,
               out=None) -> np.ndarray:
    """x (N, C, H, W) -> (N, C, P, Q): the mean of each window."""
    fn = "avg_pool2d"
    K = V.kernels(fn, ("x", x), ("out", out))
    x, yshape, geom = _pool2d_args(fn, x, kernel_size, stride, padding, ceil_mode)
    y = V.output(out, yshape, fn, (("x", x),))
    K.avg_pool2d_forward(x, y, *geom, _flag(count_include_pad, fn, "count_include_pad"))
    return y


def avg_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, *, out=None) -> tuple:
    """(dx,) of avg_pool2d."""
    fn = "avg_pool2d_backward"
    K = V.kernels(fn, ("x", x), ("dy", dy))
    x, yshape, geom = _pool2d_args(fn, x, kernel_size, stride, padding, ceil_mode)
    dy, dx = _backward_arrays(fn, dy, x, yshape, "avg_pool2d", out)
    K.avg_pool2d_backward(dy, dx, *geom, _flag(count_include_pad, fn, "count_include_pad"))
    return (dx,)


def max_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, *, out=None) -> np.ndarray:
    """x (N, C, L) -> (N, C, L_out): the maximum of each window."""
    fn = "max_pool1d"
    K = V.kernels(fn, ("x", x), ("out", out))
    x, yshape, geom = _pool1d_args(fn, x, kernel_size, stride, padding, ceil_mode)
    y = V.output(out, yshape, fn, (("x", x),))
    K.max_pool2d_forward(_as_2d(x), _as_2d(y), *geom)
    return y


def max_pool1d_backward(dy, x, kernel_size, stride=None, padding=0, ceil_mode=False, *, out=None) -> tuple:
    """(dx,) of max_pool1d."""
    fn = "max_pool1d_backward"
    K = V.kernels(fn, ("x", x), ("dy", dy))
    x, yshape, geom = _pool1d_args(fn, x, kernel_size, stride, padding, ceil_mode)
    dy, dx = _backward_arrays(fn, dy, x, yshape, "max_pool1d", out)
    K.max_pool2d_backward(_as_2d(dy), _as_2d(x), _as_2d(dx), *geom)
    return (dx,)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, *,
               out=None) -> np.ndarray:
    """x (N, C, L) -> (N, C, L_out): the mean of each window."""
    fn = "avg_pool1d"
    K = V.kernels(fn, ("x", x), ("out", out))
    x, yshape, geom = _pool1d_args(fn, x, kernel_size, stride, padding, ceil_mode)
    y = V.output(out, yshape, fn, (("x", x),))
    K.avg_pool2d_forward(_as_2d(x), _as_2d(y), *geom, _flag(count_include_pad, fn, "count_include_pad"))
    return y


def avg_pool1d_backward(dy, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, *, out=None) -> tuple:
    """(dx,) of avg_pool1d."""
    fn = "avg_pool1d_backward"
    K = V.kernels(fn, ("x", x), ("dy", dy))
    x, yshape, geom = _pool1d_args(fn, x, kernel_size, stride, padding, ceil_mode)
    dy, dx = _backward_arrays(fn, dy, x, yshape, "avg_pool1d", out)
    K.avg_pool2d_backward(_as_2d(dy), _as_2d(dx), *geom, _flag(count_include_pad, fn, "count_include_pad"))
    return (dx,)


def _global_x(fn, x):
    x = V.array(x, fn, "x", ndim=4, layout="(N, C, H, W)")
    if x.shape[2] * x.shape[3] == 0:
        raise V.error(fn, "x", f"shape {V.shape_str(x.shape)}", "H >= 1 and W >= 1")
    return x


def global_avg_pool2d(x, *, out=None) -> np.ndarray:
    """x (N, C, H, W) -> (N, C): the mean of each plane."""
    fn = "global_avg_pool2d"
    K = V.kernels(fn, ("x", x), ("out", out))
    x = _global_x(fn, x)
    y = V.output(out, x.shape[:2], fn, (("x", x),))
    K.global_avg_pool2d_forward(x, y)
    return y


def global_avg_pool2d_backward(dy, x, *, out=None) -> tuple:
    """(dx,): dy / (H*W) spread over each plane."""
    fn = "global_avg_pool2d_backward"
    K = V.kernels(fn, ("x", x), ("dy", dy))
    x = _global_x(fn, x)
    dy, dx = _backward_arrays(fn, dy, x, x.shape[:2], "global_avg_pool2d", out)
    K.global_avg_pool2d_backward(dy, dx)
    return (dx,)
