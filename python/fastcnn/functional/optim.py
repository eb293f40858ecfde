"""Optimizer steps, as torch.optim's update rules, applied in place to float32 arrays.

param and the optimizer state (velocity, m, v, square_avg) are updated in place, so they must be
writable float32 C-contiguous numpy arrays of one shape: they are never converted (a converted copy
would take the update instead of the caller's array). grad may be any numeric array of param's shape.
On the device, param, grad and the state are float32 device arrays (all of them).
"""
from __future__ import annotations

import numpy as np

from ._validate import array, check_shape, error, integer, is_device, kernels, real, shape_str

__all__ = ["sgd_step", "adam_step", "rmsprop_step"]


def _inplace(a, fn: str, name: str, shape=None, why: str = "the shape of param") -> np.ndarray:
    """a itself, checked to be a writable float32 C-contiguous ndarray or float32 device array (of the
    given shape)."""
    if is_device(a):
        if a.dtype != np.float32:
            raise error(fn, name, f"a device array of dtype {a.dtype}", "float32 (updated in place)")
        if shape is not None and a.shape != tuple(shape):
            raise error(fn, name, f"shape {shape_str(a.shape)}", f"shape {shape_str(shape)} ({why})")
        return a
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{fn}: argument '{name}' got {type(a).__name__}, "
                        f"needed a float32 numpy array (updated in place)")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: argument '{name}' got dtype {a.dtype}, needed a float32 array")
    if a.dtype != np.float32:
        raise error(fn, name, f"dtype {a.dtype}", "float32 (updated in place, so never converted)")
    if not a.flags.c_contiguous:
        raise error(fn, name, "a non-C-contiguous array", "a C-contiguous array (updated in place)")
    if not a.flags.writeable:
        raise error(fn, name, "a read-only array", "a writable array (updated in place)")
    if shape is not None and a.shape != tuple(shape):
        raise error(fn, name, f"shape {shape_str(a.shape)}", f"shape {shape_str(shape)} ({why})")
    return a


def _flag(v, fn: str, name: str) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument '{name}' got {v!r} ({type(v).__name__}), needed a bool")
    return bool(v)


def _param_grad(fn, param, grad):
    param = _inplace(param, fn, "param")
    grad = array(grad, fn, "grad")
    check_shape(grad, fn, "grad", param.shape, "the shape of param")
    return param, grad


def sgd_step(param, grad, velocity, lr, momentum=0.0, nesterov=False, weight_decay=0.0) -> None:
    """SGD with momentum, in place: g = grad + wd*param; buf = momentum*buf + g;
    g = g + momentum*buf (nesterov) or buf; param -= lr*g. velocity may be None when momentum == 0
    (it is then left untouched). With a zero-initialized velocity this is PyTorch's first step."""
    fn = "sgd_step"
    K = kernels(fn, ("param", param), ("grad", grad), ("velocity", velocity))
    param, grad = _param_grad(fn, param, grad)
    lr = real(lr, fn, "lr", lo=0)
    momentum = real(momentum, fn, "momentum", lo=0)
    nesterov = _flag(nesterov, fn, "nesterov")
    weight_decay = real(weight_decay, fn, "weight_decay", lo=0)
    if nesterov and momentum == 0:
        raise error(fn, "nesterov", "True with momentum 0", "momentum > 0")
    if velocity is None:
        if momentum != 0:
            raise error(fn, "velocity", "None",
                        f"a float32 array of param's shape (momentum is {momentum:g})")
    else:
        velocity = _inplace(velocity, fn, "velocity", param.shape)
    K.sgd_step(param, grad, velocity, lr, momentum, nesterov, weight_decay)


def adam_step(param, grad, m, v, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
              weight_decay=0.0, decoupled=False) -> None:
    """Adam (decoupled=True: AdamW) in place; step is the 1-based count including this step."""
    fn = "adam_step"
    K = kernels(fn, ("param", param), ("grad", grad), ("m", m), ("v", v))
    param, grad = _param_grad(fn, param, grad)
    m = _inplace(m, fn, "m", param.shape)
    v = _inplace(v, fn, "v", param.shape)
    step = integer(step, fn, "step", minimum=1)
    lr = real(lr, fn, "lr", lo=0)
    beta1 = real(beta1, fn, "beta1", lo=0, hi=1, hi_open=True)
    beta2 = real(beta2, fn, "beta2", lo=0, hi=1, hi_open=True)
    eps = real(eps, fn, "eps", lo=0, lo_open=True)
    weight_decay = real(weight_decay, fn, "weight_decay", lo=0)
    decoupled = _flag(decoupled, fn, "decoupled")
    K.adam_step(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, decoupled)


def rmsprop_step(param, grad, square_avg, lr=1e-2, alpha=0.99, eps=1e-8) -> None:
    """RMSprop in place: sq = alpha*sq + (1-alpha)*grad^2; param -= lr*grad/(sqrt(sq)+eps)."""
    fn = "rmsprop_step"
    K = kernels(fn, ("param", param), ("grad", grad), ("square_avg", square_avg))
    param, grad = _param_grad(fn, param, grad)
    square_avg = _inplace(square_avg, fn, "square_avg", param.shape)
    lr = real(lr, fn, "lr", lo=0)
    alpha = real(alpha, fn, "alpha", lo=0, hi=1)
    eps = real(eps, fn, "eps", lo=0, lo_open=True)
    K.rmsprop_step(param, grad, square_avg, lr, alpha, eps)
