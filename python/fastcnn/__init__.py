"""fastcnn: convolutional networks with hand-written C++ (SIMD + OpenMP) and CUDA kernels.

Arrays are numpy, float32, NCHW. The kernels live in the compiled module ``fastcnn._C``;
``fastcnn.functional`` is the array-level API over them.
"""
from __future__ import annotations

from . import _C
from . import functional
from ._random import seed
from . import layers, models, optim, callbacks, datasets
from .model import Input, Model, Sequential
from .saving import load_model
from .plot import plot_history

__version__ = "0.1.0"

__all__ = ["functional", "layers", "models", "optim", "callbacks", "datasets", "Model", "Sequential", "Input",
           "load_model", "plot_history", "info", "set_num_threads", "get_num_threads", "seed", "__version__"]


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


def _cuda_facts() -> tuple[bool, bool]:
    try:
        from . import _C_cuda  # noqa: F401  (built only with CUDA)
    except ImportError:
        return False, False
    try:
        return True, bool(_C_cuda.is_available())
    except Exception:
        return True, False


def info() -> dict:
    """Build and runtime facts: version, compiler, OpenMP, the ISA in use, CUDA."""
    d = {"version": __version__}
    d.update(_C.build_info())
    d["version"] = __version__
    d.update(_C.runtime_info())
    d["cuda_built"], d["cuda_available"] = _cuda_facts()
    return d
