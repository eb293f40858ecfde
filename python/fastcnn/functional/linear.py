"""Fully connected layer, as torch.nn.functional.linear: y = x w^T + b on the shared GEMM."""
from __future__ import annotations

from .. import _C
from ._validate import array, check_shape, error, new_array, optional_array, shape_str

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


def linear(x, w, b=None):
    """x (N, in_features), w (out_features, in_features), b (out_features,) or None -> (N, out_features)."""
    fn = "linear"
    x, w, b = _args(fn, x, w, b)
    y = new_array((x.shape[0], w.shape[0]), fn)
    _C.linear_forward(x, w, b, y)
    return y


def linear_backward(dy, x, w, b=None):
    """Gradients (dx, dw, db) of linear for the output gradient dy (N, out_features); db is None when b is."""
    fn = "linear_backward"
    x, w, b = _args(fn, x, w, b)
    dy = array(dy, fn, "dy", 2, "(N, out_features)")
    check_shape(dy, fn, "dy", (x.shape[0], w.shape[0]), "the shape of linear's output")
    dx = new_array(x.shape, fn)
    dw = new_array(w.shape, fn)
    db = None if b is None else new_array(b.shape, fn)
    _C.linear_backward(dy, x, w, dx, dw, db)
    return dx, dw, db
