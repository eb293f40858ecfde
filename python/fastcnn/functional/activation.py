"""Activations: relu family, elu, sigmoid, tanh, softmax / log_softmax, dropout, with gradients.

Elementwise ops take any shape; prelu's alpha is per channel (axis 1) or shared. rrelu and dropout
draw from a counter-based RNG in C++ (element i's number is a hash of (seed, i)), so their result
depends only on the seed; seed=None takes a fresh one from fastcnn's random state (fastcnn.seed).
dropout returns a uint8 mask (1 keep, 0 drop) and rrelu the float32 slope with y = x * slope;
their backward ops take those instead of x.
relu ... log_softmax and their backward ops take a keyword-only out= (forward: an array for y;
backward: a tuple with one array-or-None per gradient) to write into instead of allocating:
float32, C-contiguous, writable, the result's shape, not overlapping an input.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from .. import _random
from . import _validate as V

__all__ = [
    "relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "prelu", "prelu_backward",
    "rrelu", "rrelu_backward", "elu", "elu_backward", "sigmoid", "sigmoid_backward",
    "tanh", "tanh_backward", "softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
    "dropout", "dropout_backward",
]


def _unary(fn, kernel: str, x, args=(), out=None):
    """y = kernel(x) elementwise or along an axis; kernel is the name on the kernel module."""
    K = V.kernels(fn, ("x", x), ("out", out))
    x = V.array(x, fn, "x")
    y = V.output(out, x.shape, fn, (("x", x),))
    getattr(K, kernel)(x, y, *args)
    return y


def _unary_backward(fn, kernel: str, dy, x, args=(), out=None):
    K = V.kernels(fn, ("x", x), ("dy", dy))
    x = V.array(x, fn, "x")
    dy = V.array(dy, fn, "dy")
    V.check_shape(dy, fn, "dy", x.shape, "the shape of x")
    dx, = V.outputs(out, (x.shape,), fn, (("dy", dy), ("x", x)))
    getattr(K, kernel)(dy, x, dx, *args)
    return (dx,)


def _flag(v, fn: str, name: str) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument '{name}' got {v!r} ({type(v).__name__}), needed a bool")
    return bool(v)


def _number(v, fn: str, name: str) -> float:
    """A real number, not NaN (the bounds only word the message)."""
    return V.real(v, fn, name, -np.inf, np.inf)


def _copy(K, x, fn: str):
    """A new array equal to x, on x's side."""
    if K is _C:
        return x.copy()
    y = V.new_array(x.shape, fn, x)
    K.copy(x, y)
    return y


def _seed(seed, fn: str) -> int:
    if seed is None:
        return _random.next_seed()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{fn}: argument 'seed' got {seed!r} ({type(seed).__name__}), needed an int")
    seed = int(seed)
    if not 0 <= seed < 1 << 64:
        raise V.error(fn, "seed", repr(seed), "an int in [0, 2**64)")
    return seed


def relu(x, *, out=None) -> np.ndarray:
    """max(x, 0); NaN stays NaN."""
    return _unary("relu", "relu_forward", x, out=out)


def relu_backward(dy, x, *, out=None) -> tuple:
    """(dx,): dy where x > 0, else 0 (0 at x == 0, as PyTorch)."""
    return _unary_backward("relu_backward", "relu_backward", dy, x, out=out)


def leaky_relu(x, alpha=0.01, *, out=None) -> np.ndarray:
    """x where x > 0, else alpha * x."""
    return _unary("leaky_relu", "leaky_relu_forward", x, (_number(alpha, "leaky_relu", "alpha"),), out)


def leaky_relu_backward(dy, x, alpha=0.01, *, out=None) -> tuple:
    fn = "leaky_relu_backward"
    return _unary_backward(fn, "leaky_relu_backward", dy, x, (_number(alpha, fn, "alpha"),), out)


def _prelu_args(fn, x, alpha):
    x = V.array(x, fn, "x")
    if x.ndim < 2:
        raise V.error(fn, "x", f"shape {V.shape_str(x.shape)} ({x.ndim}-D)", "at least 2 dimensions (N, C, ...)")
    alpha = V.array(alpha, fn, "alpha")
    if alpha.shape not in ((x.shape[1],), (1,)):
        raise V.error(fn, "alpha", f"shape {V.shape_str(alpha.shape)}",
                      f"shape ({x.shape[1]},) (one per channel of x) or (1,)")
    return x, alpha


def prelu(x, alpha, *, out=None) -> np.ndarray:
    """x where x > 0, else alpha[c] * x for channel c (axis 1); alpha is (C,) or (1,)."""
    fn = "prelu"
    K = V.kernels(fn, ("x", x), ("alpha", alpha), ("out", out))
    x, alpha = _prelu_args(fn, x, alpha)
    y = V.output(out, x.shape, fn, (("x", x), ("alpha", alpha)))
    K.prelu_forward(x, alpha, y)
    return y


def prelu_backward(dy, x, alpha, *, out=None) -> tuple:
    """(dx, dalpha); dalpha has alpha's shape (a deterministic sum over fixed chunks)."""
    fn = "prelu_backward"
    K = V.kernels(fn, ("x", x), ("dy", dy), ("alpha", alpha))
    x, alpha = _prelu_args(fn, x, alpha)
    dy = V.array(dy, fn, "dy")
    V.check_shape(dy, fn, "dy", x.shape, "the shape of x")
    dx, dalpha = V.outputs(out, (x.shape, alpha.shape), fn, (("dy", dy), ("x", x), ("alpha", alpha)))
    K.prelu_backward(dy, x, alpha, dx, dalpha)
    return dx, dalpha


def rrelu(x, lower=1.0 / 8, upper=1.0 / 3, training=False, seed=None, *, out=None) -> tuple:
    """(y, slope) with y = x * slope: slope is 1 where x >= 0, else a uniform draw in [lower, upper]
    per element (training) or (lower + upper) / 2. slope is a float32 array of x's shape.
    out: None or (y, slope) arrays-or-None to write into."""
    fn = "rrelu"
    lower = V.real(lower, fn, "lower", 0.0, 1.0)
    upper = V.real(upper, fn, "upper", 0.0, 1.0)
    if upper < lower:
        raise V.error(fn, "upper", repr(upper), f"a number >= lower = {lower!r}")
    training = _flag(training, fn, "training")
    seed = _seed(seed, fn) if training else 0
    K = V.kernels(fn, ("x", x))
    x = V.array(x, fn, "x")
    y, slope = V.outputs(out, (x.shape, x.shape), fn, (("x", x),))
    K.rrelu_forward(x, y, slope, lower, upper, training, seed)
    return y, slope


def rrelu_backward(dy, slope, *, out=None) -> tuple:
    """(dx,) = (dy * slope,), with slope from rrelu. out: None or (dx,) to write into."""
    fn = "rrelu_backward"
    K = V.kernels(fn, ("slope", slope), ("dy", dy))
    slope = V.array(slope, fn, "slope")
    dy = V.array(dy, fn, "dy")
    V.check_shape(dy, fn, "dy", slope.shape, "the shape of slope")
    dx, = V.outputs(out, (slope.shape,), fn, (("slope", slope), ("dy", dy)))
    K.rrelu_backward(dy, slope, dx)
    return (dx,)


def elu(x, alpha=1.0, *, out=None) -> np.ndarray:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return _unary("elu", "elu_forward", x, (_number(alpha, "elu", "alpha"),), out)


def elu_backward(dy, x, alpha=1.0, *, out=None) -> tuple:
    fn = "elu_backward"
    return _unary_backward(fn, "elu_backward", dy, x, (_number(alpha, fn, "alpha"),), out)


def sigmoid(x, *, out=None) -> np.ndarray:
    return _unary("sigmoid", "sigmoid_forward", x, out=out)


def sigmoid_backward(dy, x, *, out=None) -> tuple:
    return _unary_backward("sigmoid_backward", "sigmoid_backward", dy, x, out=out)


def tanh(x, *, out=None) -> np.ndarray:
    return _unary("tanh", "tanh_forward", x, out=out)


def tanh_backward(dy, x, *, out=None) -> tuple:
    return _unary_backward("tanh_backward", "tanh_backward", dy, x, out=out)


def _axis(axis, ndim: int, fn: str) -> int:
    axis = V.integer(axis, fn, "axis")
    if not -ndim <= axis < ndim:
        raise V.error(fn, "axis", repr(axis), f"an axis in [{-ndim}, {ndim}) for a {ndim}-D x")
    return axis % ndim


def softmax(x, axis=1, *, out=None) -> np.ndarray:
    """exp(x) / sum(exp(x)) along axis (max-subtracted, so large inputs do not overflow)."""
    fn = "softmax"
    x = V.array(x, fn, "x")
    return _unary(fn, "softmax_forward", x, (_axis(axis, x.ndim, fn),), out)


def softmax_backward(dy, x, axis=1, *, out=None) -> tuple:
    """(dx,) = (y * (dy - sum(dy * y, axis)),) with y = softmax(x, axis)."""
    fn = "softmax_backward"
    x = V.array(x, fn, "x")
    return _unary_backward(fn, "softmax_backward", dy, x, (_axis(axis, x.ndim, fn),), out)


def log_softmax(x, axis=1, *, out=None) -> np.ndarray:
    """x - log(sum(exp(x))) along axis, computed stably."""
    fn = "log_softmax"
    x = V.array(x, fn, "x")
    return _unary(fn, "log_softmax_forward", x, (_axis(axis, x.ndim, fn),), out)


def log_softmax_backward(dy, x, axis=1, *, out=None) -> tuple:
    """(dx,) = (dy - softmax(x) * sum(dy, axis),)."""
    fn = "log_softmax_backward"
    x = V.array(x, fn, "x")
    return _unary_backward(fn, "log_softmax_backward", dy, x, (_axis(axis, x.ndim, fn),), out)


def _dropout_p(p, fn: str) -> float:
    p = V.real(p, fn, "p", 0.0, 1.0, hi_open=True)
    if np.float32(p) >= 1.0:  # the kernel works in float32
        raise V.error(fn, "p", repr(p), "a number in [0, 1) that stays below 1 in float32")
    return p


def dropout(x, p=0.5, training=True, seed=None, *, out=None) -> tuple:
    """(y, mask): in training, y = x * mask / (1 - p) with mask a uint8 array of x's shape, 1 (kept)
    with probability 1 - p; otherwise (a copy of x, None). out: None or (y, mask) arrays-or-None
    to write into (mask uint8; ignored when not training)."""
    fn = "dropout"
    p = _dropout_p(p, fn)
    training = _flag(training, fn, "training")
    K = V.kernels(fn, ("x", x))
    x = V.array(x, fn, "x")
    if not training:
        return _copy(K, x, fn), None
    y, mask = V.outputs(out, (x.shape, x.shape), fn, (("x", x),), dtypes=("float32", "uint8"))
    K.dropout_forward(x, y, mask, p, _seed(seed, fn))
    return y, mask


def dropout_backward(dy, mask, p, *, out=None) -> tuple:
    """(dx,) = (dy * mask / (1 - p),); mask None (not training) gives a copy of dy.
    out: None or (dx,) to write into."""
    fn = "dropout_backward"
    p = _dropout_p(p, fn)
    K = V.kernels(fn, ("dy", dy), ("mask", mask))
    dy = V.array(dy, fn, "dy")
    if mask is None:
        return (_copy(K, dy, fn),)
    if K is not _C:  # a device mask is dropout's own: uint8, never converted
        if mask.dtype != np.uint8:
            raise V.error(fn, "mask", f"a device array of dtype {mask.dtype}", "uint8 (dropout's mask)")
        m = mask
    else:
        m = np.asarray(mask)
        if m.dtype.kind not in "biuf":
            raise TypeError(f"{fn}: argument 'mask' got dtype {m.dtype}, needed a uint8 (or bool) array")
        if m.dtype != np.uint8:
            m = (m != 0).astype(np.uint8)
        m = np.ascontiguousarray(m)
    V.check_shape(dy, fn, "dy", m.shape, "the shape of mask")
    dx, = V.outputs(out, (m.shape,), fn, (("dy", dy), ("mask", m)))
    K.dropout_backward(dy, m, dx, p)
    return (dx,)
