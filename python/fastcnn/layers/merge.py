"""Merge layers: Concatenate (channel axis) and Add. They take and return lists."""
from __future__ import annotations

import numpy as np

from .. import _tensor
from .base import Layer, register, shape_str

__all__ = ["Concatenate", "Add"]


def _check_list(input_shape) -> None:
    if not isinstance(input_shape, list) or len(input_shape) < 2:
        raise ValueError("needed a list of at least two inputs")


@register
class Concatenate(Layer):
    """Joins its inputs along axis (1: channels of the batch array); the other sizes must agree."""

    def __init__(self, axis: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        if self.axis < 1:
            raise ValueError(f"Concatenate: argument 'axis' got {axis!r}, needed an axis >= 1 (0 is the batch)")

    def compute_output_shape(self, input_shape):
        _check_list(input_shape)
        ndim = len(input_shape[0])
        if self.axis > ndim or any(len(s) != ndim for s in input_shape):
            raise ValueError(f"inputs {', '.join(shape_str(s) for s in input_shape)} need the same number of "
                             f"dimensions, with axis {self.axis} among them")
        a = self.axis - 1
        rest = [s[:a] + s[a + 1:] for s in input_shape]
        if any(r != rest[0] for r in rest):
            raise ValueError(f"inputs {', '.join(shape_str(s) for s in input_shape)} differ outside "
                             f"axis {self.axis}")
        out = list(input_shape[0])
        out[a] = sum(s[a] for s in input_shape)
        return tuple(out)

    def forward(self, xs, training):
        return _tensor.concat(xs, self.axis, self.buffer("y", (len(xs[0]), *self.output_shape)))

    def backward(self, dy):
        if self._cuda is not None:  # the device has no strided views: split into this layer's buffers
            outs = [self.buffer(f"dx{i}", (len(dy), *s)) for i, s in enumerate(self.input_shape)]
            self._cuda.split(dy, self.axis, outs)
            return outs
        bounds = np.cumsum([s[self.axis - 1] for s in self.input_shape])[:-1]
        return np.split(dy, bounds, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@register
class Add(Layer):
    """Elementwise sum of inputs of one shape (residual connections)."""

    def compute_output_shape(self, input_shape):
        _check_list(input_shape)
        if any(s != input_shape[0] for s in input_shape):
            raise ValueError(f"inputs {', '.join(shape_str(s) for s in input_shape)} need the same shape")
        return tuple(input_shape[0])

    def forward(self, xs, training):
        y = _tensor.add(xs[0], xs[1], self.buffer("y", (len(xs[0]), *self.output_shape)))
        for x in xs[2:]:
            _tensor.add(y, x, y)
        return y

    def backward(self, dy):
        return [dy] * len(self.input_shape)
