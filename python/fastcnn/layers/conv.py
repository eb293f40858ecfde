"""Convolution layers: Conv1D, Conv2D, Conv2DTranspose (NCHW; kernels laid out as fastcnn.functional)."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from .. import functional as F
from ..functional import _validate as V
from ..functional import conv as _conv_ops
from . import initializers
from .activation import activation_backward, activation_forward, check_activation
from .base import Layer, register

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose"]  # weighted_forward/backward: shared with Dense


def _check_padding(padding, n: int, owner: str):
    """Validate a padding spec now (sizes unknown yet), returning it JSON-friendly."""
    V.padding(padding, owner, [1] * n, [1] * n, [1] * n)
    if isinstance(padding, str):
        return padding.lower()
    if isinstance(padding, numbers.Integral):
        return int(padding)
    return [list(p) if isinstance(p, (tuple, list)) else int(p) for p in padding]


def _as_call_padding(padding):
    """The padding spec as the functional ops take it (tuples, not lists)."""
    if isinstance(padding, list):
        return tuple(tuple(p) if isinstance(p, list) else p for p in padding)
    return padding


_F32 = np.dtype(np.float32)  # the one native float32 dtype object


def plain(a) -> bool:
    """a is a float32 C-contiguous numpy array: the kernels take it as it is."""
    return type(a) is np.ndarray and a.dtype is _F32 and a.flags.c_contiguous


# activation= names whose kernels are _C.<name>_forward(x, y) and _C.<name>_backward(dy, x, dx)
_ELEMENTWISE = ("relu", "tanh", "sigmoid")


class Direct:
    """A layer's pre-validated kernel calls for one input shape (the per-step fast path).

    The first call with a shape goes through fastcnn.functional, which checks every argument; the
    layer then keeps the kernels' arguments here and later calls with that shape, on plain arrays,
    call the kernels straight away (the bindings still check dtypes and sizes). forward(x, w, b, y)
    and backward(dy, x, w, dx, dw, db), dx None to skip it.
    """

    def __init__(self, shape, forward, backward):
        self.shape, self.forward, self.backward = shape, forward, backward


def weighted_forward(layer, op, x, kwargs, training, defer_activation=False):
    """op(x, kernel, bias) then the fused activation, into the layer's buffers (Conv*, Dense).

    defer_activation: return the pre-activation z (the model's next layer applies the activation).
    """
    w = layer.params["kernel"].value
    b = layer.params["bias"].value if layer.use_bias else None
    shape = (len(x), *layer.output_shape)
    act = None if defer_activation else layer.activation
    direct = getattr(layer, "_direct", None)  # layers without a fast path: None
    if direct is not None and direct.shape == x.shape and plain(x) and plain(w) and (b is None or plain(b)) \
            and (act is None or act in _ELEMENTWISE):
        if act is None:
            y = z = layer.buffer("y", shape)
            direct.forward(x, w, b, y)
        else:
            z = layer.buffer("z", shape)
            direct.forward(x, w, b, z)
            y = layer.buffer("y", shape)
            getattr(_C, act + "_forward")(z, y)
    else:
        if act is None:
            y = z = op(x, w, b, **kwargs, out=layer.buffer("y", shape))
        else:
            z = op(x, w, b, **kwargs, out=layer.buffer("z", shape))
            y = activation_forward(act, z, out=layer.buffer("y", shape))
        if plain(x) and len(x) and hasattr(layer, "_make_direct") and (direct is None or direct.shape != x.shape):
            layer._direct = layer._make_direct(x, w, b, kwargs)  # validated: later calls take the fast path
    if training:
        layer.cache = (x, z, act)
    return y


def weighted_backward(layer, op_backward, dy, kwargs):
    """The input gradient (None unless layer.needs_input_grad) into the layer's buffer; parameter
    gradients straight into Param.grad."""
    x, z, act = layer.cache
    w = layer.params["kernel"]
    b = layer.params["bias"] if layer.use_bias else None
    need_dx = layer.needs_input_grad
    direct = getattr(layer, "_direct", None)  # layers without a fast path: None
    if direct is not None and direct.shape == x.shape and plain(x) and plain(dy) and dy.shape == z.shape \
            and plain(w.value) and plain(w.grad) and (b is None or (plain(b.value) and plain(b.grad))) \
            and (act is None or act in _ELEMENTWISE):
        if act is not None:
            dz = layer.buffer("dz", z.shape)
            getattr(_C, act + "_backward")(dy, z, dz)
            dy = dz
        dx = layer.buffer("dx", x.shape) if need_dx else None
        direct.backward(dy, x, w.value, dx, w.grad, None if b is None else b.grad)
        return dx
    if act is not None:
        dy = activation_backward(act, dy, z, out=layer.buffer("dz", z.shape))
    dx, _, _ = op_backward(dy, x, w.value, None if b is None else b.value, **kwargs, need_dx=need_dx,
                           out=(layer.buffer("dx", x.shape) if need_dx else None, w.grad,
                                None if b is None else b.grad))
    return dx


class _Conv(Layer):
    """Shared by Conv1D and Conv2D: n spatial dimensions, kernel (K, C/groups, *kernel_size)."""

    _ndim = 2

    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", dilation=1, groups: int = 1,
                 use_bias: bool = True, activation=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        owner, n = type(self).__name__, self._ndim
        self.filters = V.integer(filters, owner, "filters", 1)
        self.kernel_size = V.tuple_of(kernel_size, n, owner, "kernel_size", 1)
        self.strides = V.tuple_of(strides, n, owner, "strides", 1)
        self.dilation = V.tuple_of(dilation, n, owner, "dilation", 1)
        self.groups = V.integer(groups, owner, "groups", 1)
        if self.filters % self.groups:
            raise ValueError(f"{owner}: argument 'filters' got {self.filters}, needed a multiple of "
                             f"groups={self.groups}")
        self.padding = _check_padding(padding, n, owner)
        self.use_bias = bool(use_bias)
        self.activation = check_activation(activation, owner)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._direct = None  # Direct kernel calls, once an input shape has been validated

    def _make_direct(self, x, w, b, kwargs):
        """Direct calls of the 2-D kernels for x's shape (Conv2D only; None otherwise)."""
        if self._ndim != 2:
            return None
        stride, pads, dilation, groups, _ = _conv_ops._conv_geometry(
            "conv2d", x, w, b, kwargs["stride"], kwargs["padding"], kwargs["dilation"], kwargs["groups"])
        args = (stride, _conv_ops._quad(pads), dilation, groups)

        def forward(x, w, b, y):
            _C.conv2d_forward(x, w, b, y, *args)

        def backward(dy, x, w, dx, dw, db):
            if dx is not None:
                _C.conv2d_backward_data(dy, w, dx, *args)
            _C.conv2d_backward_weight(dy, x, dw, db, *args)

        def pool_forward(x, w, b, z, y, pool_geometry):
            _C.conv2d_pool_forward(x, w, b, z, y, *args, *pool_geometry)

        direct = Direct(x.shape, forward, backward)
        direct.pool_forward = pool_forward
        # The direct kernels pool each block of samples while its conv output is in cache, and
        # Winograd 5x5 pools a 2x2 stride-2 pool that tiles z from registers: neither needs z in
        # inference. The others conv then pool the whole batch and need z written.
        algo = _C.conv2d_algorithm(x, w, *args, "forward")
        P, Q = self.output_shape[1:]

        def pools_without_z(pool_geometry):
            kernel, pool_stride, pool_pads, _ = pool_geometry
            tiles = tuple(kernel) == (2, 2) and tuple(pool_stride) == (2, 2) and not any(pool_pads) \
                and P % 2 == 0 and Q % 2 == 0
            return algo in ("wide", "filters") or (algo == "winograd-5x5" and tiles)
        direct.pools_without_z = pools_without_z
        return direct

    def _extents(self):
        return [d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation)]

    def compute_output_shape(self, input_shape):
        n = self._ndim
        if len(input_shape) != n + 1:
            raise ValueError(f"needed {n + 1} dimensions ({'C, L' if n == 1 else 'C, H, W'}) per sample")
        c, sizes = input_shape[0], input_shape[1:]
        if c % self.groups:
            raise ValueError(f"{c} input channels are not divisible by groups={self.groups}")
        pads = V.padding(_as_call_padding(self.padding), type(self).__name__, sizes, self._extents(), self.strides)
        out = []
        for size, (p0, p1), ext, s in zip(sizes, pads, self._extents(), self.strides):
            if size + p0 + p1 < ext:
                raise ValueError(f"the (dilated) kernel {tuple(self._extents())} is larger than the padded "
                                 f"input {tuple(sz + a + b for sz, (a, b) in zip(sizes, pads))}")
            out.append((size + p0 + p1 - ext) // s + 1)
        return (self.filters, *out)

    def build(self, input_shape):
        c = input_shape[0]
        shape = (self.filters, c // self.groups, *self.kernel_size)
        self.add_param("kernel", shape, self.kernel_initializer)
        if self.use_bias:
            self.add_param("bias", (self.filters,), self.bias_initializer)

    def _kwargs(self):
        one = self._ndim == 1
        return dict(stride=self.strides[0] if one else self.strides, padding=_as_call_padding(self.padding),
                    dilation=self.dilation[0] if one else self.dilation, groups=self.groups)

    def forward(self, x, training, defer_activation=False):
        """defer_activation: return the pre-activation (a model whose MaxPool2D applies it passes True)."""
        return weighted_forward(self, self._conv, x, self._kwargs(), training, defer_activation)

    def backward(self, dy):
        return weighted_backward(self, self._conv_backward, dy, self._kwargs())

    def forward_pooled(self, x, training, pool):
        """The model's fused pair: this Conv2D (activation a) read only by `pool`, a MaxPool2D with
        disjoint windows. One kernel call computes z = conv(x) and max_pool(z), block by block while z
        is in cache (inference does not write z at all), then a is applied to the pooled values;
        both layers' caches are set as their own forwards would (the backward is unchanged). Same
        bits as the two layers run one after the other. None when a fast path is not ready yet (the
        first call with a shape goes through both layers' validating forwards) or does not apply."""
        d, pd = self._direct, pool._direct
        w = self.params["kernel"].value
        b = self.params["bias"].value if self.use_bias else None
        zshape = (len(x), *self.output_shape)
        if d is None or d.shape != x.shape or pd is None or pd[0] != zshape or not plain(x) or not plain(w) \
                or (b is not None and not plain(b)) or self.activation not in _ELEMENTWISE:
            return None
        zp = pool.buffer("zp", (len(x), *pool.output_shape))
        z = self.buffer("y", zshape) if training or not d.pools_without_z(pd[1]) else None
        d.pool_forward(x, w, b, z, zp, pd[1])
        if training:
            self.cache = (x, z, None)
            pool.cache = (z, self.activation)
        y = pool.buffer("y", zp.shape)
        getattr(_C, self.activation + "_forward")(zp, y)
        return y

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "dilation": list(self.dilation),
                "groups": self.groups, "use_bias": self.use_bias, "activation": self.activation,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


@register
class Conv1D(_Conv):
    """1-D convolution: (N, C, L) -> (N, filters, L'); kernel (filters, C/groups, k)."""

    _ndim = 1
    _prefix = "conv1d"

    @staticmethod
    def _conv(x, w, b, **kw):
        return F.conv1d(x, w, b, **kw)

    @staticmethod
    def _conv_backward(dy, x, w, b, **kw):
        return F.conv1d_backward(dy, x, w, b, **kw)


@register
class Conv2D(_Conv):
    """2-D convolution: (N, C, H, W) -> (N, filters, P, Q); kernel (filters, C/groups, kh, kw).

    padding: an int, a pair, ((top, bottom), (left, right)), or 'valid' | 'same' | 'full'.
    """

    _ndim = 2
    _prefix = "conv2d"

    @staticmethod
    def _conv(x, w, b, **kw):
        return F.conv2d(x, w, b, **kw)

    @staticmethod
    def _conv_backward(dy, x, w, b, **kw):
        return F.conv2d_backward(dy, x, w, b, **kw)


@register
class Conv2DTranspose(Layer):
    """Transposed 2-D convolution: (N, C, H, W) -> (N, filters, P, Q); kernel (C, filters/groups, kh, kw).

    padding: 'valid' gives P = (H-1)*stride + dilated kernel; 'same' gives P = H*stride; 'full' crops
    dilated kernel - 1 on each side (the transpose of a 'full' convolution); an int or a pair crops that
    much on each side. output_padding adds rows/columns at the bottom/right (as PyTorch).
    """

    _prefix = "conv2d_transpose"

    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", output_padding=0, dilation=1,
                 groups: int = 1, use_bias: bool = True, activation=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        owner = "Conv2DTranspose"
        self.filters = V.integer(filters, owner, "filters", 1)
        self.kernel_size = V.tuple_of(kernel_size, 2, owner, "kernel_size", 1)
        self.strides = V.tuple_of(strides, 2, owner, "strides", 1)
        self.dilation = V.tuple_of(dilation, 2, owner, "dilation", 1)
        self.output_padding = V.tuple_of(output_padding, 2, owner, "output_padding", 0)
        self.groups = V.integer(groups, owner, "groups", 1)
        if self.filters % self.groups:
            raise ValueError(f"{owner}: argument 'filters' got {self.filters}, needed a multiple of "
                             f"groups={self.groups}")
        if isinstance(padding, str):
            if padding.lower() not in ("valid", "same", "full"):
                raise ValueError(f"{owner}: argument 'padding' got {padding!r}, needed an int, a pair, or one "
                                 f"of 'valid', 'same', 'full'")
            self.padding = padding.lower()
        else:
            self.padding = list(V.tuple_of(padding, 2, owner, "padding", 0))
        if isinstance(padding, str) and padding.lower() == "same" and any(self.output_padding):
            raise ValueError(f"{owner}: argument 'output_padding' got {output_padding!r}, needed 0 with "
                             f"padding='same' (the output size is fixed at H*stride)")
        self.use_bias = bool(use_bias)
        self.activation = check_activation(activation, owner)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._call_padding = None  # (padding, output_padding) as passed to conv_transpose2d

    def _resolve(self):
        """(padding pair, output_padding pair) for conv_transpose2d."""
        exts = [d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation)]
        if self.padding == "valid":
            return (0, 0), self.output_padding
        if self.padding == "full":
            return tuple(e - 1 for e in exts), self.output_padding
        if self.padding == "same":  # crop ext - stride in total; an odd crop takes one more and adds it back
            pads, outs = [], []
            for e, s in zip(exts, self.strides):
                crop = e - s
                if crop < 0:
                    pads.append(0), outs.append(-crop)
                else:
                    p = -(-crop // 2)
                    pads.append(p), outs.append(2 * p - crop)
            return tuple(pads), tuple(outs)
        return tuple(self.padding), self.output_padding

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError("needed 3 dimensions (C, H, W) per sample")
        c = input_shape[0]
        if c % self.groups:
            raise ValueError(f"{c} input channels are not divisible by groups={self.groups}")
        pads, outs = self._resolve()
        for op, s, d in zip(outs, self.strides, self.dilation):
            if op >= max(s, d):
                raise ValueError(f"padding {self.padding!r} needs output_padding {tuple(outs)}, which must be "
                                 f"smaller than the stride or the dilation (use an odd kernel or a larger stride)")
        return (self.filters, *[(size - 1) * s - 2 * p + d * (k - 1) + 1 + op for size, s, p, d, k, op in
                                zip(input_shape[1:], self.strides, pads, self.dilation, self.kernel_size, outs)])

    def build(self, input_shape):
        c = input_shape[0]
        k_per_group = self.filters // self.groups
        rf = self.kernel_size[0] * self.kernel_size[1]
        # each output sums over C/groups * kh*kw inputs (stride aside); fans as for the forward conv
        fan = ((c // self.groups) * rf, k_per_group * rf)
        self.add_param("kernel", (c, k_per_group, *self.kernel_size), self.kernel_initializer, fan=fan)
        if self.use_bias:
            self.add_param("bias", (self.filters,), self.bias_initializer)
        self._call_padding = self._resolve()

    def _kwargs(self):
        pads, outs = self._call_padding
        return dict(stride=self.strides, padding=pads, output_padding=outs, dilation=self.dilation,
                    groups=self.groups)

    def forward(self, x, training):
        return weighted_forward(self, F.conv_transpose2d, x, self._kwargs(), training)

    def backward(self, dy):
        return weighted_backward(self, F.conv_transpose2d_backward, dy, self._kwargs())

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "output_padding": list(self.output_padding), "dilation": list(self.dilation),
                "groups": self.groups, "use_bias": self.use_bias, "activation": self.activation,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
