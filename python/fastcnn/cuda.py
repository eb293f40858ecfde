"""fastcnn.cuda: device arrays on NVIDIA GPUs (the compiled module ``fastcnn._C_cuda``).

    import fastcnn, fastcnn.functional as F
    if fastcnn.cuda.is_available():
        x = fastcnn.cuda.to_device(images)          # a DeviceArray (float32)
        y = F.relu(x)                               # runs on the GPU, returns a DeviceArray
        host = y.numpy()                            # explicit copy back (waits for the GPU)

The CUDA module is loaded lazily, on the first call here that needs it: ``import fastcnn`` works on
machines with no GPU, no driver and no CUDA build. Asking for CUDA where there is none raises a
RuntimeError that says why (see why_unavailable()).

A DeviceArray has .shape, .dtype, .ndim, .size, .nbytes, len(), .numpy() (a new host copy),
.reshape(shape) (a view) and a[i:j] (a view of rows i..j-1). It has no arithmetic and no implicit
numpy conversion: copies between host and device are always explicit (to_device / .numpy()).
Functional ops take device arrays and return device arrays; kernels run asynchronously on one
stream, so results are complete once read back (.numpy()) or after synchronize().
"""
from __future__ import annotations

import importlib
import numbers

import numpy as np

__all__ = ["is_available", "why_unavailable", "device_count", "to_device", "empty", "zeros", "synchronize",
           "memory_info", "is_device_array"]  # DeviceArray too, loaded on first use (not star-imported)

_NOT_BUILT = "fastcnn was built without CUDA (no nvcc at build time)"
_DTYPES = ("float32", "uint8", "int32", "int64")

_module = None    # the loaded, usable CUDA module
_reason = None    # why there is none (None: not probed yet)


def _import_module():
    """The compiled CUDA module (tests replace this with a numpy-backed fake)."""
    return importlib.import_module("fastcnn._C_cuda")


def _probe():
    """Load the module once: (module, None) when usable, else (None, reason)."""
    global _module, _reason
    if _module is not None or _reason is not None:
        return _module, _reason
    try:
        mod = _import_module()
    except ModuleNotFoundError as e:
        if e.name and e.name.endswith("_C_cuda"):
            _reason = _NOT_BUILT
        else:
            _reason = f"fastcnn's CUDA module failed to load: {e}"
        return None, _reason
    except ImportError as e:  # built, but a shared library or symbol is missing
        _reason = f"fastcnn's CUDA module failed to load: {e}"
        return None, _reason
    try:
        ok, why = mod.status()
    except Exception as e:  # a driver that fails in an unexpected way: still a reason, not a crash
        ok, why = False, f"no usable CUDA: {type(e).__name__}: {e}"
    if not ok:
        _reason = str(why)
        return None, _reason
    _module = mod
    from . import _precision
    from .functional import _validate
    mod.set_precision(_precision.get())
    _validate.use_cuda(mod)
    return _module, None


def _reset() -> None:
    """Forget the loaded module (tests install and remove the fake with it)."""
    global _module, _reason
    from .functional import _validate
    _module = _reason = None
    _validate.use_cuda(None)


def _built() -> bool:
    """Whether a CUDA module is there at all (usable or not)."""
    mod, why = _probe()
    return mod is not None or why != _NOT_BUILT


def backend():
    """The loaded CUDA module; RuntimeError saying why when CUDA cannot be used."""
    mod, why = _probe()
    if mod is None:
        raise RuntimeError(f"CUDA is not available: {why}")
    return mod


def is_available() -> bool:
    """True when fastcnn was built with CUDA and a driver and a device are present."""
    return _probe()[0] is not None


def why_unavailable() -> str | None:
    """Why CUDA cannot be used ("fastcnn was built without CUDA (no nvcc at build time)",
    "no CUDA driver: ...", "no CUDA device"), or None when it can."""
    return _probe()[1]


def device_count() -> int:
    """The number of CUDA devices (0 where CUDA cannot be used)."""
    mod, _ = _probe()
    return 0 if mod is None else int(mod.device_count())


def status_line() -> str:
    """The device description (e.g. "NVIDIA H200, sm_90, 139 GiB") or the reason there is none."""
    mod, why = _probe()
    return why if mod is None else str(mod.status()[1])


def is_device_array(a) -> bool:
    """Whether a is a DeviceArray (never loads the CUDA module)."""
    return _module is not None and isinstance(a, _module.DeviceArray)


def __getattr__(name):
    if name == "DeviceArray":
        return backend().DeviceArray
    raise AttributeError(f"module 'fastcnn.cuda' has no attribute {name!r}")


def _dtype(dtype, fn: str) -> str:
    try:
        d = np.dtype(dtype).name
    except TypeError:
        d = None
    if d not in _DTYPES:
        raise ValueError(f"{fn}: argument 'dtype' got {dtype!r}, needed one of {', '.join(_DTYPES)}")
    return d


def _shape(shape, fn: str) -> tuple:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise ValueError(f"{fn}: argument 'shape' got {shape!r}, needed an int or a tuple of ints >= 0")
    return tuple(int(s) for s in shape)


def to_device(array):
    """A DeviceArray holding a copy of array (any array-like): float32 unless it is uint8, int32 or
    int64, which keep their dtype (images and labels). A DeviceArray is returned as is."""
    mod = backend()
    if isinstance(array, mod.DeviceArray):
        return array
    a = array if isinstance(array, np.ndarray) else np.asarray(array)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"to_device: argument 'array' got dtype {a.dtype}, needed a numeric array")
    if a.dtype not in (np.uint8, np.int32, np.int64):
        a = a.astype(np.float32, copy=False)
    return mod.to_device(np.ascontiguousarray(a))


def empty(shape, dtype="float32"):
    """An uninitialized DeviceArray."""
    mod = backend()
    return mod.empty(_shape(shape, "empty"), _dtype(dtype, "empty"))


def zeros(shape, dtype="float32"):
    """A DeviceArray of zeros."""
    mod = backend()
    a = mod.empty(_shape(shape, "zeros"), _dtype(dtype, "zeros"))
    mod.fill(a, 0.0)
    return a


def synchronize() -> None:
    """Wait until every queued kernel has finished."""
    backend().synchronize()


def memory_info():
    """The device's memory facts as the CUDA module reports them (free and total bytes)."""
    return backend().memory_info()
