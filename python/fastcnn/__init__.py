"""fastcnn: convolutional networks with hand-written C++ (SIMD + OpenMP) and CUDA kernels.

Arrays are numpy, float32, NCHW. The kernels live in the compiled module ``fastcnn._C``;
``fastcnn.functional`` is the array-level API over them. On NVIDIA GPUs the same ops run on device
arrays (``fastcnn.cuda``, loaded lazily from ``fastcnn._C_cuda``): ``model.to('cuda')``.
"""
from __future__ import annotations

from . import _C
from . import functional
from ._random import seed
from . import layers, models, optim, callbacks, datasets, cuda
from . import _precision
from .model import Input, Model, Sequential
from .saving import load_model
from .plot import plot_history

__version__ = "0.1.0"

__all__ = ["functional", "layers", "models", "optim", "callbacks", "datasets", "Model", "Sequential", "Input",
           "load_model", "plot_history", "info", "set_num_threads", "get_num_threads", "seed", "set_precision",
           "get_precision", "cuda", "__version__"]


def set_num_threads(n: int) -> None:
    """Set the number of CPU threads the kernels use (results do not depend on it)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: argument 'n' got {type(n).__name__}, needed an int >= 1")
    if n < 1:
        raise ValueError(f"set_num_threads: argument 'n' got {n}, needed an int >= 1")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    """The number of CPU threads the kernels use."""
    return _C.get_num_threads()


def set_precision(precision: str) -> None:
    """The math of the CUDA convolution and linear kernels: 'fp32' (default), 'tf32' or 'bf16' (tensor
    cores; inputs rounded to 10 / 7 mantissa bits, fp32 accumulation). The CPU always computes in fp32."""
    _precision.set(precision)


def get_precision() -> str:
    """The precision set by set_precision ('fp32', 'tf32' or 'bf16')."""
    return _precision.get()


def info() -> dict:
    """Build and runtime facts: version, compiler, OpenMP, the ISA in use, CUDA.

    'cuda' is a dict: built (the CUDA module exists), available (usable here), reason (why not, else
    None), device (the GPU's description, else None), precision. cuda_built / cuda_available repeat
    the first two. Calling info() loads the CUDA module when there is one.
    """
    d = {"version": __version__}
    d.update(_C.build_info())
    d["version"] = __version__
    d.update(_C.runtime_info())
    available = cuda.is_available()
    d["cuda"] = {"built": cuda._built(), "available": available, "reason": cuda.why_unavailable(),
                 "device": cuda.status_line() if available else None, "precision": _precision.get()}
    d["cuda_built"], d["cuda_available"] = d["cuda"]["built"], available
    return d
