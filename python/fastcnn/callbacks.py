"""Training callbacks and the History that ``fit`` returns.

A callback subclasses ``Callback`` and overrides any of on_train_begin/end(logs),
on_epoch_begin/end(epoch, logs), on_batch_end(batch, logs); ``self.model`` is the model being
trained. Setting ``model.stop_training = True`` ends ``fit`` after the current epoch.
"""
from __future__ import annotations

import math
import os
import warnings

from . import _tensor

__all__ = ["Callback", "History", "ModelCheckpoint", "EarlyStopping"]


class Callback:
    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass


class History(Callback):
    """``history``: per-epoch lists, e.g. {'loss': [...], 'accuracy': [...], 'val_loss': [...],
    'seconds': [...]}; ``epoch``: the epoch indices (0-based) they belong to."""

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def _mode(monitor: str, mode: str, cls: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{cls}: argument 'mode' got {mode!r}, needed 'auto', 'min' or 'max'")
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


class _Monitor(Callback):
    """Tracks the best value of logs[monitor]."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        self.monitor = monitor
        self.mode = _mode(monitor, mode, type(self).__name__)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf
        self._warned = False

    def _current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None and not self._warned:
            warnings.warn(f"{type(self).__name__}: metric '{self.monitor}' is not in the logs "
                          f"(have {sorted(logs or {})}); pass validation_data to fit for val_* metrics",
                          RuntimeWarning, stacklevel=3)
            self._warned = True
        return value

    def _improved(self, value) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class ModelCheckpoint(_Monitor):
    """Save the model after each epoch (or only when `monitor` improved, with save_best_only).

    path may hold format fields: ``epoch`` (1-based) and any log name, e.g. "ckpt-{epoch:02d}.npz".
    """

    def __init__(self, path, save_best_only: bool = False, monitor: str = "val_loss", mode: str = "auto",
                 verbose: int = 0):
        super().__init__(monitor, mode)
        self.path = os.fspath(path)
        self.save_best_only = bool(save_best_only)
        self.verbose = verbose

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.path.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = self._current(logs)
            if value is None or not self._improved(value):
                return
            self.best = value
        self.model.save(path)
        if self.verbose:
            print(f"epoch {epoch + 1}: saved model to {path}")


class EarlyStopping(_Monitor):
    """Stop when `monitor` has not improved by more than min_delta for `patience` epochs."""

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False, verbose: int = 0):
        super().__init__(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: argument 'patience' got {patience!r}, needed an int >= 0")
        self.patience = patience
        self.restore_best_weights = bool(restore_best_weights)
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, None, None
        self.best = math.inf if self.mode == "min" else -math.inf
        self._best_arrays = None

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if value is None:
            return
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_arrays = [_tensor.clone(a) for a in _arrays(self.model)]
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.verbose:
                print(f"epoch {epoch + 1}: early stopping ({self.monitor} best {self.best:.5g} "
                      f"at epoch {self.best_epoch + 1})")

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self._best_arrays is not None and self.stopped_epoch is not None:
            for dst, src in zip(_arrays(self.model), self._best_arrays):
                _tensor.assign(dst, src)


def _arrays(model) -> list:
    """Every weight and non-trainable state array of the model (the ones restored in place)."""
    return [p.value for p in model.parameters()] + [a for _, a in model.state_arrays()]
