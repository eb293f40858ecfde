"""The math precision of the CUDA convolution and linear kernels (fastcnn.set_precision).

Stored here so it can be set before (or without) CUDA; pushed to the CUDA module when it loads and
on every change while it is loaded. The CPU kernels always compute in fp32 and ignore it.
"""
from __future__ import annotations

PRECISIONS = ("fp32", "tf32", "bf16")
_current = "fp32"


def get() -> str:
    return _current


def set(precision) -> None:
    global _current
    if not isinstance(precision, str):
        raise TypeError(f"set_precision: argument 'precision' got {precision!r} ({type(precision).__name__}), "
                        f"needed one of {', '.join(map(repr, PRECISIONS))}")
    if precision.lower() not in PRECISIONS:
        raise ValueError(f"set_precision: argument 'precision' got {precision!r}, needed one of "
                         f"{', '.join(map(repr, PRECISIONS))}")
    _current = precision.lower()
    from . import cuda
    if cuda._module is not None:
        cuda._module.set_precision(_current)
