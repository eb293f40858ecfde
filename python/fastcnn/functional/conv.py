"""Convolutions, as torch.nn.functional: conv1d, conv2d, conv_transpose2d, and their backward passes.

Shapes: x is (N, C, H, W), w is (K, C/groups, R, S), y is (N, K, P, Q) (conv1d: no H, R, P).
conv2d/conv1d padding: an int, one int per spatial dim, one (before, after) pair per dim (conv1d:
also a bare (left, right) pair), or 'valid' | 'same' | 'full' ('same' gives ceil(size/stride)
outputs with the odd extra padding at the bottom/right, as TensorFlow, for any stride).
conv_transpose2d: w is (C, K/groups, R, S); padding is an int or a pair; output sizes
(H-1)*stride - 2*padding + dilation*(R-1) + output_padding + 1, output_padding < stride or < dilation.
Every conv1d runs as a conv2d with H = 1; conv_transpose2d runs on conv2d's backward-data kernel.
Device arrays (fastcnn.cuda) run on the CUDA kernels of the same names and give device arrays.
"""
from __future__ import annotations

import numpy as np

from . import _validate as v

__all__ = ["conv1d", "conv2d", "conv_transpose2d", "conv1d_backward", "conv2d_backward",
           "conv_transpose2d_backward"]


def _conv_geometry(fn, x, w, b, stride, padding, dilation, groups):
    """Checks a convolution over x.ndim - 2 spatial dims.

    Returns (stride, pads, dilation, groups, output spatial sizes), pads as (before, after) pairs.
    """
    nd = x.ndim - 2
    stride = v.tuple_of(stride, nd, fn, "stride", 1)
    dilation = v.tuple_of(dilation, nd, fn, "dilation", 1)
    groups = v.integer(groups, fn, "groups", 1)
    C, K, Cw = x.shape[1], w.shape[0], w.shape[1]
    if C % groups:
        raise v.error(fn, "groups", repr(groups), f"a divisor of the {C} input channels of x")
    if Cw * groups != C:
        raise v.error(fn, "w", f"shape {v.shape_str(w.shape)} ({Cw} input channels per filter)",
                      f"w.shape[1] * groups == {C}, the input channels of x")
    if K % groups:
        raise v.error(fn, "groups", repr(groups), f"a divisor of the {K} filters of w")
    ksize = w.shape[2:]
    if min(ksize) < 1:
        raise v.error(fn, "w", f"shape {v.shape_str(w.shape)}", "a kernel of size >= 1")
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, ksize)]
    pads = v.padding(padding, fn, x.shape[2:], spans, stride)
    padded = [size + lo + hi for size, (lo, hi) in zip(x.shape[2:], pads)]
    if any(p < s for p, s in zip(padded, spans)):
        raise v.error(fn, "w", f"kernel {v.shape_str(ksize)} spanning {v.shape_str(spans)} with dilation "
                      f"{dilation}", f"at most the padded input size {v.shape_str(padded)} (input "
                      f"{v.shape_str(x.shape[2:])}, padding {pads})")
    if b is not None:
        v.check_shape(b, fn, "b", (K,), "one bias per filter")
    out = tuple((p - s) // st + 1 for p, s, st in zip(padded, spans, stride))
    return stride, pads, dilation, groups, out


def _quad(pads):
    """2-D (before, after) pairs as the kernels' (top, bottom, left, right)."""
    return (pads[0][0], pads[0][1], pads[1][0], pads[1][1])


def _unsqueeze(a):
    """(N, C, L) as (N, C, 1, L): a view, host or device."""
    return None if a is None else a.reshape((a.shape[0], a.shape[1], 1, a.shape[2]))


def _conv2d_arrays(fn, x, w, b):
    return (v.array(x, fn, "x", 4, "(N, C, H, W)"), v.array(w, fn, "w", 4, "(K, C/groups, R, S)"),
            v.optional_array(b, fn, "b", 1, "(K,)"))


def _conv1d_arrays(fn, x, w, b):
    return (v.array(x, fn, "x", 3, "(N, C, L)"), v.array(w, fn, "w", 3, "(K, C/groups, R)"),
            v.optional_array(b, fn, "b", 1, "(K,)"))


def _need_dx(need_dx, fn):
    if not isinstance(need_dx, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument 'need_dx' got {need_dx!r} ({type(need_dx).__name__}), needed a bool")
    return bool(need_dx)


def _backward(K, fn, dy4, x4, w4, b, stride, quad, dilation, groups, need_dx, out):
    """(dx, dw, db) of a 2-D convolution (arrays already checked) on kernel module K; dx is None
    unless need_dx.

    out: (dx, dw, db) arrays-or-None to write into, with the 4-D shapes of x4 and w4.
    """
    dx, dw, db = v.outputs(out, (x4.shape if need_dx else None, w4.shape, None if b is None else b.shape),
                           fn, (("dy", dy4), ("x", x4), ("w", w4), ("b", b)))
    if dx is not None and dx.size:
        K.conv2d_backward_data(dy4, w4, dx, stride, quad, dilation, groups)
    if dw.size or (db is not None and db.size):
        K.conv2d_backward_weight(dy4, x4, dw, db, stride, quad, dilation, groups)
    return dx, dw, db


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, *, out=None):
    """2-D convolution (cross-correlation): x (N, C, H, W), w (K, C/groups, R, S) -> (N, K, P, Q).

    out: a float32 C-contiguous (N, K, P, Q) array to write y into (returned), not overlapping x, w, b.
    """
    fn = "conv2d"
    K = v.kernels(fn, ("x", x), ("w", w), ("b", b), ("out", out))
    x, w, b = _conv2d_arrays(fn, x, w, b)
    stride, pads, dilation, groups, (P, Q) = _conv_geometry(fn, x, w, b, stride, padding, dilation, groups)
    y = v.output(out, (x.shape[0], w.shape[0], P, Q), fn, (("x", x), ("w", w), ("b", b)))
    if y.size:
        K.conv2d_forward(x, w, b, y, stride, _quad(pads), dilation, groups)
    return y


def conv2d_backward(dy, x, w, b=None, stride=1, padding=0, dilation=1, groups=1, need_dx=True, *, out=None):
    """Gradients (dx, dw, db) of conv2d for the output gradient dy; db is None when b is None.

    need_dx=False skips the input gradient (dx is None): a network's first layer never needs it.
    out: (dx, dw, db), each an array to write that gradient into or None (a new one); entries for
    gradients not computed are ignored.
    """
    fn = "conv2d_backward"
    K = v.kernels(fn, ("x", x), ("dy", dy), ("w", w), ("b", b))
    need_dx = _need_dx(need_dx, fn)
    dy = v.array(dy, fn, "dy", 4, "(N, K, P, Q)")
    x, w, b = _conv2d_arrays(fn, x, w, b)
    stride, pads, dilation, groups, (P, Q) = _conv_geometry(fn, x, w, b, stride, padding, dilation, groups)
    v.check_shape(dy, fn, "dy", (x.shape[0], w.shape[0], P, Q), "the conv2d output's shape")
    return _backward(K, fn, dy, x, w, b, stride, _quad(pads), dilation, groups, need_dx, out)


def conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, *, out=None):
    """1-D convolution: x (N, C, L), w (K, C/groups, R) -> (N, K, L_out); out as conv2d's."""
    fn = "conv1d"
    K = v.kernels(fn, ("x", x), ("w", w), ("b", b), ("out", out))
    x, w, b = _conv1d_arrays(fn, x, w, b)
    stride, pads, dilation, groups, (L,) = _conv_geometry(fn, x, w, b, stride, padding, dilation, groups)
    y = v.output(out, (x.shape[0], w.shape[0], L), fn, (("x", x), ("w", w), ("b", b)))
    if y.size:
        K.conv2d_forward(_unsqueeze(x), _unsqueeze(w), b, _unsqueeze(y), (1, stride[0]), (0, 0) + pads[0],
                         (1, dilation[0]), groups)
    return y


def conv1d_backward(dy, x, w, b=None, stride=1, padding=0, dilation=1, groups=1, need_dx=True, *, out=None):
    """Gradients (dx, dw, db) of conv1d for the output gradient dy; db is None when b is None.

    need_dx and out as conv2d_backward's.
    """
    fn = "conv1d_backward"
    K = v.kernels(fn, ("x", x), ("dy", dy), ("w", w), ("b", b))
    need_dx = _need_dx(need_dx, fn)
    dy = v.array(dy, fn, "dy", 3, "(N, K, L_out)")
    x, w, b = _conv1d_arrays(fn, x, w, b)
    stride, pads, dilation, groups, (L,) = _conv_geometry(fn, x, w, b, stride, padding, dilation, groups)
    v.check_shape(dy, fn, "dy", (x.shape[0], w.shape[0], L), "the conv1d output's shape")
    dx, dw, db = v.outputs(out, (x.shape if need_dx else None, w.shape, None if b is None else b.shape),
                           fn, (("dy", dy), ("x", x), ("w", w), ("b", b)))
    _backward(K, fn, _unsqueeze(dy), _unsqueeze(x), _unsqueeze(w), b, (1, stride[0]), (0, 0) + pads[0],
              (1, dilation[0]), groups, need_dx, (_unsqueeze(dx), _unsqueeze(dw), db))
    return dx, dw, db


def _transpose_geometry(fn, x, w, b, stride, padding, output_padding, groups, dilation):
    """Checks a conv_transpose2d; returns (stride, padding, dilation, groups, (Ho, Wo))."""
    stride = v.tuple_of(stride, 2, fn, "stride", 1)
    padding = v.tuple_of(padding, 2, fn, "padding", 0)
    output_padding = v.tuple_of(output_padding, 2, fn, "output_padding", 0)
    dilation = v.tuple_of(dilation, 2, fn, "dilation", 1)
    groups = v.integer(groups, fn, "groups", 1)
    C, Cw, Kg = x.shape[1], w.shape[0], w.shape[1]
    if Cw != C:
        raise v.error(fn, "w", f"shape {v.shape_str(w.shape)}", f"w.shape[0] == {C}, the input channels of x")
    if C % groups:
        raise v.error(fn, "groups", repr(groups), f"a divisor of the {C} input channels of x")
    if min(w.shape[2:]) < 1:
        raise v.error(fn, "w", f"shape {v.shape_str(w.shape)}", "a kernel of size >= 1")
    if min(x.shape[2:]) < 1:
        raise v.error(fn, "x", f"shape {v.shape_str(x.shape)}", "spatial sizes >= 1")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise v.error(fn, "output_padding", repr(output_padding),
                          f"values smaller than stride {stride} or dilation {dilation}")
    out = tuple((size - 1) * s - 2 * p + d * (k - 1) + op + 1 for size, s, p, d, k, op in
                zip(x.shape[2:], stride, padding, dilation, w.shape[2:], output_padding))
    if min(out) < 1:
        raise v.error(fn, "padding", repr(padding), f"padding small enough for an output of size >= 1 "
                      f"(it gives {v.shape_str(out)} from input {v.shape_str(x.shape[2:])})")
    if b is not None:
        v.check_shape(b, fn, "b", (Kg * groups,), "one bias per output channel")
    return stride, padding, dilation, groups, out


def _transpose_arrays(fn, x, w, b):
    return (v.array(x, fn, "x", 4, "(N, C, H, W)"), v.array(w, fn, "w", 4, "(C, K/groups, R, S)"),
            v.optional_array(b, fn, "b", 1, "(K,)"))


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *, out=None):
    """Transposed 2-D convolution: x (N, C, H, W), w (C, K/groups, R, S) -> (N, K, Ho, Wo).

    The argument order is PyTorch's (groups before dilation). out as conv2d's.
    """
    fn = "conv_transpose2d"
    K = v.kernels(fn, ("x", x), ("w", w), ("b", b), ("out", out))
    x, w, b = _transpose_arrays(fn, x, w, b)
    stride, padding, dilation, groups, (Ho, Wo) = _transpose_geometry(
        fn, x, w, b, stride, padding, output_padding, groups, dilation)
    y = v.output(out, (x.shape[0], w.shape[1] * groups, Ho, Wo), fn, (("x", x), ("w", w), ("b", b)))
    if y.size:
        K.conv_transpose2d_forward(x, w, b, y, stride, padding, dilation, groups)
    return y


def conv_transpose2d_backward(dy, x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                              dilation=1, need_dx=True, *, out=None):
    """Gradients (dx, dw, db) of conv_transpose2d for the output gradient dy; db is None when b is None.

    need_dx and out as conv2d_backward's.
    """
    fn = "conv_transpose2d_backward"
    K = v.kernels(fn, ("x", x), ("dy", dy), ("w", w), ("b", b))
    need_dx = _need_dx(need_dx, fn)
    dy = v.array(dy, fn, "dy", 4, "(N, K, Ho, Wo)")
    x, w, b = _transpose_arrays(fn, x, w, b)
    stride, padding, dilation, groups, (Ho, Wo) = _transpose_geometry(
        fn, x, w, b, stride, padding, output_padding, groups, dilation)
    v.check_shape(dy, fn, "dy", (x.shape[0], w.shape[1] * groups, Ho, Wo), "the conv_transpose2d output's shape")
    dx, dw, db = v.outputs(out, (x.shape if need_dx else None, w.shape, None if b is None else b.shape),
                           fn, (("dy", dy), ("x", x), ("w", w), ("b", b)))
    if dx is not None and dx.size:
        K.conv_transpose2d_backward_data(dy, w, dx, stride, padding, dilation, groups)
    if dw.size or (db is not None and db.size):
        K.conv_transpose2d_backward_weight(dy, x, dw, db, stride, padding, dilation, groups)
    return dx, dw, db
