"""Pooling layers: MaxPool1D/2D, AvgPool1D/2D, GlobalAvgPool2D."""
from __future__ import annotations

import numbers

from .. import _C
from .. import functional as F
from ..functional import _validate as V
from ..functional import pool as _pool_ops
from .activation import activation_backward, activation_forward
from .base import Layer, register
from .conv import plain

__all__ = ["MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D", "GlobalAvgPool2D"]


class _Pool(Layer):
    """pool_size, strides (default: pool_size), padding (int, pair, 'valid', 'same'), ceil_mode."""

    _ndim = 2

    def __init__(self, pool_size=2, strides=None, padding="valid", ceil_mode: bool = False, **kwargs):
        super().__init__(**kwargs)
        owner, n = type(self).__name__, self._ndim
        self.pool_size = V.tuple_of(pool_size, n, owner, "pool_size", 1)
        self.strides = self.pool_size if strides is None else V.tuple_of(strides, n, owner, "strides", 1)
        V.padding(padding, owner, [1] * n, [1] * n, [1] * n, modes=("valid", "same"))
        if isinstance(padding, str):
            self.padding = padding.lower()
        elif isinstance(padding, numbers.Integral):
            self.padding = int(padding)
        else:
            self.padding = [list(p) if isinstance(p, (tuple, list)) else int(p) for p in padding]
        self.ceil_mode = bool(ceil_mode)

    def _call_padding(self):
        if isinstance(self.padding, list):
            return tuple(tuple(p) if isinstance(p, list) else p for p in self.padding)
        return self.padding

    def compute_output_shape(self, input_shape):
        n = self._ndim
        if len(input_shape) != n + 1:
            raise ValueError(f"needed {n + 1} dimensions ({'C, L' if n == 1 else 'C, H, W'}) per sample")
        sizes = input_shape[1:]
        pads = V.padding(self._call_padding(), type(self).__name__, sizes, self.pool_size, self.strides,
                         modes=("valid", "same"))
        out = []
        for size, (p0, p1), k, s in zip(sizes, pads, self.pool_size, self.strides):
            if max(p0, p1) > k // 2:
                raise ValueError(f"padding {pads} is more than half the pooling window {self.pool_size}")
            span = size + p0 + p1 - k
            if span < 0:
                raise ValueError(f"the pooling window {self.pool_size} is larger than the padded input "
                                 f"{tuple(sz + a + b for sz, (a, b) in zip(sizes, pads))}")
            o = (-(-span // s) if self.ceil_mode else span // s) + 1
            if self.ceil_mode and (o - 1) * s >= size + p0:  # the last window must start inside the input
                o -= 1
            out.append(o)
        return (input_shape[0], *out)

    def _kwargs(self):
        one = self._ndim == 1
        return dict(stride=self.strides[0] if one else self.strides, padding=self._call_padding(),
                    ceil_mode=self.ceil_mode)

    def _k(self):
        return self.pool_size[0] if self._ndim == 1 else self.pool_size

    _direct = None  # MaxPool2D: (input shape, kernel arguments) once a shape has been validated

    def forward(self, x, training, activation=None):
        """activation (MaxPool2D, from the model): the previous Conv2D's, applied after pooling."""
        if training:
            self.cache = (x, activation)
        shape = (len(x), *self.output_shape)
        y = self.buffer("zp" if activation else "y", shape)
        direct = self._direct
        if direct is not None and direct[0] == x.shape and plain(x):
            _C.max_pool2d_forward(x, y, *direct[1])
        else:
            y = self._op(x, self._k(), **self._kwargs(), out=y)
            if type(self) is MaxPool2D and plain(x) and (direct is None or direct[0] != x.shape):
                kw = self._kwargs()
                _, _, geom = _pool_ops._pool2d_args("max_pool2d", x, self._k(), kw["stride"], kw["padding"],
                                                    kw["ceil_mode"])
                self._direct = (x.shape, geom)
        if activation:  # y holds the pooled pre-activation: a(max z) == max a(z) for these a
            out = self.buffer("y", shape)
            if plain(y):
                getattr(_C, activation + "_forward")(y, out)
                return out
            return activation_forward(activation, y, out=out)
        return y

    def backward(self, dy):
        x, activation = self.cache
        shape = (len(x), *self.output_shape)
        if activation:  # the activation's gradient at the pooled values, then routed to the maxima
            zp, dzp = self._buffers["zp"], self.buffer("dzp", shape)
            if plain(dy) and dy.shape == shape:
                getattr(_C, activation + "_backward")(dy, zp, dzp)
                dy = dzp
            else:
                dy = activation_backward(activation, dy, zp, out=dzp)
        dx = self.buffer("dx", x.shape)
        direct = self._direct
        if direct is not None and direct[0] == x.shape and plain(x) and plain(dy) and dy.shape == shape:
            _C.max_pool2d_backward(dy, x, dx, *direct[1])
            return dx
        return self._op_backward(dy, x, self._k(), **self._kwargs(), out=(dx,))[0]

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "ceil_mode": self.ceil_mode}


@register
class MaxPool1D(_Pool):
    _ndim = 1
    _prefix = "max_pool1d"

    @staticmethod
    def _op(x, k, **kw):
        return F.max_pool1d(x, k, **kw)

    @staticmethod
    def _op_backward(dy, x, k, **kw):
        return F.max_pool1d_backward(dy, x, k, **kw)


@register
class MaxPool2D(_Pool):
    _prefix = "max_pool2d"

    @staticmethod
    def _op(x, k, **kw):
        return F.max_pool2d(x, k, **kw)

    @staticmethod
    def _op_backward(dy, x, k, **kw):
        return F.max_pool2d_backward(dy, x, k, **kw)


class _AvgPool(_Pool):
    """count_include_pad: whether padded zeros count in the average (True, as PyTorch)."""

    def __init__(self, pool_size=2, strides=None, padding="valid", ceil_mode: bool = False,
                 count_include_pad: bool = True, **kwargs):
        super().__init__(pool_size, strides, padding, ceil_mode, **kwargs)
        self.count_include_pad = bool(count_include_pad)

    def _kwargs(self):
        return {**super()._kwargs(), "count_include_pad": self.count_include_pad}

    def get_config(self):
        return {**super().get_config(), "count_include_pad": self.count_include_pad}


@register
class AvgPool1D(_AvgPool):
    _ndim = 1
    _prefix = "avg_pool1d"

    @staticmethod
    def _op(x, k, **kw):
        return F.avg_pool1d(x, k, **kw)

    @staticmethod
    def _op_backward(dy, x, k, **kw):
        return F.avg_pool1d_backward(dy, x, k, **kw)


@register
class AvgPool2D(_AvgPool):
    _prefix = "avg_pool2d"

    @staticmethod
    def _op(x, k, **kw):
        return F.avg_pool2d(x, k, **kw)

    @staticmethod
    def _op_backward(dy, x, k, **kw):
        return F.avg_pool2d_backward(dy, x, k, **kw)


@register
class GlobalAvgPool2D(Layer):
    """(N, C, H, W) -> (N, C): the mean over each channel's plane."""

    _prefix = "global_avg_pool2d"

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError("needed 3 dimensions (C, H, W) per sample")
        return (input_shape[0],)

    def forward(self, x, training):
        if training:
            self.cache = x
        return F.global_avg_pool2d(x, out=self.buffer("y", x.shape[:2]))

    def backward(self, dy):
        x = self.cache
        return F.global_avg_pool2d_backward(dy, x, out=(self.buffer("dx", x.shape),))[0]
