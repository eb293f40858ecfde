"""compile / fit / evaluate / predict / save for models (``Model`` inherits ``TrainingMixin``).

The mixin relies on the model-core contract: ``forward(x, training)``, ``backward(dys)``,
``parameters()``, ``state_arrays()``, ``loss_weights``, ``input_shapes``, ``output_shapes``,
``build()``, ``built``.

Inputs are (N, C, H, W) arrays (a list of them for several model inputs), float or uint8 (uint8
is scaled to [0, 1]), or objects that make batches on demand (``_is_lazy``); Keras-shaped
(N, H, W) images get a channel axis when the model wants (1, H, W). Targets are class ids (N,) or one-hot / probabilities (N, classes). Batches are
converted one at a time into a reused float32 buffer, so the whole set is never copied.

On the device (``model.to('cuda')``) the whole set is uploaded once per fit/evaluate/predict call
(uint8 stays uint8), each epoch's permutation once, and batches are gathered on the device
(take_rows converts uint8 with scale 1/255); loss and metrics are summed there and read back once per
epoch, so a step never waits for the GPU. The progress bar then shows the running loss and metrics
at the end of each epoch only. Exceptions that do read back per step: a loss without ``sum_into``,
metrics other than accuracy (called on host copies), and callbacks overriding on_batch_end (they get
the batch loss).
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from . import _C
from . import _random
from . import _tensor
from .functional import _validate as V
from . import losses as _losses
from . import metrics as _metrics
from . import optim as _optim
from .callbacks import Callback, History

__all__ = ["TrainingMixin"]


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + (",)" if len(shape) == 1 else ")")


def _is_lazy(a) -> bool:
    """A dataset object that makes its batches on demand: .shape, .dtype, .ndim, __len__ and
    __getitem__ (slice or index array) returning numpy arrays — e.g. resized images."""
    return all(hasattr(a, k) for k in ("shape", "dtype", "ndim", "__len__", "__getitem__"))


class _Inputs:
    """The model's inputs checked against its input shapes, sliced and converted per batch."""

    def __init__(self, x, input_shapes, fn: str):
        arrays = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(arrays) != len(input_shapes):
            raise ValueError(f"{fn}: argument 'x' got {len(arrays)} arrays, needed {len(input_shapes)} "
                             f"(one per model input)")
        self.arrays, self.scales = [], []   # scales: the divisor for uint8 input, else None
        for i, (a, expected) in enumerate(zip(arrays, input_shapes)):
            name = "x" if len(arrays) == 1 else f"x[{i}]"
            if not isinstance(a, np.ndarray) and not _is_lazy(a):
                a = np.asarray(a)
            if a.dtype.kind not in "biuf":
                raise TypeError(f"{fn}: argument '{name}' got dtype {a.dtype}, needed a numeric array")
            expected = tuple(int(s) for s in expected)
            if isinstance(a, np.ndarray) and a.ndim == len(expected) and len(expected) >= 2 and expected[0] == 1 \
                    and tuple(a.shape[1:]) == expected[1:]:
                a = a.reshape(a.shape[0], *expected)          # Keras-style (N, H, W) grey images
            if a.ndim != len(expected) + 1 or tuple(a.shape[1:]) != expected:
                raise ValueError(f"{fn}: argument '{name}' got shape {_shape_str(a.shape)}, needed "
                                 f"(N, {', '.join(map(str, expected))}) for model input {i}")
            self.arrays.append(a)
            self.scales.append(np.float32(255) if a.dtype == np.uint8 else None)
        # inputs _C.gather_rows gathers (index arrays): plain uint8 / float32 arrays, C-contiguous
        self._takes = [isinstance(a, np.ndarray) and a.dtype in (np.uint8, np.float32) and a.flags.c_contiguous
                       and a.ndim >= 1 for a in self.arrays]
        n = {len(a) for a in self.arrays}
        if len(n) != 1:
            raise ValueError(f"{fn}: argument 'x' got inputs of different lengths {sorted(n)}, needed one N")
        self.n = n.pop()
        self._buffers: list[np.ndarray | None] = [None] * len(self.arrays)

    def batch(self, index) -> list[np.ndarray]:
        """float32 C-contiguous batches for rows `index` (a slice or an index array)."""
        out = []
        # fit's shuffled rows (int64 index arrays): gathered and converted in one pass by _C.gather_rows
        # (same values); slices (evaluate, predict, unshuffled fit) are views, converted in one pass
        take = type(index) is np.ndarray and index.dtype == np.int64 and index.ndim == 1
        for i, (a, scale) in enumerate(zip(self.arrays, self.scales)):
            src = None if take and self._takes[i] else a[index]
            m = len(index) if src is None else len(src)
            buf = self._buffers[i]
            if buf is None or len(buf) < m:
                buf = self._buffers[i] = np.empty((m, *a.shape[1:]), dtype=np.float32)
            dst = buf[:m]
            if src is None:
                _C.gather_rows(a, index, dst, 1.0 if scale is None else 255.0)
            elif scale is not None:        # uint8 -> [0, 1], as x.astype(np.float32) / 255
                np.divide(src, scale, out=dst, casting="unsafe")
            else:
                np.copyto(dst, src, casting="unsafe")
            out.append(dst)
        return out


class _DeviceData:
    """A data set held whole on the device: inputs (uint8 kept as uint8, else float32), targets and,
    for accuracy, class ids; batches are gathered on the device by row indices (no copy per step)."""

    def __init__(self, cuda, inputs: _Inputs, targets: np.ndarray | None = None, want_ids: bool = False):
        self.cuda, self.inputs, self.n = cuda, inputs, inputs.n
        self.arrays = []            # device arrays, None for lazy inputs (made on the host per batch)
        for a in inputs.arrays:
            if V.is_device(a) or not isinstance(a, np.ndarray):
                self.arrays.append(a if V.is_device(a) else None)
            else:
                self.arrays.append(cuda.to_device(np.ascontiguousarray(
                    a if a.dtype == np.uint8 else a.astype(np.float32, copy=False))))
        self.scales = [1.0 if s is None else 1.0 / float(s) for s in inputs.scales]
        self.rows = cuda.to_device(np.arange(self.n, dtype=np.int64))   # the unshuffled order
        self.targets = self.ids = None
        if targets is not None:
            self.targets = cuda.to_device(targets)
            if want_ids:
                self.ids = self.targets if targets.ndim == 1 else \
                    cuda.to_device(np.ascontiguousarray(targets.argmax(axis=1), dtype=np.int64))
        self._buffers: dict = {}

    def _buffer(self, key, shape, dtype):
        buf = self._buffers.get(key)
        if buf is None or tuple(buf.shape) != tuple(shape):
            buf = self._buffers[key] = self.cuda.empty(tuple(int(s) for s in shape), dtype)
        return buf

    def batch(self, idx, rows) -> tuple:
        """(inputs list, targets, ids) for the device int64 row indices idx (rows: the same rows on the
        host, a slice or an index array, used only by lazy inputs)."""
        m = len(idx)
        xs = []
        host = None
        for i, (a, scale) in enumerate(zip(self.arrays, self.scales)):
            dst = self._buffer(("x", i), (m, *self.inputs.arrays[i].shape[1:]), "float32")
            if a is None:
                host = self.inputs.batch(rows) if host is None else host
                self.cuda.upload(dst, host[i])
            else:
                self.cuda.take_rows(a, idx, dst, scale)
            xs.append(dst)
        y = ids = None
        if self.targets is not None:
            y = self._buffer("y", (m, *self.targets.shape[1:]), self.targets.dtype.name)
            self.cuda.take_labels(self.targets, idx, y)
            if self.ids is self.targets:
                ids = y
            elif self.ids is not None:
                ids = self._buffer("ids", (m,), "int64")
                self.cuda.take_labels(self.ids, idx, ids)
        return xs, y, ids


def _targets(y, n: int, num_classes: int, fn: str) -> np.ndarray:
    """Class ids (N,) as int64, or one-hot / probabilities (N, classes) as float32, checked."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: argument 'y' got dtype {y.dtype}, needed class ids (integers)")
    if y.ndim == 2 and y.shape[1] == num_classes and y.dtype.kind == "f":
        if len(y) != n:
            raise ValueError(f"{fn}: argument 'y' got {len(y)} rows, needed {n} (one per sample in x)")
        return np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"{fn}: argument 'y' got shape {_shape_str(y.shape)}, needed ({n},) class ids "
                         f"or ({n}, {num_classes}) one-hot targets")
    if len(y) != n:
        raise ValueError(f"{fn}: argument 'y' got {len(y)} labels, needed {n} (one per sample in x)")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{fn}: argument 'y' got non-integer values, needed class ids 0..{num_classes - 1}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        bad = y.min() if y.min() < 0 else y.max()
        raise ValueError(f"{fn}: argument 'y' got class id {bad.item()!r}, needed class ids in 0..{num_classes - 1}")
    return y.astype(np.int64)


def _batch_size(v, fn: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{fn}: argument 'batch_size' got {v!r}, needed an int >= 1")
    return int(v)


def _shapes(shapes) -> list[tuple]:
    """input_shapes / output_shapes as a list of tuples (a single tuple is accepted too)."""
    shapes = list(shapes)
    if shapes and isinstance(shapes[0], (int, np.integer)):
        return [tuple(shapes)]
    return [tuple(s) for s in shapes]


class _Progress:
    """tqdm bar per epoch (verbose=1), one line per epoch (verbose=2) or nothing (verbose=0)."""

    def __init__(self, verbose: int, epoch: int, epochs: int, steps: int):
        self.verbose, self.bar = verbose, None
        self.prefix = f"Epoch {epoch + 1}/{epochs}"
        if verbose == 1:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=steps, desc=self.prefix, unit="step", file=sys.stdout, leave=True,
                            dynamic_ncols=True, mininterval=0.25)

    def shows_logs(self) -> bool:
        """Whether the next update puts its logs on the bar (the loop computes them only then)."""
        return self.bar is not None and (self.bar.n + 1 == self.bar.total or (self.bar.n + 1) % 10 == 0)

    def update(self, logs: dict | None) -> None:
        """One step done; logs (None: not known yet, on the device) go on the bar every 10 steps."""
        if self.bar is not None:
            self.bar.update(1)
            if logs is not None and (self.bar.n == self.bar.total or self.bar.n % 10 == 0):
                self.bar.set_postfix_str(_format(logs), refresh=False)

    def close(self, logs: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(_format(logs), refresh=False)
            self.bar.close()
        elif self.verbose == 2:
            print(f"{self.prefix} - {_format(logs)}", flush=True)


def _format(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" if k != "seconds" else f"{v:.1f}s" for k, v in logs.items())


class TrainingMixin:
    """Keras-style training for models: compile, fit, evaluate, predict, save."""

    def __init__(self):
        self.optimizer = None          # set by compile
        self.loss = None
        self.metric_fns: list = []     # [(name, fn(output, target) -> float)]
        self.compile_config = None     # JSON-able compile arguments (for saving)
        self.history = None            # the History of the latest fit
        self.stop_training = False     # a callback sets it to end fit after the current epoch
        self.epochs_done = 0           # epochs trained so far (restored by load_model)
        self.training_log: list[dict] = []   # one dict per epoch trained, across fit calls and resumes
        self._cuda = None              # the CUDA module while the model is on the device (model.to)
        self._grad_bufs: dict = {}     # output index -> the loss gradient array of the last step

    # The host loop's fused loss step (see _fused_loss); tests turn it off to compare with the
    # general path, which must give the same bits.
    _fuse_loss_step = True

    def _fused_loss_applies(self, targets) -> bool:
        """Whether the host loop takes _fused_loss for these targets: one output (no aux outputs), the
        built-in cross-entropy, class ids, and no metric but accuracy."""
        return (self._fuse_loss_step and len(self.loss_weights) == 1 and type(self.loss) is _losses.CrossEntropy
                and targets.ndim == 1 and all(fn is _metrics.accuracy for _, fn in self.metric_fns))

    def _fused_loss(self, logits, ids) -> tuple[float, int]:
        """(mean loss, rows whose argmax is the class id) with the loss gradient written into the
        reused gradient array, in one kernel call: the bits of loss(), loss.gradient() and
        metrics.accuracy's count."""
        buf = self._grad_bufs.get(0)
        if buf is None or buf.shape != logits.shape or type(buf) is not np.ndarray:
            buf = self._grad_bufs[0] = np.empty(logits.shape, np.float32)
        return _C.cross_entropy_forward_backward(logits, ids, buf)

    def _loss_gradient(self, i: int, logits, target):
        """The loss gradient for output i, written into the previous step's array when it fits, so a
        training step allocates nothing for it."""
        buf = self._grad_bufs.get(i)
        if buf is not None and (buf.shape != logits.shape or type(buf) is not type(logits)):
            buf = None
        g = self._grad_bufs[i] = self.loss.gradient(logits, target, out=buf)
        return g

    # -- setup

    def compile(self, optimizer="sgd", loss="cross_entropy", metrics=("accuracy",)) -> None:
        """optimizer: a fastcnn.optim.Optimizer or a name (sgd, momentum, adam, adamw, rmsprop);
        loss: a fastcnn.losses.Loss or a name; metrics: names or callables(output, target)."""
        self.optimizer = _optim.get(optimizer)
        self.loss = _losses.get(loss)
        if isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]
        self.metric_fns = [_metrics.get(m) for m in (metrics or [])]
        if self._cuda is not None:
            self.optimizer._move(self._cuda)
        self.compile_config = {"loss": self.loss.name or type(self.loss).__name__,
                               "metrics": [name for name, _ in self.metric_fns]}

    @property
    def compiled(self) -> bool:
        return self.optimizer is not None and self.loss is not None

    def _require_compiled(self, fn: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"{fn}: the model is not compiled; call model.compile(optimizer, loss) first")

    def _build_for(self, x) -> None:
        """Build an unbuilt model (a Sequential without an input shape) for the data's sample shape."""
        if not self.built:
            first = x[0] if isinstance(x, (list, tuple)) else x
            self.build(tuple(first.shape[1:]) if hasattr(first, "shape") else np.shape(first)[1:])

    def _data_inputs(self, x, fn: str) -> _Inputs:
        self._build_for(x)
        return _Inputs(x, _shapes(self.input_shapes), fn)

    def _num_classes(self) -> int:
        return int(_shapes(self.output_shapes)[0][-1])

    # -- the loop

    def fit(self, x, y, batch_size: int = 32, epochs: int = 1, validation_data=None, shuffle: bool = True,
            callbacks=None, verbose: int = 1, initial_epoch: int = 0) -> History:
        """Train from epoch `initial_epoch` up to (not including) `epochs`; returns a History with
        per-epoch loss, metrics (e.g. accuracy), val_* when validation_data=(x_val, y_val) is given,
        and seconds (training time of the epoch, without validation)."""
        self._require_compiled("fit")
        batch_size = _batch_size(batch_size, "fit")
        for name, v, lo in (("epochs", epochs, 0), ("initial_epoch", initial_epoch, 0)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"fit: argument '{name}' got {v!r}, needed an int >= {lo}")
        inputs = self._data_inputs(x, "fit")
        targets = _targets(y, inputs.n, self._num_classes(), "fit")
        if inputs.n == 0:
            raise ValueError("fit: argument 'x' got 0 samples, needed at least one")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("fit: argument 'validation_data' needed a pair (x_val, y_val)")
            val_inputs = self._data_inputs(validation_data[0], "fit (validation_data)")
            val_targets = _targets(validation_data[1], val_inputs.n, self._num_classes(), "fit (validation_data)")

        n = inputs.n
        steps = math.ceil(n / batch_size)
        schedule = self.optimizer.schedule
        if isinstance(schedule, _optim.OneCycle) and schedule.total_steps is None:
            schedule.total_steps = epochs * steps

        history = History()
        callbacks = [history] + list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"fit: argument 'callbacks' got {type(cb).__name__}, needed fastcnn.callbacks.Callback")
            cb.set_model(self)
        self.history = history
        self.stop_training = False
        loss_weights = [float(w) for w in self.loss_weights]
        params = self.parameters()
        fused = self._fused_loss_applies(targets)
        device = val_device = None
        if self._cuda is not None:  # the whole set goes to the device once; batches are gathered there
            device = _DeviceData(self._cuda, inputs, targets, self._wants_ids())
            if validation_data is not None:
                val_device = _DeviceData(self._cuda, val_inputs, val_targets, self._wants_ids())

        for cb in callbacks:
            cb.on_train_begin()
        for epoch in range(int(initial_epoch), int(epochs)):
            self.optimizer.epoch = epoch
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            order = _random.rng().permutation(n) if shuffle else None
            progress = _Progress(verbose, epoch, epochs, steps)
            start = time.perf_counter()
            if device is None:
                # summed over samples: loss, metrics, as Python floats (float64, the same bits as
                # the numpy sums they replace: m * value, added in step order)
                totals = [0.0] * (1 + len(self.metric_fns))
                seen = 0
                batch_callbacks = callbacks[1:]
                n_metrics = len(self.metric_fns)
                for step in range(steps):
                    rows = slice(step * batch_size, min(n, (step + 1) * batch_size))
                    index = order[rows] if order is not None else rows
                    xb, yb = inputs.batch(index), targets[index]
                    outputs = self.forward(xb if len(xb) > 1 else xb[0], training=True)
                    m = len(yb)
                    out = outputs[0]
                    if fused and type(out) is np.ndarray and out.ndim == 2 and out.dtype == np.float32 \
                            and out.flags.c_contiguous:
                        # the common case in one kernel call; accuracy is hits / m as np.mean gives it
                        loss, hits = self._fused_loss(out, yb)
                        grads = [self._grad_bufs[0]]
                        batch_metrics = [hits / m] * n_metrics
                    else:
                        loss = 0.0
                        grads = []
                        for i, (out, w) in enumerate(zip(outputs, loss_weights)):
                            loss += w * self.loss(out, yb)
                            g = self._loss_gradient(i, out, yb)
                            if w != 1.0:
                                g *= np.float32(w)
                            grads.append(g)
                        batch_metrics = [float(fn(outputs[0], yb)) for _, fn in self.metric_fns]
                    self.backward(grads)
                    self.optimizer.step(params)

                    seen += m
                    totals[0] += m * float(loss)   # float(): a Loss may return a numpy float32
                    for i, v in enumerate(batch_metrics):
                        totals[i + 1] += m * v
                    # the running logs only when the bar shows them
                    progress.update(self._logs([t / seen for t in totals]) if progress.shows_logs() else None)
                    if batch_callbacks:
                        for cb in batch_callbacks:
                            cb.on_batch_end(step, {"loss": loss, "size": m})
                logs = self._logs([t / seen for t in totals])
            else:
                logs = self._train_epoch_device(device, order, batch_size, loss_weights, params, progress,
                                                callbacks[1:])
            logs["seconds"] = time.perf_counter() - start
            if validation_data is not None:
                val = self._evaluate(val_inputs, val_targets, batch_size) if device is None else \
                    self._evaluate_device(val_device, batch_size)
                logs.update({"val_" + k: v for k, v in val.items()})
            self.epochs_done = epoch + 1
            self.training_log = self.training_log + [{"epoch": epoch + 1, **logs}]
            progress.close(logs)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end()
        return history

    # -- the loop on the device

    def _wants_ids(self) -> bool:
        return any(fn is _metrics.accuracy for _, fn in self.metric_fns)

    def _device_totals(self, data: _DeviceData, outputs, y, ids, m: int, weights, sums, host_totals):
        """Add one batch's loss and metrics (times its size m) to the sums: on the device where the loss
        has sum_into and for accuracy (sums: one (1,) device view per loss and metric), on the host
        otherwise. Returns the batch loss when computed on the host (else None)."""
        fused = getattr(self.loss, "sum_into", None)
        loss = None
        for out, w in zip(outputs, weights):
            if fused is not None:
                fused(out, y, sums[0], w)
            else:
                value = w * self.loss(out, y)
                loss = value if loss is None else loss + value
        if loss is not None:
            host_totals[0] += m * loss
        for i, (_, fn) in enumerate(self.metric_fns):
            if fn is _metrics.accuracy:
                data.cuda.argmax_hits(outputs[0], ids, sums[1 + i])
            else:
                host_totals[1 + i] += m * fn(outputs[0].numpy(), y.numpy())
        return loss

    def _train_epoch_device(self, data: _DeviceData, order, batch_size: int, weights, params, progress,
                            callbacks) -> dict:
        cuda = data.cuda
        n = data.n
        indices = data.rows if order is None else cuda.to_device(np.ascontiguousarray(order, dtype=np.int64))
        dev_totals = cuda.empty((1 + len(self.metric_fns),), "float32")
        cuda.fill(dev_totals, 0.0)
        sums = [dev_totals[i:i + 1] for i in range(len(dev_totals))]
        host_totals = np.zeros(1 + len(self.metric_fns))
        from .callbacks import Callback
        batch_loss = [cb for cb in callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
        for step in range(math.ceil(n / batch_size)):
            a, b = step * batch_size, min(n, (step + 1) * batch_size)
            xs, y, ids = data.batch(indices[a:b], slice(a, b) if order is None else order[a:b])
            outputs = self.forward(xs if len(xs) > 1 else xs[0], training=True)
            m = b - a
            loss = self._device_totals(data, outputs, y, ids, m, weights, sums, host_totals)
            grads = []
            for i, (out, w) in enumerate(zip(outputs, weights)):
                g = self._loss_gradient(i, out, y)
                if w != 1.0:
                    cuda.scale(g, w, g)
                grads.append(g)
            self.backward(grads)
            self.optimizer.step(params)
            progress.update(None)
            if batch_loss:
                if loss is None:  # the loss was summed on the device: read this batch's back
                    loss = sum(w * self.loss(out, y) for out, w in zip(outputs, weights))
                for cb in batch_loss:
                    cb.on_batch_end(step, {"loss": loss, "size": m})
        return self._logs((dev_totals.numpy().astype(np.float64) + host_totals) / n)

    def _evaluate_device(self, data: _DeviceData, batch_size: int) -> dict:
        cuda = data.cuda
        dev_totals = cuda.empty((1 + len(self.metric_fns),), "float32")
        cuda.fill(dev_totals, 0.0)
        sums = [dev_totals[i:i + 1] for i in range(len(dev_totals))]
        host_totals = np.zeros(1 + len(self.metric_fns))
        weights = [1.0] * len(self.outputs)
        for a in range(0, data.n, batch_size):
            b = min(data.n, a + batch_size)
            xs, y, ids = data.batch(data.rows[a:b], slice(a, b))
            outputs = self.forward(xs if len(xs) > 1 else xs[0], training=False)
            self._device_totals(data, outputs, y, ids, b - a, weights, sums, host_totals)
        return self._logs((dev_totals.numpy().astype(np.float64) + host_totals) / max(data.n, 1))

    def _logs(self, values) -> dict:
        logs = {"loss": float(values[0])}
        logs.update({name: float(v) for (name, _), v in zip(self.metric_fns, values[1:])})
        return logs

    # -- inference

    def _evaluate(self, inputs: _Inputs, targets: np.ndarray, batch_size: int) -> dict:
        totals = np.zeros(1 + len(self.metric_fns))
        for s in range(0, inputs.n, batch_size):
            rows = slice(s, min(inputs.n, s + batch_size))
            xb, yb = inputs.batch(rows), targets[rows]
            outputs = self.forward(xb if len(xb) > 1 else xb[0], training=False)
            loss = sum(self.loss(out, yb) for out in outputs)
            totals += len(yb) * np.array([loss, *(fn(outputs[0], yb) for _, fn in self.metric_fns)])
        return self._logs(totals / max(inputs.n, 1))

    def evaluate(self, x, y, batch_size: int = 32, verbose: int = 0, return_dict: bool = False):
        """(loss, *metrics) over the whole set — e.g. (loss, accuracy) — or a dict with return_dict."""
        self._require_compiled("evaluate")
        batch_size = _batch_size(batch_size, "evaluate")
        inputs = self._data_inputs(x, "evaluate")
        targets = _targets(y, inputs.n, self._num_classes(), "evaluate")
        if self._cuda is None:
            result = self._evaluate(inputs, targets, batch_size)
        else:
            result = self._evaluate_device(_DeviceData(self._cuda, inputs, targets, self._wants_ids()), batch_size)
        if verbose:
            print(_format(result))
        return result if return_dict else tuple(result.values())

    def predict(self, x, batch_size: int = 32, verbose: int = 0):
        """The model's outputs (inference mode) for every sample: an array, or a list of arrays for
        several outputs."""
        batch_size = _batch_size(batch_size, "predict")
        inputs = self._data_inputs(x, "predict")
        shapes = _shapes(self.output_shapes)
        starts = range(0, inputs.n, batch_size)
        if verbose:
            from tqdm.auto import tqdm
            starts = tqdm(starts, desc="predict", unit="step", file=sys.stdout)
        if self._cuda is not None:  # results gathered on the device, downloaded once
            data = _DeviceData(self._cuda, inputs)
            results = [self._cuda.empty((inputs.n, *s), "float32") for s in shapes]
            for s in starts:
                b = min(inputs.n, s + batch_size)
                xs, _, _ = data.batch(data.rows[s:b], slice(s, b))
                outputs = self.forward(xs if len(xs) > 1 else xs[0], training=False)
                for dst, out in zip(results, outputs):
                    self._cuda.copy(out, dst[s:b])
            results = [r.numpy() for r in results]
            return results[0] if len(results) == 1 else results
        results = [np.empty((inputs.n, *s), dtype=np.float32) for s in shapes]
        for s in starts:
            rows = slice(s, min(inputs.n, s + batch_size))
            xb = inputs.batch(rows)
            outputs = self.forward(xb if len(xb) > 1 else xb[0], training=False)
            for dst, out in zip(results, outputs):
                dst[rows] = out
        return results[0] if len(results) == 1 else results

    # -- saving

    def save(self, path) -> None:
        """Write architecture, weights, optimizer state, RNG state and epoch to one .npz file,
        atomically (see fastcnn.saving)."""
        from .saving import save_model
        save_model(self, path)
