"""Layer and Param: the building blocks every network is assembled from.

Recipe — writing your own layer::

    import numpy as np
    from fastcnn import functional as F
    from fastcnn.layers import Layer, register

    @register                          # so Model.from_config / load_model can rebuild it
    class DenseTanh(Layer):
        # tanh(x @ kernel.T): (N, in) -> (N, units)

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)                 # takes name= and input_shape=
            self.units = units

        def compute_output_shape(self, input_shape):  # shapes exclude the batch axis
            if len(input_shape) != 1:                  # a ValueError here names the layer at build time
                raise ValueError("needed a flat (features,) input")
            return (self.units,)

        def build(self, input_shape):                  # create parameters
            self.add_param("kernel", (self.units, input_shape[0]), "glorot_uniform")

        def forward(self, x, training):                # x: (N, in) float32
            z = F.linear(x, self.params["kernel"].value)
            if training:
                self.cache = (x, z)                    # keep what backward needs, in training only
            return F.tanh(z)

        def backward(self, dy):                        # dy: gradient of the output
            x, z = self.cache
            dz, = F.tanh_backward(dy, z)
            dx, dw, _ = F.linear_backward(dz, x, self.params["kernel"].value)
            np.copyto(self.params["kernel"].grad, dw)  # overwrite the grad in place
            return dx

        def get_config(self):                          # constructor kwargs, JSON-able
            return {**super().get_config(), "units": self.units}

Rules: forward and backward use fastcnn.functional ops (numpy only for reshapes and views);
forward caches for backward only when ``training`` is true; backward overwrites (never
accumulates into) ``Param.grad``; layers with several inputs (Concatenate, Add) take and return
lists. A layer is used once in a graph (its cache belongs to that one call). build creates arrays
only through ``add_param`` and ``add_state(name, shape=..., fill=...)``: load_model first builds the
file's architecture with placeholders in their place, to check its sizes against the file's arrays
before allocating anything.

Buffers: the built-in layers allocate nothing in the steady state. They write their output and
their input gradient into arrays they own (``self.buffer(key, shape)``, reallocated only when the
shape, i.e. the batch size, changes) through the ops' ``out=``, and parameter gradients straight
into ``Param.grad``. The invariant that makes this safe: a layer's buffer is overwritten only by that
same layer's next forward (output) or next backward (gradient). So the arrays a layer received and
cached in forward stay intact until its backward, but the array forward returns is valid only until
the layer's next forward: callers that keep results copy them (Model.predict and calling a layer on
arrays do). ``needs_input_grad`` is set False by the model for layers fed only by model inputs;
backward may then return None instead of the input gradient (Conv1D/2D, Conv2DTranspose, Dense do).

Devices: ``model.to('cuda')`` moves every layer's params, grads and state to the GPU and sets
``layer._cuda`` (the CUDA module; None on the host); buffers are then device arrays. Layer code keeps
to fastcnn.functional ops and reshapes; other math on activations goes through fastcnn._tensor.
"""
from __future__ import annotations

import itertools
import re
from typing import Sequence

import numpy as np

from .. import _tensor
from . import initializers

__all__ = ["Layer", "Param", "register", "get", "registered"]

_REGISTRY: dict[str, type] = {}
_creation_ids = itertools.count()  # creation order breaks ties in the model's topological sort


def register(cls: type) -> type:
    """Class decorator: make a Layer subclass known to fastcnn.layers.get (and so to from_config)."""
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register: argument 'cls' got {cls!r}, needed a Layer subclass")
    _REGISTRY[cls.__name__] = cls
    return cls


def get(class_name: str) -> type:
    """The layer class registered under class_name."""
    try:
        return _REGISTRY[class_name]
    except KeyError:
        raise ValueError(f"layers.get: argument 'class_name' got {class_name!r}, needed a registered layer "
                         f"(one of {', '.join(sorted(_REGISTRY))}; register custom layers with "
                         f"@fastcnn.layers.register)") from None


def registered() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def _snake(name: str) -> str:
    # Conv2D -> conv2d, MaxPool2D -> max_pool2d, BatchNorm -> batch_norm
    return re.sub(r"(?<=.)([A-Z])(?=[a-z])", r"_\1", name).lower()


def shape_str(shape) -> str:
    shape = tuple(shape)
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


class Param:
    """A trainable array: ``value`` (updated in place by optimizers) and ``grad`` (written by backward)."""

    def __init__(self, layer: "Layer", short_name: str, value: np.ndarray, trainable: bool = True):
        self.layer = layer
        self.short_name = short_name
        self.trainable = trainable
        if initializers.sizing():  # a shapes-only build (load_model's check): value and grad stand in
            self.value = self.grad = initializers.placeholder(np.shape(value))
            return
        self.value = np.ascontiguousarray(value, dtype=np.float32)
        self.grad = np.zeros(self.value.shape, np.float32)  # calloc: pages arrive when backward writes

    @property
    def name(self) -> str:
        """"<layer name>/<param>", unique within a model."""
        return f"{self.layer.name}/{self.short_name}"

    @property
    def shape(self) -> tuple:
        return self.value.shape

    @property
    def size(self) -> int:
        return int(self.value.size)

    def __repr__(self) -> str:
        return f"Param({self.name!r}, shape={self.value.shape})"


class Layer:
    """Base class of every layer. Shapes given to build/compute_output_shape exclude the batch axis."""

    _prefix: str | None = None  # name prefix for auto-naming; default: the class name in snake case

    def __init__(self, name: str | None = None, input_shape: Sequence[int] | None = None):
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"{type(self).__name__}: argument 'name' got {name!r}, needed a non-empty str "
                             f"without '/'")
        self._name = name
        self.input_shape_arg = None if input_shape is None else tuple(int(s) for s in input_shape)
        self.built = False
        self.params: dict[str, Param] = {}
        self.state: dict[str, np.ndarray] = {}
        self.input_shape = None   # as built, without batch (list of shapes for merge layers)
        self.output_shape = None
        self.cache = None         # what backward needs, set by a training forward
        self.needs_input_grad = True  # the model clears it for layers fed only by its inputs
        self._buffers: dict[str, np.ndarray] = {}  # output / gradient arrays reused step to step
        self._cuda = None         # the CUDA module while the layer lives on the device
        self._uid = next(_creation_ids)
        self._node = None         # (inbound tensors, list_input, output tensor) once called on symbolic tensors

    # -- naming ------------------------------------------------------------------------------------
    @classmethod
    def name_prefix(cls) -> str:
        return cls._prefix or _snake(cls.__name__)

    @property
    def name(self) -> str:
        """The layer's name: given, or assigned by the model ("conv2d_1"); the bare prefix before that."""
        return self._name if self._name is not None else self.name_prefix()

    @property
    def has_name(self) -> bool:
        return self._name is not None

    def _describe(self) -> str:
        return f"layer '{self.name}' ({type(self).__name__})"

    # -- parameters --------------------------------------------------------------------------------
    def add_param(self, short_name: str, shape: Sequence[int], initializer="glorot_uniform",
                  fan: tuple[int, int] | None = None) -> Param:
        """Create a trainable parameter drawn from initializer (a name, an Initializer or a dict).

        fan: (fan_in, fan_out) for the variance-scaling initializers; default from the shape.
        In load_model's shapes-only build (initializers.shapes_only) the parameter is a placeholder of
        that shape that takes no memory: create parameters and state only through add_param and
        add_state(shape=...) so that a file declaring absurd sizes is rejected before anything is allocated.
        """
        init = initializers.get(initializer)
        shape = tuple(int(s) for s in shape)
        if initializers.sizing():  # shapes only: nothing allocated, nothing drawn
            value = initializers.placeholder(shape)
        elif initializers.skipping():
            value = np.empty(shape, np.float32)
        else:
            value = init(shape, fan)
        p = Param(self, short_name, value)
        self.params[short_name] = p
        return p

    def add_state(self, short_name: str, value: np.ndarray | None = None, *, shape: Sequence[int] | None = None,
                  fill: float = 0.0) -> np.ndarray:
        """A non-trainable array (e.g. BN moving statistics); kernels update it in place.

        Give either the array (value) or its shape and fill value: with shape=, load_model can build
        the architecture for its size check without allocating the array (see add_param)."""
        if (value is None) == (shape is None):
            raise TypeError(f"{type(self).__name__}.add_state: arguments 'value' and 'shape' got "
                            f"{'neither' if value is None else 'both'}, needed exactly one")
        if shape is not None:
            shape = tuple(int(s) for s in shape)
            if initializers.sizing():
                a = initializers.placeholder(shape)
            elif initializers.skipping():  # load_model overwrites it
                a = np.empty(shape, np.float32)
            else:
                a = np.full(shape, fill, np.float32)
        elif initializers.sizing():
            a = initializers.placeholder(np.shape(value))
        else:
            a = np.ascontiguousarray(value, dtype=np.float32)
        self.state[short_name] = a
        return a

    def count_params(self, trainable: bool | None = None) -> int:
        """All parameters (None), the trainable ones (True) or the non-trainable ones (False)."""
        n_train = sum(p.size for p in self.params.values() if p.trainable)
        n_frozen = sum(p.size for p in self.params.values() if not p.trainable) + \
            sum(int(a.size) for a in self.state.values())
        return n_train + n_frozen if trainable is None else (n_train if trainable else n_frozen)

    def buffer(self, key: str, shape, dtype: str = "float32") -> np.ndarray:
        """This layer's array `key` of `shape` (float32 unless dtype says otherwise): the same array
        every call while the shape stays (uninitialized when new). Pass it as out= to the functional ops."""
        buf = self._buffers.get(key)
        shape = tuple(shape)
        if buf is None or buf.shape != shape:
            buf = self._buffers[key] = _tensor.empty(shape, self._cuda, dtype)
        return buf

    def _move(self, cuda) -> None:
        """Put params (values and grads) and state on the device of the CUDA module cuda (None: host);
        buffers and the cache are dropped (buffers come back on the new side)."""
        for p in self.params.values():
            p.value, p.grad = _tensor.to(p.value, cuda), _tensor.to(p.grad, cuda)
        for k, a in self.state.items():
            self.state[k] = _tensor.to(a, cuda)
        self._buffers.clear()
        self.cache = None
        self._cuda = cuda

    def release_buffers(self) -> None:
        """Drop the reused output/gradient arrays (they come back, allocated anew, on the next call)."""
        self._buffers.clear()

    # -- the interface subclasses implement ---------------------------------------------------------
    def compute_output_shape(self, input_shape):
        """The output shape (no batch axis) for input_shape; ValueError for inputs the layer cannot take."""
        return tuple(input_shape)

    def build(self, input_shape) -> None:
        """Create the parameters for input_shape (no batch axis). Default: no parameters."""

    def forward(self, x, training: bool):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def get_config(self) -> dict:
        """JSON-able constructor keyword arguments (subclasses add theirs)."""
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    # -- building ----------------------------------------------------------------------------------
    def infer_shape(self, input_shape):
        """compute_output_shape, with errors prefixed by the layer's name and type."""
        try:
            out = self.compute_output_shape(input_shape)
        except ValueError as e:
            raise ValueError(f"{self._describe()} cannot take input of shape {_shapes_str(input_shape)}: {e}") \
                from None
        out = tuple(int(s) for s in out)
        if any(s < 1 for s in out):
            raise ValueError(f"{self._describe()} cannot take input of shape {_shapes_str(input_shape)}: "
                             f"the output shape would be {shape_str(out)}")
        return out

    def build_for(self, input_shape):
        """Check input_shape, create the parameters, and return the output shape."""
        input_shape = _normalize_shapes(input_shape)
        out = self.infer_shape(input_shape)
        if self.built:
            if _normalize_shapes(self.input_shape) != input_shape:
                raise ValueError(f"{self._describe()} was built for input shape {_shapes_str(self.input_shape)}, "
                                 f"got {_shapes_str(input_shape)}")
            return out
        try:
            self.build(input_shape)
        except ValueError as e:
            raise ValueError(f"{self._describe()}: {e}") from None
        self.input_shape, self.output_shape, self.built = input_shape, out, True
        return out

    def __call__(self, inputs):
        """Functional graph: call on symbolic tensors (from fastcnn.Input) to get the output tensor.

        Called on arrays (numpy, or device arrays for a layer on the device) it builds for their shape
        and runs an inference forward, returning a new array.
        """
        from .input import SymbolicTensor

        if isinstance(inputs, (list, tuple)):
            items, list_input = list(inputs), True
        else:
            items, list_input = [inputs], False
        if items and all(isinstance(t, SymbolicTensor) for t in items):
            if self._node is not None:
                raise ValueError(f"{self._describe()} is already used in a graph; a layer can be called once "
                                 f"(create a new layer for another call)")
            shapes = [t.shape for t in items] if list_input else items[0].shape
            out_shape = self.build_for(shapes)
            out = SymbolicTensor(out_shape, self)
            self._node = (items, list_input, out)
            return out
        if any(isinstance(t, SymbolicTensor) for t in items):
            raise TypeError(f"{self._describe()}: inputs mix symbolic tensors and arrays")
        arrays = [a if _tensor.device_module(a) else np.ascontiguousarray(a, dtype=np.float32) for a in items]
        shapes = [a.shape[1:] for a in arrays] if list_input else arrays[0].shape[1:]
        self.build_for(shapes)
        y = self.forward(arrays if list_input else arrays[0], training=False)
        return _tensor.clone(y)  # not the layer's buffer, which its next call overwrites

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _normalize_shapes(s):
    if isinstance(s, list):
        return [tuple(int(v) for v in e) for e in s]
    return tuple(int(v) for v in s)


def _shapes_str(s) -> str:
    if isinstance(s, list):
        return "[" + ", ".join(shape_str(e) for e in s) + "]"
    return shape_str(s)
