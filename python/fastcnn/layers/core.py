"""Dense, Flatten, BatchNorm, LocalResponseNorm, Dropout."""
from __future__ import annotations

import math

from .. import _C, _random
from .. import functional as F
from ..functional import _validate as V
from . import initializers
from .activation import check_activation
from .base import Layer, register
from .conv import Direct, weighted_backward, weighted_forward

__all__ = ["Dense", "Flatten", "BatchNorm", "LocalResponseNorm", "Dropout"]


@register
class Dense(Layer):
    """Fully connected: (N, in) -> (N, units); kernel (units, in) as fastcnn.functional.linear."""

    def __init__(self, units: int, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = V.integer(units, "Dense", "units", 1)
        self.activation = check_activation(activation, "Dense")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._direct = None  # Direct kernel calls, once an input shape has been validated

    @staticmethod
    def _make_direct(x, w, b, kwargs):
        def forward(x, w, b, y):
            _C.linear_forward(x, w, b, y)

        def backward(dy, x, w, dx, dw, db):
            _C.linear_backward(dy, x, w, dx, dw, db)

        return Direct(x.shape, forward, backward)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"needed a flat (features,) input; put a Flatten or GlobalAvgPool2D before it")
        return (self.units,)

    def build(self, input_shape):
        self.add_param("kernel", (self.units, input_shape[0]), self.kernel_initializer)
        if self.use_bias:
            self.add_param("bias", (self.units,), self.bias_initializer)

    def forward(self, x, training):
        return weighted_forward(self, F.linear, x, {}, training)

    def backward(self, dy):
        return weighted_backward(self, F.linear_backward, dy, {})

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


@register
class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W) (a view)."""

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)  # Python ints: np.prod wraps around past 2**63 silently

    def forward(self, x, training):
        return x.reshape((x.shape[0], -1))

    def backward(self, dy):
        return dy.reshape((dy.shape[0], *self.input_shape))


@register
class BatchNorm(Layer):
    """Batch normalization over axis 1 for (N, C) or (N, C, H, W), with PyTorch's semantics.

    Trainable gamma (ones) and beta (zeros); moving_mean (zeros) and moving_var (ones) in layer.state,
    updated in place in training: running = (1 - momentum) * running + momentum * batch statistic
    (unbiased variance).
    """

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.momentum = V.real(momentum, "BatchNorm", "momentum", 0.0, 1.0)
        self.eps = V.real(eps, "BatchNorm", "eps", 0.0, lo_open=True)

    def compute_output_shape(self, input_shape):
        if len(input_shape) not in (1, 3):
            raise ValueError("needed (C,) or (C, H, W) per sample")
        return tuple(input_shape)

    def build(self, input_shape):
        c = input_shape[0]
        self.add_param("gamma", (c,), "ones")
        self.add_param("beta", (c,), "zeros")
        self.add_state("moving_mean", shape=(c,), fill=0.0)
        self.add_state("moving_var", shape=(c,), fill=1.0)

    def _args(self):
        return (self.params["gamma"].value, self.params["beta"].value, self.state["moving_mean"],
                self.state["moving_var"])

    def forward(self, x, training):
        if training:
            self.cache = x
        return F.batch_norm(x, *self._args(), training=bool(training), momentum=self.momentum, eps=self.eps,
                            out=self.buffer("y", x.shape))

    def backward(self, dy):
        x = self.cache
        dx, _, _ = F.batch_norm_backward(dy, x, *self._args(), training=True, momentum=self.momentum,
                                         eps=self.eps, out=(self.buffer("dx", x.shape),
                                                            self.params["gamma"].grad, self.params["beta"].grad))
        return dx

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "eps": self.eps}


@register
class LocalResponseNorm(Layer):
    """Local response normalization across channels (AlexNet, GoogLeNet; PyTorch's definition)."""

    _prefix = "lrn"

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.size = V.integer(size, "LocalResponseNorm", "size", 1)
        self.alpha = V.real(alpha, "LocalResponseNorm", "alpha")
        self.beta = V.real(beta, "LocalResponseNorm", "beta")
        self.k = V.real(k, "LocalResponseNorm", "k")

    def compute_output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError("needed (C, ...) with at least one spatial dimension")
        return tuple(input_shape)

    def _kwargs(self):
        return dict(size=self.size, alpha=self.alpha, beta=self.beta, k=self.k)

    def forward(self, x, training):
        if training:
            self.cache = x
        return F.local_response_norm(x, **self._kwargs(), out=self.buffer("y", x.shape))

    def backward(self, dy):
        x = self.cache
        return F.local_response_norm_backward(dy, x, **self._kwargs(), out=(self.buffer("dx", x.shape),))[0]

    def get_config(self):
        return {**super().get_config(), **self._kwargs()}


@register
class Dropout(Layer):
    """Zeroes each element with probability rate in training and scales the rest by 1/(1-rate)."""

    def __init__(self, rate: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.rate = V.real(rate, "Dropout", "rate", 0.0, 1.0, hi_open=True)

    def forward(self, x, training):
        if not training or self.rate == 0.0:
            self.cache = None
            return x
        y, mask = F.dropout(x, self.rate, True, seed=_random.next_seed(),
                            out=(self.buffer("y", x.shape), self.buffer("mask", x.shape, "uint8")))
        self.cache = mask
        return y

    def backward(self, dy):
        if self.cache is None:
            return dy
        return F.dropout_backward(dy, self.cache, self.rate, out=(self.buffer("dx", dy.shape),))[0]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}
