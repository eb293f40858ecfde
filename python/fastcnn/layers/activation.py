"""Activation layers, and the activation= option of Conv and Dense layers."""
from __future__ import annotations

import numpy as np

from .. import _random
from .. import functional as F
from . import initializers
from .base import Layer, register

__all__ = ["ReLU", "LeakyReLU", "PReLU", "RReLU", "ELU", "Sigmoid", "Tanh", "Softmax", "Activation",
           "ACTIVATIONS", "check_activation"]

# the names accepted by activation=
ACTIVATIONS = ("relu", "tanh", "sigmoid", "softmax", "elu", "leaky_relu")


def check_activation(activation, owner: str):
    """activation as a canonical name or None; ValueError naming the argument otherwise."""
    if activation is None:
        return None
    if isinstance(activation, str) and activation.lower() in ACTIVATIONS:
        return activation.lower()
    if isinstance(activation, str) and activation.lower() == "linear":
        return None
    raise ValueError(f"{owner}: argument 'activation' got {activation!r}, needed None or one of "
                     f"{', '.join(repr(a) for a in ACTIVATIONS)}")


def activation_forward(name: str, x: np.ndarray, out=None) -> np.ndarray:
    if name == "softmax":
        return F.softmax(x, axis=1, out=out)
    return getattr(F, name)(x, out=out)


def activation_backward(name: str, dy: np.ndarray, x: np.ndarray, out=None) -> np.ndarray:
    """The input gradient, written into out (an array or None) when given."""
    if name == "softmax":
        return F.softmax_backward(dy, x, axis=1, out=(out,))[0]
    return getattr(F, name + "_backward")(dy, x, out=(out,))[0]


class _Elementwise(Layer):
    """An activation y = f(x): caches x in training; output and input gradient in the layer's buffers."""

    def forward(self, x, training):
        if training:
            self.cache = x
        return self._f(x, self.buffer("y", x.shape))

    def backward(self, dy):
        return self._df(dy, self.cache, self.buffer("dx", self.cache.shape))


@register
class ReLU(_Elementwise):
    _prefix = "relu"

    def _f(self, x, out):
        return F.relu(x, out=out)

    def _df(self, dy, x, out):
        return F.relu_backward(dy, x, out=(out,))[0]


@register
class LeakyReLU(_Elementwise):
    """max(x, 0) + alpha * min(x, 0) (alpha 0.01 as PyTorch)."""

    _prefix = "leaky_relu"

    def __init__(self, alpha: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def _f(self, x, out):
        return F.leaky_relu(x, alpha=self.alpha, out=out)

    def _df(self, dy, x, out):
        return F.leaky_relu_backward(dy, x, alpha=self.alpha, out=(out,))[0]

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@register
class ELU(_Elementwise):
    _prefix = "elu"

    def __init__(self, alpha: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def _f(self, x, out):
        return F.elu(x, alpha=self.alpha, out=out)

    def _df(self, dy, x, out):
        return F.elu_backward(dy, x, alpha=self.alpha, out=(out,))[0]

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@register
class Sigmoid(_Elementwise):
    def _f(self, x, out):
        return F.sigmoid(x, out=out)

    def _df(self, dy, x, out):
        return F.sigmoid_backward(dy, x, out=(out,))[0]


@register
class Tanh(_Elementwise):
    def _f(self, x, out):
        return F.tanh(x, out=out)

    def _df(self, dy, x, out):
        return F.tanh_backward(dy, x, out=(out,))[0]


@register
class Softmax(_Elementwise):
    """Softmax over the channel axis (axis=1 of the batch array)."""

    def __init__(self, axis: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        if not 1 <= self.axis <= len(input_shape):
            raise ValueError(f"axis {self.axis} is not an axis of a batch of shape (N, "
                             f"{', '.join(map(str, input_shape))})")
        return tuple(input_shape)

    def _f(self, x, out):
        return F.softmax(x, axis=self.axis, out=out)

    def _df(self, dy, x, out):
        return F.softmax_backward(dy, x, axis=self.axis, out=(out,))[0]

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@register
class Activation(_Elementwise):
    """An activation given by name ('relu', 'tanh', 'sigmoid', 'softmax', 'elu', 'leaky_relu')."""

    def __init__(self, activation: str, **kwargs):
        super().__init__(**kwargs)
        self.activation = check_activation(activation, "Activation")
        if self.activation is None:
            raise ValueError(f"Activation: argument 'activation' got {activation!r}, needed one of "
                             f"{', '.join(repr(a) for a in ACTIVATIONS)}")

    def _f(self, x, out):
        return activation_forward(self.activation, x, out)

    def _df(self, dy, x, out):
        return activation_backward(self.activation, dy, x, out)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


@register
class PReLU(Layer):
    """max(x, 0) + alpha * min(x, 0) with alpha learned per channel (axis 1), initialized to 0.25.

    shared=True learns a single alpha for all channels.
    """

    _prefix = "prelu"

    def __init__(self, alpha_initializer=0.25, shared: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.Constant(alpha_initializer) \
            if isinstance(alpha_initializer, (int, float)) else initializers.get(alpha_initializer)
        self.shared = bool(shared)

    def build(self, input_shape):
        self.add_param("alpha", (1,) if self.shared else (input_shape[0],), self.alpha_initializer)

    def forward(self, x, training):
        if training:
            self.cache = x
        return F.prelu(x, self.params["alpha"].value, out=self.buffer("y", x.shape))

    def backward(self, dy):
        alpha = self.params["alpha"]
        x = self.cache
        dx, _ = F.prelu_backward(dy, x, alpha.value, out=(self.buffer("dx", x.shape), alpha.grad))
        return dx

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "shared": self.shared}


@register
class RReLU(Layer):
    """Randomized leaky ReLU: slope ~ U(lower, upper) per element in training, (lower+upper)/2 at inference."""

    _prefix = "rrelu"

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, **kwargs):
        super().__init__(**kwargs)
        self.lower, self.upper = float(lower), float(upper)

    def forward(self, x, training):
        seed = _random.next_seed() if training else None
        y, slope = F.rrelu(x, lower=self.lower, upper=self.upper, training=bool(training), seed=seed,
                           out=(self.buffer("y", x.shape), self.buffer("slope", x.shape)))
        if training:
            self.cache = slope
        return y

    def backward(self, dy):
        return F.rrelu_backward(dy, self.cache, out=(self.buffer("dx", dy.shape),))[0]

    def get_config(self):
        return {**super().get_config(), "lower": self.lower, "upper": self.upper}
