"""A numpy-backed stand-in for the CUDA module fastcnn._C_cuda, per the contract in the CUDA issue.

It lets the Python side (routing, model.to('cuda'), fit on the device) be tested without a GPU:
FakeDeviceArray wraps a private numpy array and, like the real DeviceArray, has no arithmetic, no
iteration and no implicit numpy conversion (np.asarray(a) and ufuncs raise), so any code path that
treats a device array as numpy fails loudly. Kernels are fastcnn._C's, called on the unwrapped arrays;
handing them a numpy array raises TypeError, as the real bindings do. empty() fills float32 with NaN
so reading an output nobody wrote shows.

KERNELS lists every kernel entry point the Python layer calls: the real module must have them all
(tests/test_cuda_functional.py checks both).
"""
from __future__ import annotations

import numpy as np

from fastcnn import _C

# _C's kernel entry points, same names and arguments on the device
KERNELS = (
    "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight",
    "conv_transpose2d_forward", "conv_transpose2d_backward_data", "conv_transpose2d_backward_weight",
    "linear_forward", "linear_backward",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "global_avg_pool2d_forward", "global_avg_pool2d_backward",
    "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
    "prelu_forward", "prelu_backward", "rrelu_forward", "rrelu_backward", "elu_forward", "elu_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
    "dropout_forward", "dropout_backward",
    "batch_norm_forward", "batch_norm_backward", "local_response_norm_forward", "local_response_norm_backward",
    "cross_entropy_forward", "cross_entropy_backward",
    "sgd_step", "adam_step", "rmsprop_step",
)
# device-only additions the Python layer needs (beyond _C's names)
EXTRA_KERNELS = ("cross_entropy_sum_into",)
RUNTIME = ("status", "device_count", "empty", "to_device", "upload", "copy", "fill", "set_precision",
           "get_precision", "synchronize", "memory_info", "build_info", "DeviceArray")
TENSOR_HELPERS = ("add", "concat", "split", "take_rows", "take_labels", "argmax_hits", "sum_into", "scale")

_DTYPES = ("float32", "uint8", "int32", "int64")
_MEMORY = 1 << 34


class FakeDeviceArray:
    """A device array whose memory is a private numpy array."""

    __slots__ = ("_a",)
    __array_ufunc__ = None  # numpy ufuncs on it raise TypeError

    def __init__(self, a: np.ndarray):
        self._a = a

    @property
    def shape(self) -> tuple:
        return self._a.shape

    @property
    def dtype(self) -> np.dtype:
        return self._a.dtype

    @property
    def ndim(self) -> int:
        return self._a.ndim

    @property
    def size(self) -> int:
        return int(self._a.size)

    @property
    def nbytes(self) -> int:
        return int(self._a.nbytes)

    def __len__(self) -> int:
        if self._a.ndim == 0:
            raise TypeError("len() of a 0-d device array")
        return self._a.shape[0]

    def numpy(self) -> np.ndarray:
        return self._a.copy()

    def reshape(self, shape):
        if not isinstance(shape, tuple):
            raise TypeError(f"DeviceArray.reshape: needed a shape tuple, got {type(shape).__name__}")
        view = self._a.view()
        view.shape = self._a.reshape(shape).shape  # resolves -1; assigning .shape never copies
        return FakeDeviceArray(view)

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError(f"DeviceArray: only row ranges a[i:j] can be taken, got {key!r}")
        return FakeDeviceArray(self._a[key])

    def __array__(self, *args, **kwargs):
        raise TypeError("a DeviceArray has no implicit host conversion; use .numpy()")

    def __iter__(self):
        raise TypeError("a DeviceArray cannot be iterated; use .numpy()")

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self._a.shape}, dtype={self._a.dtype}, device=fake)"


DeviceArray = FakeDeviceArray
_precision = "fp32"


def _unwrap(v, fn: str):
    if isinstance(v, FakeDeviceArray):
        return v._a
    if isinstance(v, np.ndarray):
        raise TypeError(f"{fn}(): incompatible function arguments: a numpy array where a DeviceArray is needed")
    if isinstance(v, (list, tuple)) and any(isinstance(e, (FakeDeviceArray, np.ndarray)) for e in v):
        raise TypeError(f"{fn}(): incompatible function arguments: a sequence holding arrays")
    return v


def _kernel(name: str):
    target = getattr(_C, name)

    def run(*args):
        return target(*(_unwrap(a, name) for a in args))

    run.__name__ = name
    return run


for _name in KERNELS:
    globals()[_name] = _kernel(_name)


def cross_entropy_forward(logits, target, loss=None):
    """As the real module: the mean loss stays on the device, in a 0-d array (or `loss`), returned."""
    value = _C.cross_entropy_forward(_unwrap(logits, "cross_entropy_forward"), _unwrap(target, "cross_entropy_forward"))
    result = loss if loss is not None else FakeDeviceArray(np.empty((), np.float32))
    result._a.reshape(-1)[0] = value
    return result


def _arr(v, fn: str, name: str, dtypes=("float32",)) -> np.ndarray:
    if not isinstance(v, FakeDeviceArray):
        raise TypeError(f"{fn}(): argument '{name}' got {type(v).__name__}, needed a DeviceArray")
    if v.dtype.name not in dtypes:
        raise ValueError(f"{fn}: argument '{name}' got dtype {v.dtype}, needed {' or '.join(dtypes)}")
    return v._a


def _same_shape(a, b, fn: str, name: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{fn}: argument '{name}' got shape {a.shape}, needed {b.shape}")


# -- runtime

def status():
    return True, "fake"


def device_count() -> int:
    return 1


def build_info() -> dict:
    return {"version": "fake", "cuda_runtime": "fake", "nvcc": "fake", "archs": "none", "driver": None}


def memory_info() -> dict:
    """The real module's dict: allocator counters and the device's free/total bytes."""
    return {"in_use_bytes": 0, "cached_bytes": 0, "device_mallocs": 0, "free_bytes": _MEMORY, "total_bytes": _MEMORY}


def synchronize() -> None:
    pass


def set_precision(precision: str) -> None:
    global _precision
    if precision not in ("fp32", "tf32", "bf16"):
        raise ValueError(f"set_precision: argument 'precision' got {precision!r}")
    _precision = precision


def get_precision() -> str:
    return _precision


def empty(shape, dtype):
    if not isinstance(shape, tuple) or dtype not in _DTYPES:
        raise TypeError(f"empty(): needed a shape tuple and one of {_DTYPES}, got {shape!r}, {dtype!r}")
    a = np.empty(shape, dtype)
    a.fill(np.nan if dtype == "float32" else 0x5A)  # garbage that shows
    return FakeDeviceArray(a)


def to_device(a):
    if not isinstance(a, np.ndarray) or a.dtype.name not in _DTYPES or not a.flags.c_contiguous:
        raise TypeError(f"to_device(): needed a C-contiguous ndarray of {_DTYPES}, got {type(a).__name__}")
    return FakeDeviceArray(a.copy())


def upload(dst, a) -> None:
    d = _arr(dst, "upload", "dst", _DTYPES)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"upload: argument 'array' got {type(a).__name__}, needed a numpy.ndarray")
    if a.dtype != d.dtype or a.shape != d.shape or not a.flags.c_contiguous:  # the real one never converts
        raise ValueError(f"upload: argument 'array' needed a C-contiguous ndarray of dtype {d.dtype} and shape {d.shape}")
    np.copyto(d, a)


def copy(src, dst) -> None:
    s, d = _arr(src, "copy", "src", _DTYPES), _arr(dst, "copy", "dst", _DTYPES)
    if s.dtype != d.dtype:
        raise ValueError(f"copy: argument 'dst' got dtype {d.dtype}, needed {s.dtype}")
    _same_shape(d, s, "copy", "dst")
    np.copyto(d, s)


def fill(dst, value) -> None:
    _arr(dst, "fill", "dst", _DTYPES).fill(value)


# -- tensor helpers

def add(a, b, out) -> None:
    x, y, o = _arr(a, "add", "a"), _arr(b, "add", "b"), _arr(out, "add", "out")
    _same_shape(y, x, "add", "b")
    _same_shape(o, x, "add", "out")
    np.add(x, y, out=o)


def concat(arrays, axis: int, out) -> None:
    xs = [_arr(a, "concat", f"arrays[{i}]") for i, a in enumerate(arrays)]
    np.concatenate(xs, axis=axis, out=_arr(out, "concat", "out"))


def split(x, axis: int, outs) -> None:
    src = _arr(x, "split", "x")
    dst = [_arr(o, "split", f"outs[{i}]") for i, o in enumerate(outs)]
    bounds = np.cumsum([d.shape[axis] for d in dst])
    if bounds[-1] != src.shape[axis]:
        raise ValueError("split: the outputs' sizes along axis do not add up to x's")
    for d, part in zip(dst, np.split(src, bounds[:-1], axis=axis)):
        _same_shape(d, part, "split", "outs")
        np.copyto(d, part)


def _index(idx, n: int, fn: str) -> np.ndarray:
    i = _arr(idx, fn, "idx", ("int64",))
    if i.ndim != 1:
        raise ValueError(f"{fn}: argument 'idx' got {i.ndim}-D, needed 1-D")
    if i.size and (i.min() < 0 or i.max() >= n):
        raise ValueError(f"{fn}: argument 'idx' holds a row outside [0, {n})")
    return i


def take_rows(src, idx, out, scale) -> None:
    s = _arr(src, "take_rows", "src", ("float32", "uint8"))
    i = _index(idx, len(s), "take_rows")
    o = _arr(out, "take_rows", "out")
    if o.shape != (len(i), *s.shape[1:]):
        raise ValueError(f"take_rows: argument 'out' got shape {o.shape}, needed {(len(i), *s.shape[1:])}")
    np.multiply(s[i], np.float32(scale), out=o, casting="unsafe")


def take_labels(src, idx, out) -> None:
    s = _arr(src, "take_labels", "src", ("int64", "float32"))
    i = _index(idx, len(s), "take_labels")
    o = _arr(out, "take_labels", "out", (s.dtype.name,))
    if o.shape != (len(i), *s.shape[1:]):
        raise ValueError(f"take_labels: argument 'out' got shape {o.shape}, needed {(len(i), *s.shape[1:])}")
    np.copyto(o, s[i])


def _counter(out, fn: str) -> np.ndarray:
    o = _arr(out, fn, "out")
    if o.shape != (1,):
        raise ValueError(f"{fn}: argument 'out' got shape {o.shape}, needed (1,)")
    return o


def argmax_hits(logits, labels, out) -> None:
    z = _arr(logits, "argmax_hits", "logits")
    t = _arr(labels, "argmax_hits", "labels", ("int64",))
    if z.ndim != 2 or t.shape != (z.shape[0],):
        raise ValueError(f"argmax_hits: needed logits (N, K) and labels (N,), got {z.shape}, {t.shape}")
    o = _counter(out, "argmax_hits")
    o += np.float32(np.count_nonzero(z.argmax(axis=1) == t))


def sum_into(x, out) -> None:
    o = _counter(out, "sum_into")
    o += np.float32(_arr(x, "sum_into", "x").sum(dtype=np.float64))


def scale(x, alpha, out) -> None:
    s, o = _arr(x, "scale", "x"), _arr(out, "scale", "out")
    _same_shape(o, s, "scale", "out")
    np.multiply(s, np.float32(alpha), out=o)


def cross_entropy_sum_into(logits, target, total, weight) -> None:
    z = _arr(logits, "cross_entropy_sum_into", "logits")
    t = _arr(target, "cross_entropy_sum_into", "target", ("int64", "float32"))
    o = _counter(total, "cross_entropy_sum_into")
    if len(z):  # as the real kernel: no rows add nothing (the mean of none would be NaN)
        o += np.float32(weight * len(z) * _C.cross_entropy_forward(z, t))
