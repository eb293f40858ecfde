"""Backend-neutral array helpers for layers, models and training: numpy on the host, the CUDA
module's tensor helpers on the device (the array's type picks the side; mixing sides is a caller bug
the functional ops report). Hot paths call these only where numpy math on activations is needed.
"""
from __future__ import annotations

import numpy as np

from .functional import _validate as V


def device_module(a):
    """The CUDA module when a is a device array, else None."""
    return V._CUDA if V.is_device(a) else None


def empty(shape, cuda=None, dtype: str = "float32"):
    """An uninitialized array on the host (cuda None) or on the device of the CUDA module cuda."""
    shape = tuple(int(s) for s in shape)
    return np.empty(shape, dtype) if cuda is None else cuda.empty(shape, dtype)


def clone(a):
    """A new array equal to a, on a's side."""
    cuda = device_module(a)
    if cuda is None:
        return np.array(a, copy=True)
    out = cuda.empty(tuple(a.shape), a.dtype.name)
    cuda.copy(a, out)
    return out


def assign(dst, src) -> None:
    """Copy src into dst (same shape; either side: host <-> device copies are uploads/downloads)."""
    cuda = device_module(dst)
    if cuda is None:
        np.copyto(dst, src if not V.is_device(src) else src.numpy())
    elif V.is_device(src):
        cuda.copy(src, dst)
    else:
        cuda.upload(dst, np.ascontiguousarray(src, dtype=dst.dtype.name))


def host(a) -> np.ndarray:
    """a as a numpy array (a download for a device array, else a itself)."""
    return a.numpy() if V.is_device(a) else a


def to(a, cuda):
    """A copy of the array a on the host (cuda None) or the device; float32 stays float32."""
    if cuda is None:
        return np.array(host(a), copy=True)
    if V.is_device(a):
        return clone(a)
    return cuda.to_device(np.ascontiguousarray(a))


def add(a, b, out):
    """out = a + b (out may be a)."""
    cuda = device_module(out)
    if cuda is None:
        return np.add(a, b, out=out)
    cuda.add(a, b, out)
    return out


def concat(xs, axis: int, out):
    cuda = device_module(out)
    if cuda is None:
        return np.concatenate(xs, axis=axis, out=out)
    cuda.concat(list(xs), axis, out)
    return out
