"""One-file model checkpoints: ``model.save(path)`` and ``fastcnn.load_model(path)``.

The file is a numpy .npz archive read with allow_pickle=False, so loading cannot run code. It holds
``__meta__``: UTF-8 JSON as a uint8 array (format tag, architecture from ``model.get_config()``,
compile arguments, optimizer config, epochs done, the package RNG state, the per-epoch training
log, and the names of the arrays below) and the arrays ``param_<i>`` (``model.parameters()``),
``state_<i>`` (``model.state_arrays()``) and ``opt_<i>`` (optimizer slots and step counts).

Writes are atomic: a temporary file in the same directory is written, flushed and fsynced, then
renamed over the target and the directory fsynced, so a crash leaves the previous file intact.
Loading restores the RNG state last, so ``fit(initial_epoch=k)`` continues the exact run.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from . import _tensor
from . import _random

__all__ = ["save_model", "load_model"]

FORMAT = "fastcnn.model"
FORMAT_VERSION = 1


def _meta_and_arrays(model) -> tuple[dict, dict]:
    arrays = {}
    params = model.parameters()
    for i, p in enumerate(params):
        arrays[f"param_{i}"] = _tensor.host(p.value)  # a download for a model on the device
    states = model.state_arrays()
    for i, (_, a) in enumerate(states):
        arrays[f"state_{i}"] = _tensor.host(a)
    optimizer = model.optimizer
    opt_slots = []
    if optimizer is not None:
        for pname, slots in optimizer.state_dict().items():
            for slot, a in slots.items():
                arrays[f"opt_{len(opt_slots)}"] = a
                opt_slots.append([pname, slot])
    from . import __version__
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "fastcnn_version": __version__,
        "model": model.get_config(),
        "compile": model.compile_config if optimizer is not None else None,
        "optimizer": None if optimizer is None else optimizer.get_config(),
        "epoch": int(model.epochs_done),
        "rng_state": _random.get_state(),
        "training_log": list(model.training_log),
        "params": [[p.name, list(p.value.shape)] for p in params],
        "states": [[name, list(a.shape)] for name, a in states],
        "optimizer_state": opt_slots,
    }
    return meta, arrays


def save_model(model, path) -> None:
    """Write the model to `path` (exactly that name; no suffix is added), atomically."""
    path = os.fspath(path)
    meta, arrays = _meta_and_arrays(model)
    blob = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, __meta__=blob, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class _Damaged(Exception):
    pass


def _read(path: str) -> tuple[dict, dict]:
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise _Damaged("a single .npy array, not a .npz archive")
        with z:
            if "__meta__" not in z.files:
                raise _Damaged("no fastcnn metadata")
            arrays = {k: z[k] for k in z.files}
    except _Damaged:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise _Damaged(f"not a readable .npz archive ({e})") from None
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise _Damaged(f"metadata is not valid JSON: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _Damaged("metadata does not describe a fastcnn model")
    if meta.get("format_version") != FORMAT_VERSION:
        raise _Damaged(f"format version {meta.get('format_version')!r}, this fastcnn reads {FORMAT_VERSION}")
    return meta, arrays


def _copy_in(kind: str, names_shapes: list, targets: list, arrays: dict) -> None:
    """Copy arrays['<kind>_<i>'] into the model's own arrays, checking names and shapes."""
    if len(names_shapes) != len(targets):
        raise _Damaged(f"it holds {len(names_shapes)} {kind} arrays, the architecture has {len(targets)}")
    for i, ((name, shape), (own_name, dst)) in enumerate(zip(names_shapes, targets)):
        src = arrays.get(f"{kind}_{i}")
        if src is None:
            raise _Damaged(f"{kind} array {i} ('{name}') is missing")
        if name != own_name or tuple(src.shape) != tuple(dst.shape) or tuple(shape) != tuple(dst.shape):
            raise _Damaged(f"{kind} '{name}' {tuple(src.shape)} does not match the architecture's "
                           f"'{own_name}' {tuple(dst.shape)}")
        np.copyto(dst, src, casting="same_kind")


def load_model(path, compile: bool = True):
    """The model saved at `path`, with weights, optimizer state (when compile=True), epochs done
    (``model.epochs_done``, pass it to fit as initial_epoch) and the package RNG state restored.

    A damaged or foreign file raises ValueError naming the file."""
    from .layers import initializers
    from .model import Model
    from .optim import Optimizer

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_model: file '{path}' does not exist")
    try:
        meta, arrays = _read(path)
        try:
            with initializers.uninitialized():
                model = Model.from_config(meta["model"])
                params = model.parameters()  # builds the layers
            _copy_in("param", meta["params"], [(p.name, p.value) for p in params], arrays)
            _copy_in("state", meta["states"], model.state_arrays(), arrays)
            if compile and meta.get("optimizer") is not None:
                optimizer = Optimizer.from_config(meta["optimizer"])
                state: dict[str, dict] = {}
                for i, (pname, slot) in enumerate(meta["optimizer_state"]):
                    state.setdefault(pname, {})[slot] = arrays[f"opt_{i}"]
                optimizer.load_state_dict(state)
                model.compile(optimizer, **(meta.get("compile") or {}))
            model.epochs_done = int(meta.get("epoch", 0))
            model.training_log = list(meta.get("training_log", []))
            _random.check_state(meta["rng_state"])
        except _Damaged:
            raise
        except MemoryError:  # sizes in the metadata that no saved weights could match
            raise _Damaged("its architecture asks for more memory than there is") from None
        except (KeyError, TypeError, ValueError) as e:
            raise _Damaged(f"inconsistent contents ({type(e).__name__}: {e})") from None
    except _Damaged as e:
        raise ValueError(f"load_model: file '{path}' is damaged or not a fastcnn model file: {e}") from None
    _random.set_state(meta["rng_state"])
    return model
