"""Argument checks shared by every op.

Every message has the shape ``"<op>: argument '<name>' got <what it got>, needed <what it needs>"``:
ValueError for a bad value or shape, TypeError for a non-numeric input.

Devices: every op picks its kernel module with ``kernels(fn, (name, array), ...)`` — ``fastcnn._C``
for host arrays, the CUDA module for device arrays (all array arguments on one side, else a
ValueError naming the odd one). array() passes float32 device arrays through unconverted, and
output() / outputs() / new_array() allocate on the side of the op's first input. Until the CUDA
module is loaded (fastcnn.cuda) no device array can exist and each of these is one falsy test.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from .. import _C

_MAX_ELEMENTS = (1 << 62) // 4  # the byte size of a float32 array must fit int64 with room
_MAX_INT = 1 << 62  # integer arguments (sizes, strides, ...) stay far from int64 overflow


_DEVICE: tuple = ()   # (the CUDA module's DeviceArray type,) once fastcnn.cuda loaded it
_CUDA = None          # the CUDA kernel module then


def use_cuda(module) -> None:
    """Route device arrays to module (None: no CUDA). Called by fastcnn.cuda when it loads."""
    global _DEVICE, _CUDA
    _CUDA = module
    _DEVICE = () if module is None else (module.DeviceArray,)


def is_device(a) -> bool:
    return bool(_DEVICE) and isinstance(a, _DEVICE)


def _kind(a) -> str:
    if isinstance(a, _DEVICE):
        return "a device array"
    return "a numpy array" if isinstance(a, np.ndarray) else f"a {type(a).__name__}"


def mixing_error(fn: str, name: str, a, ref_name: str, on_device: bool) -> ValueError:
    if on_device:
        return error(fn, name, _kind(a), f"a device array like '{ref_name}' (fastcnn.cuda.to_device)")
    return error(fn, name, _kind(a), f"a host (numpy) array like '{ref_name}' (DeviceArray.numpy())")


def kernels(fn: str, *named):
    """The kernel module for an op's array arguments, (name, array-or-None) pairs: fastcnn._C for
    host arrays, the CUDA module for device arrays. Mixing the two is a ValueError naming the
    argument that differs from the first one given."""
    if not _DEVICE:
        return _C
    ref = None
    for name, a in named:
        if a is None:
            continue
        dev = isinstance(a, _DEVICE)
        if ref is None:
            ref = (name, dev)
        elif dev != ref[1]:
            raise mixing_error(fn, name, a, ref[0], ref[1])
    return _CUDA if ref is not None and ref[1] else _C


def shape_str(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + (",)" if len(shape) == 1 else ")")


def error(fn: str, name: str, got: str, needed: str) -> ValueError:
    return ValueError(f"{fn}: argument '{name}' got {got}, needed {needed}")


def array(x, fn: str, name: str, ndim: int | Sequence[int] | None = None, layout: str = "") -> np.ndarray:
    """x as a C-contiguous float32 array (no copy when it already is one).

    ndim: the allowed number of dimensions; layout names them for the message, e.g. "(N, C, H, W)".
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.c_contiguous:
        a = x
    elif _DEVICE and isinstance(x, _DEVICE):
        if x.dtype != np.float32:  # device arrays are never converted (that would be a hidden kernel)
            raise error(fn, name, f"a device array of dtype {x.dtype}", "float32")
        a = x
    else:
        if isinstance(x, np.ndarray):
            src = x
        else:
            try:
                src = np.asarray(x)
            except Exception as e:  # ragged lists and the like
                raise TypeError(f"{fn}: argument '{name}' got {type(x).__name__} that is not an array "
                                f"({e}), needed a numeric array") from None
        if src.dtype.kind not in "biuf":
            raise TypeError(f"{fn}: argument '{name}' got dtype {src.dtype}, needed a numeric (float32) array")
        a = np.require(src, dtype=np.float32, requirements="C")  # keeps 0-d arrays 0-d
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if a.ndim not in allowed:
            dims = " or ".join(f"{d}-D" for d in allowed)
            raise error(fn, name, f"shape {shape_str(a.shape)} ({a.ndim}-D)", f"a {dims} array {layout}".rstrip())
    return a


def optional_array(x, fn: str, name: str, ndim=None, layout: str = "") -> np.ndarray | None:
    return None if x is None else array(x, fn, name, ndim, layout)


def check_shape(a: np.ndarray, fn: str, name: str, expected: Sequence[int], why: str = "") -> None:
    if tuple(a.shape) != tuple(int(s) for s in expected):
        needed = f"shape {shape_str(expected)}" + (f" ({why})" if why else "")
        raise error(fn, name, f"shape {shape_str(a.shape)}", needed)


def integer(v, fn: str, name: str, minimum: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{fn}: argument '{name}' got {v!r} ({type(v).__name__}), needed an int")
    v = int(v)
    if minimum is not None and v < minimum:
        raise error(fn, name, repr(v), f"an int >= {minimum}")
    if abs(v) > _MAX_INT:
        raise error(fn, name, repr(v), "an int of magnitude at most 2**62 (sizes overflow)")
    return v


def real(v, fn: str, name: str, lo: float | None = None, hi: float | None = None,
         lo_open: bool = False, hi_open: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{fn}: argument '{name}' got {v!r} ({type(v).__name__}), needed a real number")
    v = float(v)
    if v != v:
        raise error(fn, name, "nan", "a number")
    bad = (lo is not None and (v < lo or (lo_open and v == lo))) \
        or (hi is not None and (v > hi or (hi_open and v == hi)))
    if bad:
        left = "" if lo is None else ("(" if lo_open else "[") + f"{lo:g}"
        right = "" if hi is None else f"{hi:g}" + (")" if hi_open else "]")
        rng = f"in {left}, {right}" if lo is not None and hi is not None else (
            f">{'' if lo_open else '='} {lo:g}" if lo is not None else f"<{'' if hi_open else '='} {hi:g}")
        raise error(fn, name, repr(v), f"a number {rng}")
    return v


def tuple_of(v, n: int, fn: str, name: str, minimum: int | None = None) -> tuple[int, ...]:
    """An int or a sequence of n ints, each >= minimum, as an n-tuple."""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        vals = (int(v),) * n
    elif isinstance(v, (tuple, list)) and len(v) == n and all(
            isinstance(e, numbers.Integral) and not isinstance(e, bool) for e in v):
        vals = tuple(int(e) for e in v)
    else:
        raise TypeError(f"{fn}: argument '{name}' got {v!r}, needed an int or a sequence of {n} ints")
    if minimum is not None and any(e < minimum for e in vals):
        raise error(fn, name, repr(v), f"values >= {minimum}")
    if any(abs(e) > _MAX_INT for e in vals):
        raise error(fn, name, repr(v), "values of magnitude at most 2**62 (sizes overflow)")
    return vals


def new_array(shape: Sequence[int], fn: str, like=None, dtype: str = "float32"):
    """np.empty(shape, dtype), or an empty device array when `like` is a device array, with a
    ValueError (not a MemoryError or overflow) for absurd sizes."""
    total = 1
    for s in shape:
        if s < 0:
            raise ValueError(f"{fn}: output shape {shape_str(shape)} has a negative extent")
        total *= int(s)
    if total > _MAX_ELEMENTS:
        raise ValueError(f"{fn}: output shape {shape_str(shape)} has {total} elements, "
                         f"needed at most {_MAX_ELEMENTS} (sizes overflow)")
    shape = tuple(int(s) for s in shape)
    if _DEVICE and isinstance(like, _DEVICE):
        return _CUDA.empty(shape, dtype)
    return np.empty(shape, dtype=dtype)


def _device_output(out, shape, fn: str, inputs: Sequence, name: str, dtype: str):
    """output()'s checks for a device array out (device arrays are always C-contiguous)."""
    if inputs and inputs[0][1] is not None and not isinstance(inputs[0][1], _DEVICE):
        raise mixing_error(fn, name, out, inputs[0][0], False)
    if out.dtype != dtype:
        raise error(fn, name, f"dtype {out.dtype}", f"{dtype} (written in place, so never converted)")
    if out.shape != shape:
        raise error(fn, name, f"shape {shape_str(out.shape)}", f"shape {shape_str(shape)} (the result's)")
    for in_name, a in inputs:  # device memory can only be compared by identity here
        if a is out:
            raise error(fn, name, f"an array that overlaps '{in_name}'", "a separate array (no aliasing)")
    return out


def output(out, shape: Sequence[int], fn: str, inputs: Sequence = (), name: str = "out",
           dtype: str = "float32") -> np.ndarray:
    """The array an op writes its result of `shape` into: a new one (out None), or out itself.

    out must be a writable C-contiguous ndarray of `dtype` of exactly `shape` that does not overlap any
    of `inputs` ((name, array-or-None) pairs; the kernels read those while writing out). The overlap
    test is np.may_share_memory, a bounds comparison: cheap, and exact for separately allocated arrays.
    """
    if out is None:
        return new_array(shape, fn, inputs[0][1] if inputs else None, dtype)
    if not isinstance(out, np.ndarray):
        if _DEVICE and isinstance(out, _DEVICE):
            return _device_output(out, tuple(int(s) for s in shape), fn, inputs, name, dtype)
        raise TypeError(f"{fn}: argument '{name}' got {type(out).__name__}, needed a {dtype} numpy array "
                        f"(written in place) or None")
    if _DEVICE and inputs and isinstance(inputs[0][1], _DEVICE):
        raise mixing_error(fn, name, out, inputs[0][0], True)
    shape = tuple(int(s) for s in shape)
    if out.dtype != dtype:
        raise error(fn, name, f"dtype {out.dtype}", f"{dtype} (written in place, so never converted)")
    if out.shape != shape:
        raise error(fn, name, f"shape {shape_str(out.shape)}", f"shape {shape_str(shape)} (the result's)")
    if not out.flags.c_contiguous:
        raise error(fn, name, "a non-C-contiguous array", "a C-contiguous array (written in place)")
    if not out.flags.writeable:
        raise error(fn, name, "a read-only array", "a writable array (written in place)")
    for in_name, a in inputs:
        if a is not None and np.may_share_memory(out, a):
            raise error(fn, name, f"an array that overlaps '{in_name}'", "a separate array (no aliasing)")
    return out


def outputs(out, shapes: Sequence, fn: str, inputs: Sequence = (), dtypes: Sequence = ()) -> list:
    """The arrays an op writes its results into, one per entry of shapes (None: not computed).

    out: None (all new) or a tuple/list with one array-or-None per result, named 'out[i]' in errors;
    an entry for a result that is not computed is ignored. No array may overlap the inputs or another.
    dtypes: each result's dtype where not float32 (a shorter sequence: the rest are float32).
    """
    n = len(shapes)
    if out is None:
        out = (None,) * n
    elif not isinstance(out, (tuple, list)) or len(out) != n:
        what = f"{len(out)} entries" if isinstance(out, (tuple, list)) else type(out).__name__
        raise TypeError(f"{fn}: argument 'out' got {what}, needed None or a tuple of {n} arrays-or-None "
                        f"(one per gradient it returns)")
    result: list = []
    seen = list(inputs)
    for i, (o, shape) in enumerate(zip(out, shapes)):
        if shape is None:
            result.append(None)
            continue
        a = output(o, shape, fn, seen, name=f"out[{i}]", dtype=dtypes[i] if i < len(dtypes) else "float32")
        seen.append((f"out[{i}]", a))
        result.append(a)
    return result


def zeros(shape: Sequence[int], fn: str, like=None):
    a = new_array(shape, fn, like)
    if _DEVICE and isinstance(a, _DEVICE):
        _CUDA.fill(a, 0.0)
    else:
        a.fill(0.0)
    return a


def padding(pad, fn: str, in_sizes: Sequence[int], kernel_extents: Sequence[int], strides: Sequence[int],
            name: str = "padding", modes: Sequence[str] = ("valid", "same", "full")) -> list[tuple[int, int]]:
    """Padding as one (before, after) pair per spatial dimension.

    pad: an int; a tuple of one int per dimension; a tuple of (before, after) pairs per dimension
    (for 1-D, a single pair (left, right) too); or a mode: 'valid' (none), 'same' (ceil(in/stride)
    outputs, the odd extra row/column at the end, as TensorFlow), 'full' (extent-1 on each side).
    kernel_extents are the dilated kernel sizes dilation*(k-1)+1.
    """
    n = len(in_sizes)
    if isinstance(pad, str):
        mode = pad.lower()
        if mode not in modes:
            raise error(fn, name, repr(pad), "an int, a tuple, or one of " + ", ".join(repr(m) for m in modes))
        if mode == "valid":
            return [(0, 0)] * n
        if mode == "full":
            return [(k - 1, k - 1) for k in kernel_extents]
        out = []
        for size, k, s in zip(in_sizes, kernel_extents, strides):
            o = -(-size // s)
            total = max((o - 1) * s + k - size, 0)
            out.append((total // 2, total - total // 2))
        return out

    def is_int(e):
        return isinstance(e, numbers.Integral) and not isinstance(e, bool)

    if is_int(pad):
        pairs = [(int(pad), int(pad))] * n
    elif isinstance(pad, (tuple, list)) and len(pad) == n and all(is_int(e) for e in pad):
        pairs = [(int(e), int(e)) for e in pad]
    elif isinstance(pad, (tuple, list)) and len(pad) == n and all(
            isinstance(e, (tuple, list)) and len(e) == 2 and all(is_int(v) for v in e) for e in pad):
        pairs = [(int(a), int(b)) for a, b in pad]
    elif n == 1 and isinstance(pad, (tuple, list)) and len(pad) == 2 and all(is_int(e) for e in pad):
        pairs = [(int(pad[0]), int(pad[1]))]
    else:
        raise TypeError(f"{fn}: argument '{name}' got {pad!r}, needed an int, {n} ints, {n} (before, after) "
                        f"pairs, or one of " + ", ".join(repr(m) for m in modes))
    if any(a < 0 or b < 0 for a, b in pairs):
        raise error(fn, name, repr(pad), "non-negative padding")
    if any(a > _MAX_INT or b > _MAX_INT for a, b in pairs):
        raise error(fn, name, repr(pad), "padding of at most 2**62 (sizes overflow)")
    return pairs
