"""Models: Sequential stacks and functional graphs of layers (branches, merges, several inputs/outputs).

    x = fastcnn.Input((1, 28, 28))
    a = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    b = layers.Conv2D(8, 1, activation="relu")(x)
    y = layers.Dense(10)(layers.Flatten()(layers.Concatenate()([a, b])))
    model = fastcnn.Model(x, y)

A layer's output shape is worked out when it is called on symbolic tensors (Sequential: when the input
shape is known), and its parameters are created then; a shape it cannot take raises a ValueError naming
the layer. The model runs the layers in topological order (creation order among independent ones);
backward runs them in reverse, summing the gradients of tensors used by several layers. Layers left
unnamed are named per model: "<type prefix>_<k>" with k counting from 1 in that order ("conv2d_1").
Training (compile, fit, evaluate, predict, save) comes from fastcnn.training.TrainingMixin.
``model.to('cuda')`` / ``model.to('cpu')`` moves the weights, gradients, state and optimizer state;
a model on the device takes device arrays in forward/backward (fit/evaluate/predict take host data).
"""
from __future__ import annotations

import heapq
from typing import Callable, Sequence

import numpy as np

from . import _tensor
from .functional import _validate as V
from .layers import base as _base
from .layers.base import Layer, Param, shape_str
from .layers.input import Input, InputLayer, SymbolicTensor
from .training import TrainingMixin

__all__ = ["Model", "Sequential", "Input"]  # Input re-exported as fastcnn.Input


def _as_list(x, what: str) -> list:
    items = list(x) if isinstance(x, (list, tuple)) else [x]
    for t in items:
        if not isinstance(t, SymbolicTensor):
            raise TypeError(f"Model: argument '{what}' got {type(t).__name__}, needed symbolic tensors "
                            f"(from fastcnn.Input and layer calls)")
    return items


def _assign_names(layers: Sequence[Layer], taken: set[str]) -> None:
    """Give unnamed layers "<prefix>_<k>" names (k from 1 per prefix, skipping names in use)."""
    counters: dict[str, int] = {}
    for layer in layers:
        if layer.has_name:
            continue
        prefix = layer.name_prefix()
        k = counters.get(prefix, 0)
        while True:
            k += 1
            candidate = f"{prefix}_{k}"
            if candidate not in taken:
                break
        counters[prefix] = k
        layer._name = candidate
        taken.add(candidate)


def _fuse_activation_into_pool(order, users, found, outputs) -> dict:
    """{layer uid: extra forward keyword arguments} for each Conv2D(activation=a) followed by a
    MaxPool2D that alone reads it: the pool applies a after pooling, the conv returns z.

    For a non-decreasing a (relu, tanh, sigmoid), the max over a window of a(z) is a(max of z), and the
    gradient reaches the same element: dz = a'(z) dy at the window's maximum, 0 elsewhere. Applying a
    to the pooled values only saves 3/4 of the activation's work, forward and backward (LeNet). The
    output has the same bits as the layers one by one; so has the gradient, except in a window where
    float32 a rounds two different z to one value (tanh near +-1): there the gradient goes to the
    larger z, as in exact arithmetic, instead of the first of the tie (a change of order a'(z) dy,
    ~1e-6 dy). Overlapping windows are left alone (dz would be a sum of a'(z) dy_i instead of a'(z)
    times the sum). Only
    how the model runs the two changes: each layer on its own (or in another model) is unchanged.
    """
    from .layers.conv import Conv2D
    from .layers.pool import MaxPool2D
    out_ids = {id(t) for t in outputs}
    fused = {}
    for layer in order:
        if type(layer) is not Conv2D or layer.activation not in ("relu", "tanh", "sigmoid"):
            continue
        if id(layer._node[2]) in out_ids or len(users[layer._uid]) != 1:
            continue
        pool = found[users[layer._uid][0]]
        if type(pool) is not MaxPool2D or pool._node[1] or pool._node[0][0] is not layer._node[2]:
            continue
        if all(s >= k for s, k in zip(pool.strides, pool.pool_size)):  # disjoint: else dz sums gradients
            fused[layer._uid] = {"defer_activation": True}
            fused[pool._uid] = {"activation": layer.activation}
    return fused


def _pooled_pairs(fused, found, users) -> dict:
    """{conv uid: its MaxPool2D} for the pairs of _fuse_activation_into_pool: the model runs each pair
    as one kernel call (Conv2D.forward_pooled) once both layers have validated their shapes."""
    return {uid: found[users[uid][0]] for uid, extra in fused.items() if "defer_activation" in extra}


def _count(n: int) -> str:
    return f"{n:,}"


class Model(TrainingMixin):
    """A graph of layers from inputs to outputs.

    Model(inputs, outputs, name=None, aux_outputs=None, aux_loss_weight=0.3): inputs/outputs are
    symbolic tensors (or lists of them). aux_outputs are computed only in training (GoogLeNet's
    auxiliary heads); their losses count with aux_loss_weight. Model outputs are logits: the loss
    (fused softmax cross-entropy) is applied by training.
    """

    def __init__(self, inputs, outputs, name: str | None = None, aux_outputs=None, aux_loss_weight: float = 0.3):
        TrainingMixin.__init__(self)
        self.name = name or "model"
        self.aux_loss_weight = V.real(aux_loss_weight, "Model", "aux_loss_weight", 0.0)
        self._init_graph(_as_list(inputs, "inputs"), _as_list(outputs, "outputs"),
                         [] if aux_outputs is None else _as_list(aux_outputs, "aux_outputs"))

    # -- graph -------------------------------------------------------------------------------------
    def _init_graph(self, inputs: list, outputs: list, aux_outputs: list) -> None:
        for t in inputs:
            if not isinstance(t.layer, InputLayer):
                raise ValueError(f"Model: argument 'inputs' got a tensor from {t.layer._describe()}, needed "
                                 f"tensors made by fastcnn.Input")
        if len({id(t) for t in inputs}) != len(inputs):
            raise ValueError("Model: argument 'inputs' lists an input twice")
        if not outputs:
            raise ValueError("Model: argument 'outputs' got no tensors, needed at least one")

        # every layer the outputs depend on
        found: dict[int, Layer] = {}
        stack = [t.layer for t in outputs + aux_outputs]
        while stack:
            layer = stack.pop()
            if layer._uid in found:
                continue
            found[layer._uid] = layer
            stack.extend(t.layer for t in layer._node[0])
        input_layers = [t.layer for t in inputs]
        for layer in found.values():
            if isinstance(layer, InputLayer) and layer not in input_layers:
                raise ValueError(f"Model: the outputs depend on input '{layer.name}' with shape "
                                 f"{shape_str(layer.shape)}, which is not in 'inputs' (graph disconnected)")
        # Kahn's algorithm; among ready layers the earliest created goes first
        pending = {uid: len({t.layer._uid for t in layer._node[0]}) for uid, layer in found.items()}
        users: dict[int, list[int]] = {uid: [] for uid in found}
        for uid, layer in found.items():
            for p in {t.layer._uid for t in layer._node[0]}:
                users[p].append(uid)
        ready = [uid for uid, n in pending.items() if n == 0]
        heapq.heapify(ready)
        order: list[Layer] = []
        while ready:
            uid = heapq.heappop(ready)
            order.append(found[uid])
            for u in users[uid]:
                pending[u] -= 1
                if pending[u] == 0:
                    heapq.heappush(ready, u)
        for t in inputs:  # inputs that nothing uses still belong to the model
            if t.layer not in order:
                order.insert(0, t.layer)

        names = [layer.name for layer in order if layer.has_name]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"Model: layer names must be unique, got {', '.join(sorted(dup))} more than once")
        _assign_names(order, set(names))

        needed: set[int] = set()
        stack = [t.layer for t in outputs] + input_layers
        while stack:
            layer = stack.pop()
            if layer._uid not in needed:
                needed.add(layer._uid)
                stack.extend(t.layer for t in layer._node[0])

        self._inputs, self._outputs, self._aux_outputs = inputs, outputs, aux_outputs
        self._order = order
        self._infer_order = [layer for layer in order if layer._uid in needed]
        self._input_index = {id(t.layer): i for i, t in enumerate(inputs)}
        self._last = None  # (training, output shapes) of the latest forward
        self._grad_sums: dict[int, np.ndarray] = {}  # per tensor used by several layers: its summed gradient
        for layer in order:  # no input gradient for layers fed only by model inputs (backward returns None)
            inbound = layer._node[0]
            layer.needs_input_grad = not inbound or not all(isinstance(t.layer, InputLayer) for t in inbound)
        self._fused = _fuse_activation_into_pool(order, users, found, outputs + aux_outputs)
        self._pooled = _pooled_pairs(self._fused, found, users)

    @property
    def built(self) -> bool:
        return True

    def _ensure_built(self, x=None) -> None:
        """Sequential builds here when it can (x: a first batch); a functional model is built on construction."""

    def build(self, input_shape=None) -> None:
        """Functional models are built on construction; input_shape, if given, must match."""
        if input_shape is not None:
            several = isinstance(input_shape, (list, tuple)) and all(isinstance(s, (list, tuple))
                                                                     for s in input_shape)
            given = [tuple(s) for s in input_shape] if several else [tuple(input_shape)]
            if given != self.input_shapes:
                raise ValueError(f"{self.name}: argument 'input_shape' got {input_shape!r}, but the model was "
                                 f"built for {', '.join(shape_str(s) for s in self.input_shapes)}")

    @property
    def layers(self) -> list[Layer]:
        self._ensure_built()
        return list(self._order)

    def get_layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self.name}: argument 'name' got {name!r}, needed the name of one of its layers")

    @property
    def inputs(self) -> list[SymbolicTensor]:
        self._ensure_built()
        return list(self._inputs)

    @property
    def outputs(self) -> list[SymbolicTensor]:
        self._ensure_built()
        return list(self._outputs)

    @property
    def aux_outputs(self) -> list[SymbolicTensor]:
        self._ensure_built()
        return list(self._aux_outputs)

    @property
    def input_shapes(self) -> list[tuple[int, ...]]:
        return [t.shape for t in self.inputs]

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        return [t.shape for t in self.outputs]

    @property
    def aux_output_shapes(self) -> list[tuple[int, ...]]:
        return [t.shape for t in self.aux_outputs]

    @property
    def loss_weights(self) -> list[float]:
        """One weight per array a training forward returns: main outputs 1.0, aux outputs aux_loss_weight."""
        return [1.0] * len(self.outputs) + [self.aux_loss_weight] * len(self.aux_outputs)

    def parameters(self) -> list[Param]:
        """Trainable parameters in a stable order: layers topologically, then each layer's own order."""
        return [p for layer in self.layers for p in layer.params.values()]

    def state_arrays(self) -> list[tuple[str, np.ndarray]]:
        """Non-trainable arrays ("<layer>/<name>", array), stable order; update them in place."""
        return [(f"{layer.name}/{k}", a) for layer in self.layers for k, a in layer.state.items()]

    def count_params(self, trainable: bool | None = None) -> int:
        """All parameters (None), trainable (True) or non-trainable (False, e.g. BN moving statistics)."""
        return sum(layer.count_params(trainable) for layer in self.layers)

    # -- running -----------------------------------------------------------------------------------
    def _check_inputs(self, x) -> list[np.ndarray]:
        n_in = len(self._inputs)
        if n_in > 1:
            if not isinstance(x, (list, tuple)):
                raise ValueError(f"{self.name}: argument 'x' got one {type(x).__name__}, needed a list of "
                                 f"{n_in} arrays (one per input)")
            xs = list(x)
        else:
            xs = [x[0]] if isinstance(x, (list, tuple)) and len(x) == 1 and (
                isinstance(x[0], np.ndarray) or V.is_device(x[0])) else [x]
        if len(xs) != n_in:
            raise ValueError(f"{self.name}: argument 'x' got {len(xs)} arrays, needed {n_in} (one per input)")
        out = []
        for t, a in zip(self._inputs, xs):
            what = "x" if n_in == 1 else f"x[{len(out)}]"
            if self._cuda is not None and not V.is_device(a):
                raise ValueError(f"{self.name}: argument '{what}' got {V._kind(a)}, needed a device array: the "
                                 f"model is on cuda (fastcnn.cuda.to_device, or model.to('cpu'))")
            a = V.array(a, f"{self.name}", what)
            if a.ndim != len(t.shape) + 1 or tuple(a.shape[1:]) != t.shape:
                raise ValueError(f"{self.name}: argument '{what}' got shape {shape_str(a.shape)}, needed "
                                 f"(N, {', '.join(map(str, t.shape))}) for input '{t.layer.name}'")
            if out and a.shape[0] != out[0].shape[0]:
                raise ValueError(f"{self.name}: argument '{what}' got batch size {a.shape[0]}, needed "
                                 f"{out[0].shape[0]} like the first input")
            out.append(a)
        return out

    def forward(self, x, training: bool = False) -> list[np.ndarray]:
        """Run the graph on x (an array, or a list with one array per input).

        Returns the main outputs, followed in training by the aux outputs. They are the output layers'
        own buffers, reused by the next forward: copy them to keep them (predict returns new arrays).
        """
        self._ensure_built(x)
        xs = self._check_inputs(x)
        training = bool(training)
        values: dict[int, np.ndarray] = {}
        for layer in (self._order if training else self._infer_order):
            inbound, list_input, out = layer._node
            if isinstance(layer, InputLayer):
                values[id(out)] = xs[self._input_index[id(layer)]]
                continue
            if id(out) in values:  # a MaxPool2D its Conv2D already ran (forward_pooled)
                continue
            args = [values[id(t)] for t in inbound]
            fused = self._fused.get(layer._uid)
            pool = self._pooled.get(layer._uid)
            if pool is not None:
                y = layer.forward_pooled(args[0], training, pool)
                if y is not None:
                    values[id(pool._node[2])] = y
                    continue
            if fused is None:
                values[id(out)] = layer.forward(args if list_input else args[0], training)
            else:
                values[id(out)] = layer.forward(args[0], training, **fused)
        results = [values[id(t)] for t in self._outputs + (self._aux_outputs if training else [])]
        self._last = (training, [r.shape for r in results])
        return results

    def backward(self, dys) -> None:
        """Backpropagate one gradient per array the latest (training) forward returned; fills every Param.grad."""
        if self._last is None or not self._last[0]:
            raise RuntimeError(f"{self.name}: backward needs a forward(x, training=True) first")
        if not isinstance(dys, (list, tuple)):
            dys = [dys]
        shapes = self._last[1]
        if len(dys) != len(shapes):
            raise ValueError(f"{self.name}: argument 'dys' got {len(dys)} arrays, needed {len(shapes)} "
                             f"(one per output of the training forward)")
        grads: dict[int, np.ndarray] = {}

        def accumulate(t: SymbolicTensor, g) -> None:
            # the first gradient is kept as is (a layer's buffer); a second one sums into the model's
            # own array for t, which no layer writes, so a layer's buffer is never overwritten here
            k = id(t)
            if k not in grads:
                grads[k] = g
                return
            total = self._grad_sums.get(k)
            if total is None or total.shape != g.shape:
                total = self._grad_sums[k] = _tensor.empty(g.shape, self._cuda)
            _tensor.add(grads[k], g, total)
            grads[k] = total

        for i, (t, dy, shape) in enumerate(zip(self._outputs + self._aux_outputs, dys, shapes)):
            if self._cuda is not None and not V.is_device(dy):
                raise ValueError(f"{self.name}: argument 'dys[{i}]' got {V._kind(dy)}, needed a device array: "
                                 f"the model is on cuda")
            dy = V.array(dy, self.name, f"dys[{i}]")
            V.check_shape(dy, self.name, f"dys[{i}]", shape, f"the shape of output {i}")
            accumulate(t, dy)
        for layer in reversed(self._order):
            if isinstance(layer, InputLayer):
                continue
            inbound, list_input, out = layer._node
            dx = layer.backward(grads.pop(id(out)))
            for t, d in zip(inbound, dx if list_input else [dx]):
                if not isinstance(t.layer, InputLayer):
                    accumulate(t, d)

    # -- device ------------------------------------------------------------------------------------
    @property
    def device(self) -> str:
        """'cuda' when the model lives on the GPU (model.to), else 'cpu'."""
        return "cpu" if self._cuda is None else "cuda"

    def to(self, device: str):
        """Move weights, gradients, state (BN moving statistics) and the optimizer state to 'cuda' or
        'cpu' (returns the model). 'cuda' where there is none raises RuntimeError saying why."""
        if device not in ("cpu", "cuda"):
            raise ValueError(f"{self.name}.to: argument 'device' got {device!r}, needed 'cpu' or 'cuda'")
        if not self.built:
            raise ValueError(f"{self.name}.to: the model is not built; give it an input shape first "
                             f"(fastcnn.Input, input_shape= or build())")
        from . import cuda as _cuda
        module = _cuda.backend() if device == "cuda" else None
        if module is self._cuda:
            return self
        for layer in self.layers:
            layer._move(module)
        self._grad_sums = {}
        if self.optimizer is not None:
            self.optimizer._move(module)
        self._cuda = module
        return self

    # -- description -------------------------------------------------------------------------------
    def _summary_rows(self) -> tuple[list[Layer], bool]:
        return self.layers, True

    def summary(self, print_fn: Callable[[str], None] = print) -> None:
        """Print each layer's name (type), output shape, parameter count (and inputs), then the totals."""
        rows, connected = self._summary_rows()
        table = []
        for layer in rows:
            out = "(None, " + ", ".join(map(str, layer.output_shape)) + ")"
            cells = [f"{layer.name} ({type(layer).__name__})", out, _count(layer.count_params())]
            if connected:
                cells.append(", ".join(t.layer.name for t in layer._node[0]))
            table.append(cells)
        heads = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
        widths = [max([len(h)] + [len(r[i]) for r in table]) + 3 for i, h in enumerate(heads)]
        width = sum(widths)

        def line(cells):
            return "".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

        print_fn(f'Model: "{self.name}"')
        print_fn("_" * width)
        print_fn(line(heads))
        print_fn("=" * width)
        for cells in table:
            print_fn(line(cells))
        print_fn("=" * width)
        print_fn(f"Total params: {_count(self.count_params())}")
        print_fn(f"Trainable params: {_count(self.count_params(True))}")
        print_fn(f"Non-trainable params: {_count(self.count_params(False))}")
        if self.aux_outputs:
            print_fn(f"Auxiliary outputs (training only, loss weight {self.aux_loss_weight:g}): "
                     + ", ".join(t.layer.name for t in self.aux_outputs))
        print_fn("_" * width)

    def get_config(self) -> dict:
        """The architecture as a JSON-able dict (layers by class name and config, plus the graph edges)."""
        layers = []
        for layer in self.layers:
            inbound, list_input, _ = layer._node
            layers.append({"class_name": type(layer).__name__, "config": layer.get_config(),
                           "inbound": [t.layer.name for t in inbound], "list_input": list_input})
        return {"class_name": "Model", "name": self.name, "layers": layers,
                "inputs": [t.layer.name for t in self._inputs], "outputs": [t.layer.name for t in self._outputs],
                "aux_outputs": [t.layer.name for t in self._aux_outputs], "aux_loss_weight": self.aux_loss_weight}

    @classmethod
    def from_config(cls, config: dict) -> "Model":
        """Rebuild the architecture from get_config()'s dict (Sequential or functional), freshly initialized."""
        if not isinstance(config, dict) or config.get("class_name") not in ("Model", "Sequential"):
            raise ValueError(f"Model.from_config: argument 'config' got {_short(config)}, needed a dict from "
                             f"Model.get_config() (class_name 'Model' or 'Sequential')")
        try:
            if config["class_name"] == "Sequential":
                return Sequential._from_sequential_config(config)
            tensors: dict[str, SymbolicTensor] = {}
            for entry in config["layers"]:
                layer_cls = _base.get(entry["class_name"])
                layer = layer_cls.from_config(dict(entry["config"]))
                if isinstance(layer, InputLayer):
                    tensors[layer.name] = layer.output
                    continue
                ins = [tensors[n] for n in entry["inbound"]]
                tensors[layer.name] = layer(ins if entry["list_input"] else ins[0])
            return Model([tensors[n] for n in config["inputs"]], [tensors[n] for n in config["outputs"]],
                         name=config["name"], aux_outputs=[tensors[n] for n in config["aux_outputs"]] or None,
                         aux_loss_weight=config["aux_loss_weight"])
        except (KeyError, TypeError, IndexError) as e:
            raise ValueError(f"Model.from_config: argument 'config' is malformed ({type(e).__name__}: {e})") \
                from None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _short(v) -> str:
    r = repr(v)
    return r if len(r) < 60 else r[:57] + "..."


class Sequential(Model):
    """A plain stack of layers: Sequential([layers.Conv2D(6, 5, input_shape=(1, 28, 28)), ...]).

    The input shape comes from a leading fastcnn.Input(shape), the first layer's input_shape=, build(shape)
    or the first forward. Layers are checked and built as soon as the input shape is known.
    """

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None):
        TrainingMixin.__init__(self)
        self.name = name or "sequential"
        self.aux_loss_weight = 0.3
        self._stack: list[Layer] = []
        self._input_layer: InputLayer | None = None
        self._graph = False
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        """Append a layer (or, first, a fastcnn.Input); it is built at once if the input shape is known."""
        if isinstance(layer, SymbolicTensor) and isinstance(layer.layer, InputLayer):
            layer = layer.layer
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError(f"{self.name}: an Input can only come first")
            self._input_layer = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"{self.name}.add: argument 'layer' got {type(layer).__name__}, needed a Layer")
        if layer._node is not None or layer in self._stack:
            raise ValueError(f"{self.name}.add: {layer._describe()} is already used in a graph; a layer can be "
                             f"used once")
        taken = {l.name for l in self._stack if l.has_name}
        if layer.has_name and layer.name in taken:
            raise ValueError(f"{self.name}.add: layer names must be unique, got {layer.name!r} twice")
        _assign_names([layer], taken | ({self._input_layer.name} if self._input_layer else set()))
        if self._graph:
            layer(self._outputs[0])  # builds it, or raises naming it
            self._stack.append(layer)
            self._init_graph(self._inputs, [layer._node[2]], [])
            return
        self._stack.append(layer)
        if self._input_layer is not None or self._stack[0].input_shape_arg is not None:
            try:
                self._build_graph()
            except ValueError:
                self._stack.pop()
                raise

    def _known_input_shape(self):
        if self._input_layer is not None:
            return self._input_layer.shape
        if self._stack and self._stack[0].input_shape_arg is not None:
            return self._stack[0].input_shape_arg
        return None

    def _build_graph(self, input_shape=None) -> None:
        if input_shape is None:
            input_shape = self._known_input_shape()
        if self._input_layer is None:
            self._input_layer = InputLayer(input_shape)
        if not self._stack:
            raise ValueError(f"{self.name}: has no layers to build")
        t = self._input_layer.output
        for layer in self._stack:
            if layer._node is None:
                t = layer(t)
            else:
                t = layer._node[2]
        self._graph = True
        self._init_graph([self._input_layer.output], [t], [])

    @property
    def built(self) -> bool:
        return self._graph

    def build(self, input_shape=None) -> None:
        """Build for input_shape (without batch); None uses the shape given by Input / input_shape=."""
        if self._graph:
            return Model.build(self, input_shape)
        if input_shape is None and self._known_input_shape() is None:
            raise ValueError(f"{self.name}: argument 'input_shape' got None, and no Input or input_shape= "
                             f"gives it; needed the input shape without the batch axis, e.g. (1, 28, 28)")
        if input_shape is not None and self._known_input_shape() is not None and \
                tuple(input_shape) != tuple(self._known_input_shape()):
            raise ValueError(f"{self.name}: argument 'input_shape' got {tuple(input_shape)}, but the model "
                             f"declares {tuple(self._known_input_shape())}")
        self._build_graph(None if input_shape is None else tuple(int(s) for s in input_shape))

    def _ensure_built(self, x=None) -> None:
        if self._graph:
            return
        if self._known_input_shape() is None and x is not None:
            a = np.asarray(x)
            if a.ndim >= 2:
                self.build(a.shape[1:])
                return
        if self._known_input_shape() is None:
            raise ValueError(f"{self.name} is not built: give input_shape= to the first layer, start with "
                             f"fastcnn.Input(shape), or call build(input_shape)")
        self._build_graph()

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def parameters(self) -> list[Param]:
        self._ensure_built()
        return super().parameters()

    def state_arrays(self):
        self._ensure_built()
        return super().state_arrays()

    def count_params(self, trainable: bool | None = None) -> int:
        self._ensure_built()
        return super().count_params(trainable)

    def _summary_rows(self):
        self._ensure_built()
        return self.layers, False

    def get_config(self) -> dict:
        shape = self._known_input_shape()
        if shape is None and self._graph:
            shape = self._input_layer.shape
        return {"class_name": "Sequential", "name": self.name,
                "input_shape": None if shape is None else list(shape),
                "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self._stack]}

    @classmethod
    def _from_sequential_config(cls, config: dict) -> "Sequential":
        model = Sequential(name=config["name"])
        if config.get("input_shape") is not None:
            model.add(InputLayer(config["input_shape"]))
        for entry in config["layers"]:
            model.add(_base.get(entry["class_name"]).from_config(dict(entry["config"])))
        return model
