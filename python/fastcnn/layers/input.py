"""Input: the entry point of a functional graph, and the symbolic tensors that flow through it."""
from __future__ import annotations

from typing import Sequence

from .base import Layer, register, shape_str

__all__ = ["Input", "InputLayer", "SymbolicTensor"]


class SymbolicTensor:
    """A placeholder for an array in a graph under construction: its shape (no batch axis) and producer."""

    def __init__(self, shape: tuple[int, ...], layer: Layer):
        self.shape = tuple(shape)
        self.layer = layer

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape=(None, {', '.join(map(str, self.shape))}) from {self.layer.name!r}>"


@register
class InputLayer(Layer):
    """Feeds the model's input array through unchanged."""

    _prefix = "input"

    def __init__(self, shape: Sequence[int], name: str | None = None):
        super().__init__(name=name)
        try:
            self.shape = tuple(int(s) for s in shape)
        except (TypeError, ValueError):
            raise TypeError(f"Input: argument 'shape' got {shape!r}, needed a sequence of ints "
                            f"(without the batch axis)") from None
        if not self.shape or any(s < 1 for s in self.shape):
            raise ValueError(f"Input: argument 'shape' got {shape_str(self.shape)}, needed a non-empty shape "
                             f"of positive sizes (without the batch axis)")
        self.build_for(self.shape)
        self.output = SymbolicTensor(self.shape, self)
        self._node = ([], False, self.output)

    def forward(self, x, training):
        return x

    def backward(self, dy):
        return dy

    def get_config(self):
        return {"name": self._name, "shape": list(self.shape)}


def Input(shape: Sequence[int], name: str | None = None) -> SymbolicTensor:
    """A symbolic model input of the given shape (without the batch axis), e.g. Input((1, 28, 28))."""
    return InputLayer(shape, name=name).output
