"""Fully connected layer, as torch.nn.functional.linear: y = x w^T + b on the shared GEMM."""
from __future__ import annotations

import numpy as np

from ._validate import array, check_shape, error, kernels, optional_array, output, outputs, shape_str

__all__ = ["linear", "linear_backward"]


def _args(fn, x, w, b):
    x = array(x, fn, "x", 2, "(N, in_features)")
    w = array(w, fn, "w", 2, "(out_features, in_features)")
    if w.shape[1] != x.shape[1]:
        raise error(fn, "w", f"shape {shape_str(w.shape)}",
                    f"shape (out_features, {x.shape[1]}) (in_features of x)")
    b = optional_array(b, fn, "b", 1, "(out_features,)")
    if b is not None:
        check_shape(b, fn, "b", (w.shape[0],), "out_features of w")
    return x, w, b


def linear(x, w, b=None, *, out=None):
    """x (N, in_features), w (out_features, in_features), b (out_features,) or None -> (N, out_features).

    out: a float32 C-contiguous (N, out_features) array to write y into (returned), not overlapping x, w, b.
    """
    fn = "linear"
    K = kernels(fn, ("x", x), ("w", w), ("b", b), ("out", out))
    x, w, b = _args(fn, x, w, b)
    y = output(out, (x.shape[0], w.shape[0]), fn, (("x", x), ("w", w), ("b", b)))
    K.linear_forward(x, w, b, y)
    return y


def linear_backward(dy, x, w, b=None, need_dx=True, *, out=None):
    """Gradients (dx, dw, db) of linear for the output gradient dy (N, out_features); db is None when b is.

    need_dx=False skips the input gradient (dx is None). out: (dx, dw, db), each an array to write that
    gradient into or None (a new one); entries for gradients not computed are ignored.
    """
    fn = "linear_backward"
    K = kernels(fn, ("x", x), ("dy", dy), ("w", w), ("b", b))
    if not isinstance(need_dx, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument 'need_dx' got {need_dx!r} ({type(need_dx).__name__}), needed a bool")
    x, w, b = _args(fn, x, w, b)
    dy = array(dy, fn, "dy", 2, "(N, out_features)")
    check_shape(dy, fn, "dy", (x.shape[0], w.shape[0]), "the shape of linear's output")
    dx, dw, db = outputs(out, (x.shape if need_dx else None, w.shape, None if b is None else b.shape), fn,
                         (("dy", dy), ("x", x), ("w", w), ("b", b)))
    K.linear_backward(dy, x, w, dx, dw, db)
    return dx, dw, db
