"""Argument checks shared by the network constructors."""
from __future__ import annotations

import contextlib

from ..functional import _validate as V
from ..layers.base import shape_str


def check_args(net: str, num_classes, input_shape) -> tuple[int, tuple[int, int, int]]:
    """num_classes as an int >= 1 and input_shape as a (C, H, W) tuple of positive ints."""
    num_classes = V.integer(num_classes, net, "num_classes", 1)
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise TypeError(f"{net}: argument 'input_shape' got {input_shape!r}, needed (C, H, W) ints") from None
    if len(shape) != 3 or any(s < 1 for s in shape):
        raise ValueError(f"{net}: argument 'input_shape' got {input_shape!r}, needed (C, H, W) with positive "
                         f"sizes (no batch axis)")
    return num_classes, shape


@contextlib.contextmanager
def fitting(net: str, input_shape):
    """Turn a layer's shape error while assembling a network into one that names the network's input."""
    try:
        yield
    except ValueError as e:
        raise ValueError(f"{net}: argument 'input_shape' got {shape_str(input_shape)}, which this network "
                         f"cannot take (its fixed stages shrink the image below 1x1 or below a kernel): {e}") \
            from None
