"""Normalization: batch norm and local response norm, as torch.nn.functional.

batch_norm's running_mean / running_var are updated in place in training mode, so they must be
writable float32 C-contiguous arrays of shape (C,); they are never converted.
Every op takes a keyword-only out= (forward: an array for y; backward: a tuple with one
array-or-None per gradient) to write into instead of allocating: float32, C-contiguous, writable,
the result's shape, not overlapping an input.
"""
from __future__ import annotations

import math

from ._validate import array, check_shape, error, integer, is_device, kernels, optional_array, output, outputs, \
    real, shape_str
from .optim import _flag, _inplace

__all__ = ["batch_norm", "batch_norm_backward", "local_response_norm", "local_response_norm_backward"]

_BN_LAYOUT = "(N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)"


def _bn_args(fn, x, gamma, beta, training, momentum, eps):
    x = array(x, fn, "x", (2, 3, 4, 5), _BN_LAYOUT)
    C = x.shape[1]
    gamma = optional_array(gamma, fn, "gamma", 1, "(C,)")
    beta = optional_array(beta, fn, "beta", 1, "(C,)")
    for name, a in (("gamma", gamma), ("beta", beta)):
        if a is not None:
            check_shape(a, fn, name, (C,), "the channels of x")
    training = _flag(training, fn, "training")
    momentum = real(momentum, fn, "momentum", lo=0, hi=1)
    eps = real(eps, fn, "eps", lo=0)
    if training and x.size and x.size // C == 1:
        raise error(fn, "x", f"shape {shape_str(x.shape)}",
                    "more than 1 value per channel when training")
    return x, gamma, beta, training, momentum, eps


def _need_running(fn, name, a, training):
    if a is None and not training:
        raise error(fn, name, "None", "a (C,) array in eval mode (training=False)")


def batch_norm(x, gamma, beta, running_mean, running_var, training=False, momentum=0.1, eps=1e-5, *,
               out=None):
    """Batch norm over every dimension but the channels (dim 1) of x.

    training: normalize with the batch mean and biased variance, and update running_mean and
    running_var in place (running = (1 - momentum) * running + momentum * batch, the variance
    unbiased); None running arrays are not tracked. Eval: normalize with the running statistics.
    gamma / beta may be None (1 and 0).
    """
    fn = "batch_norm"
    K = kernels(fn, ("x", x), ("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                ("running_var", running_var), ("out", out))
    x, gamma, beta, training, momentum, eps = _bn_args(fn, x, gamma, beta, training, momentum, eps)
    C = x.shape[1]
    for name, a in (("running_mean", running_mean), ("running_var", running_var)):
        _need_running(fn, name, a, training)
        if a is not None:
            _inplace(a, fn, name, (C,), "the channels of x")
    # (not on the device: reading running_var there would wait for the GPU)
    if not training and C and not is_device(running_var) and not running_var.min() >= 0:  # NaN fails too
        raise error(fn, "running_var", f"a minimum of {running_var.min()}", "non-negative variances")
    y = output(out, x.shape, fn, (("x", x), ("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                                  ("running_var", running_var)))
    K.batch_norm_forward(x, gamma, beta, running_mean, running_var, y, training, momentum, eps)
    return y


def batch_norm_backward(dy, x, gamma, beta, running_mean, running_var, training=False, momentum=0.1,
                        eps=1e-5, *, out=None):
    """Gradients (dx, dgamma, dbeta) of batch_norm; dgamma / dbeta are None when gamma / beta are.

    Training differentiates through the batch statistics (recomputed from x); the running arrays
    are only read in eval mode and never written.
    """
    fn = "batch_norm_backward"
    K = kernels(fn, ("x", x), ("dy", dy), ("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                ("running_var", running_var))
    x, gamma, beta, training, momentum, eps = _bn_args(fn, x, gamma, beta, training, momentum, eps)
    C = x.shape[1]
    dy = array(dy, fn, "dy")
    check_shape(dy, fn, "dy", x.shape, "the shape of x")
    running = []
    for name, a in (("running_mean", running_mean), ("running_var", running_var)):
        _need_running(fn, name, a, training)
        a = optional_array(a, fn, name, 1, "(C,)")
        if a is not None:
            check_shape(a, fn, name, (C,), "the channels of x")
        running.append(a if not training else None)  # training never reads them
    dx, dgamma, dbeta = outputs(out, (x.shape, None if gamma is None else (C,), None if beta is None else (C,)),
                                fn, (("dy", dy), ("x", x), ("gamma", gamma), ("beta", beta),
                                     ("running_mean", running[0]), ("running_var", running[1])))
    K.batch_norm_backward(dy, x, gamma, running[0], running[1], dx, dgamma, dbeta, training, eps)
    return dx, dgamma, dbeta


def _lrn_args(fn, x, size, alpha, beta, k):
    x = array(x, fn, "x", (3, 4, 5), "(N, C, L), (N, C, H, W) or (N, C, D, H, W)")
    size = integer(size, fn, "size", minimum=1)
    # k > 0 and alpha >= 0 keep the base k + alpha/size * sum(x^2) positive (else pow gives NaN)
    alpha = real(alpha, fn, "alpha", lo=0.0, hi=math.inf)
    beta = real(beta, fn, "beta", lo=-math.inf, hi=math.inf)
    k = real(k, fn, "k", lo=0.0, hi=math.inf, lo_open=True)
    return x, size, alpha, beta, k


def local_response_norm(x, size=5, alpha=1e-4, beta=0.75, k=2.0, *, out=None):
    """y_c = x_c / (k + alpha/size * sum of x_c'^2 over c' in [c - size//2, c + (size-1)//2])^beta."""
    fn = "local_response_norm"
    K = kernels(fn, ("x", x), ("out", out))
    x, size, alpha, beta, k = _lrn_args(fn, x, size, alpha, beta, k)
    y = output(out, x.shape, fn, (("x", x),))
    K.local_response_norm_forward(x, y, size, alpha, beta, k)
    return y


def local_response_norm_backward(dy, x, size=5, alpha=1e-4, beta=0.75, k=2.0, *, out=None):
    """Gradient (dx,) of local_response_norm for the output gradient dy (the shape of x)."""
    fn = "local_response_norm_backward"
    K = kernels(fn, ("x", x), ("dy", dy))
    x, size, alpha, beta, k = _lrn_args(fn, x, size, alpha, beta, k)
    dy = array(dy, fn, "dy")
    check_shape(dy, fn, "dy", x.shape, "the shape of x")
    dx, = outputs(out, (x.shape,), fn, (("dy", dy), ("x", x)))
    K.local_response_norm_backward(dy, x, dx, size, alpha, beta, k)
    return (dx,)
