"""One-file model checkpoints: ``model.save(path)`` and ``fastcnn.load_model(path)``.

The file is a numpy .npz archive read with allow_pickle=False, so loading cannot run code. It holds
``__meta__``: UTF-8 JSON as a uint8 array (format tag, architecture from ``model.get_config()``,
compile arguments, optimizer config, epochs done, the package RNG state, the per-epoch training
log, and the names of the arrays below) and the arrays ``param_<i>`` (``model.parameters()``),
``state_<i>`` (``model.state_arrays()``) and ``opt_<i>`` (optimizer slots and step counts).

Writes are atomic: a temporary file in the same directory is written, flushed and fsynced, then
renamed over the target and the directory fsynced, so a crash leaves the previous file intact.
Loading restores the RNG state last, so ``fit(initial_epoch=k)`` continues the exact run.

Loading checks sizes before it allocates: it reads the metadata and only the .npy headers of the
other arrays (each must hold exactly the bytes its header declares), builds the architecture with
placeholders (layers.initializers.shapes_only) to learn the parameter and state arrays it asks for,
and compares them, by name and shape, with the metadata's list and the arrays held. So a hand-edited
config that declares a layer of 10**9 filters is rejected in milliseconds, naming the layer. Only
then is the model built for real and the arrays read into it, one at a time.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
import zlib

import numpy as np

from . import _tensor
from . import _random
from .layers.base import shape_str

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


# RuntimeError: zipfile's for encrypted entries, NotImplementedError for unknown compression methods
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, RuntimeError)


class _Archive:
    """The .npz file, open: the shape and dtype of every array, read from the .npy headers alone, and
    ``read(key)`` for one array's data. Nothing but headers is read until read is called, so sizes can
    be checked before any array, in the file or in the model, takes memory."""

    def __init__(self, path: str):
        try:
            with open(path, "rb") as f:
                if f.read(len(np.lib.format.MAGIC_PREFIX)) == np.lib.format.MAGIC_PREFIX:
                    raise _Damaged("a single .npy array, not a .npz archive")
            self._zip = zipfile.ZipFile(path)
        except _Damaged:
            raise
        except _READ_ERRORS as e:
            raise _Damaged(f"not a readable .npz archive ({e})") from None
        try:
            self.headers: dict[str, tuple[tuple[int, ...], np.dtype]] = {}  # key -> (shape, dtype)
            for info in self._zip.infolist():
                if info.filename.endswith(".npy"):
                    key = info.filename[:-len(".npy")]
                    self.headers[key] = self._header(key, info)
        except BaseException:
            self._zip.close()
            raise

    def _header(self, key: str, info: zipfile.ZipInfo):
        try:
            with self._zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise _Damaged(f"array '{key}' is in .npy format {version}, fastcnn writes 1.0")
                offset = f.tell()
        except _Damaged:
            raise
        except _READ_ERRORS as e:
            raise _Damaged(f"not a readable .npz archive (array '{key}': {e})") from None
        if dtype.hasobject:
            raise _Damaged(f"array '{key}' holds Python objects ({dtype}), needed numbers")
        if any(s < 0 for s in shape):
            raise _Damaged(f"array '{key}' declares the shape {shape_str(shape)}")
        # the header's shape must be what the entry holds: else reading it would allocate for a
        # shape that the file only claims
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size - offset != nbytes:
            raise _Damaged(f"array '{key}' declares {shape_str(shape)} {dtype} ({nbytes:,} bytes), its entry "
                           f"holds {info.file_size - offset:,} bytes")
        return tuple(shape), dtype

    def read(self, key: str) -> np.ndarray:
        if key not in self.headers:
            raise _Damaged(f"array '{key}' is missing")
        try:
            with self._zip.open(key + ".npy") as f:
                a = np.lib.format.read_array(f, allow_pickle=False)
        except _READ_ERRORS as e:
            raise _Damaged(f"array '{key}' cannot be read ({e})") from None
        if a.shape != self.headers[key][0]:  # one entry name twice in the zip, say
            raise _Damaged(f"array '{key}' changed shape between its header and its data")
        return a

    def close(self) -> None:
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_meta(archive: _Archive) -> dict:
    header = archive.headers.get("__meta__")
    if header is None:
        raise _Damaged("no fastcnn metadata")
    if len(header[0]) != 1 or header[1] != np.uint8:
        raise _Damaged(f"its metadata is a {shape_str(header[0])} {header[1]} array, needed UTF-8 bytes")
    try:
        meta = json.loads(archive.read("__meta__").tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise _Damaged(f"metadata is not valid JSON: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _Damaged("metadata does not describe a fastcnn model")
    if meta.get("format_version") != FORMAT_VERSION:
        raise _Damaged(f"format version {meta.get('format_version')!r}, this fastcnn reads {FORMAT_VERSION}")
    return meta


def _values(shape) -> str:
    return f"{shape_str(shape)} ({math.prod(shape):,} values)"


def _check_sizes(kind: str, listed: list, wanted: list, archive: _Archive) -> None:
    """Before anything is allocated: the metadata's list of '<kind>_<i>' arrays, the arrays the file
    holds (their headers) and those the architecture asks for (wanted: (name, shape, owning layer)
    from a shapes-only build) must agree one to one, in names and shapes."""
    count = "" if len(listed) == len(wanted) else \
        f"it holds {len(listed)} {kind} arrays, the architecture has {len(wanted)}; "
    for i, ((name, shape), (own_name, own_shape, layer)) in enumerate(zip(listed, wanted)):
        shape = tuple(int(s) for s in shape)
        header = archive.headers.get(f"{kind}_{i}")
        if header is None:
            raise _Damaged(f"{kind} array {i} ('{name}') is missing")
        held, dtype = header
        if held != shape:
            raise _Damaged(f"{kind} '{name}' is listed as {shape_str(shape)} but stored as {shape_str(held)}")
        if not np.can_cast(dtype, np.float32, "same_kind"):
            raise _Damaged(f"{kind} '{name}' is stored as {dtype}, needed float32")
        if name != own_name or held != own_shape:
            raise _Damaged(f"{count}{kind} '{name}' {_values(held)} does not match the architecture's "
                           f"'{own_name}' {_values(own_shape)} of {layer._describe()}")
    if len(listed) > len(wanted):
        raise _Damaged(f"{count}the architecture has no place for '{listed[len(wanted)][0]}'")
    if len(listed) < len(wanted):
        own_name, own_shape, layer = wanted[len(listed)]
        raise _Damaged(f"{count}none for '{own_name}' {_values(own_shape)} of {layer._describe()}")


def _check_optimizer_sizes(listed: list, slots: tuple, param_shapes: dict, archive: _Archive) -> None:
    """The optimizer arrays: one per (parameter, slot) of this optimizer, shaped as the parameter;
    'step' a single integer."""
    for i, (pname, slot) in enumerate(listed):
        header = archive.headers.get(f"opt_{i}")
        if header is None:
            raise _Damaged(f"optimizer array {i} ('{pname}' {slot}) is missing")
        held, dtype = header
        if pname not in param_shapes:
            raise _Damaged(f"optimizer state for '{pname}', which is not a parameter of the architecture")
        if slot == "step":
            need, kinds = (), "iu"
        elif slot in slots:
            need, kinds = param_shapes[pname], "fiu"
        else:
            raise _Damaged(f"optimizer state '{slot}' for '{pname}', needed one of {', '.join((*slots, 'step'))}")
        if math.prod(held) != math.prod(need) or (held != need and slot != "step") or dtype.kind not in kinds:
            raise _Damaged(f"optimizer '{slot}' of '{pname}' is {shape_str(held)} {dtype}, needed "
                           f"{shape_str(need)} {'an integer' if slot == 'step' else 'float32'}")


def _copy_in(kind: str, targets: list, archive: _Archive) -> None:
    """Read arrays '<kind>_<i>' (checked by _check_sizes) one at a time into the model's own arrays."""
    for i, (own_name, dst) in enumerate(targets):
        src = archive.read(f"{kind}_{i}")
        if src.shape != dst.shape:
            raise _Damaged(f"{kind} '{own_name}' {shape_str(src.shape)} does not match the architecture's "
                           f"{shape_str(dst.shape)}")
        np.copyto(dst, src, casting="same_kind")


def load_model(path, compile: bool = True):
    """The model saved at `path`, with weights, optimizer state (when compile=True), epochs done
    (``model.epochs_done``, pass it to fit as initial_epoch) and the package RNG state restored.

    A damaged or foreign file raises ValueError naming the file. Sizes are checked before anything is
    allocated: the architecture in the metadata is first built with placeholders (layers.initializers.
    shapes_only), and the parameter and state arrays it asks for must be those the file holds, by
    name and shape; only then is the model built for real and the arrays read, one at a time."""
    from .layers import initializers
    from .model import Model
    from .optim import Optimizer

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_model: file '{path}' does not exist")
    try:
        with _Archive(path) as archive:
            meta = _read_meta(archive)
            try:
                with initializers.shapes_only():  # the arrays the architecture asks for, none allocated
                    sized = Model.from_config(meta["model"])
                    wanted_params = [(p.name, p.shape, p.layer) for p in sized.parameters()]
                    wanted_states = [(f"{layer.name}/{k}", a.shape, layer) for layer in sized.layers
                                     for k, a in layer.state.items()]  # the order of state_arrays()
                del sized
                _check_sizes("param", meta["params"], wanted_params, archive)
                _check_sizes("state", meta["states"], wanted_states, archive)
                optimizer = None
                if compile and meta.get("optimizer") is not None:
                    optimizer = Optimizer.from_config(meta["optimizer"])
                    _check_optimizer_sizes(meta["optimizer_state"], optimizer.slots,
                                           {name: shape for name, shape, _ in wanted_params}, archive)
                _random.check_state(meta["rng_state"])

                with initializers.uninitialized():  # every value is overwritten from the file below
                    model = Model.from_config(meta["model"])
                    params = model.parameters()  # builds the layers
                _copy_in("param", [(p.name, p.value) for p in params], archive)
                _copy_in("state", model.state_arrays(), archive)
                if optimizer is not None:
                    state: dict[str, dict] = {}
                    for i, (pname, slot) in enumerate(meta["optimizer_state"]):
                        state.setdefault(pname, {})[slot] = archive.read(f"opt_{i}")
                    optimizer.load_state_dict(state)
                    model.compile(optimizer, **(meta.get("compile") or {}))
                model.epochs_done = int(meta.get("epoch", 0))
                model.training_log = list(meta.get("training_log", []))
            except _Damaged:
                raise
            except MemoryError:  # sizes that the file's arrays do hold, but more than this machine has
                raise _Damaged("its architecture asks for more memory than there is") from None
            except (KeyError, TypeError, ValueError) as e:
                raise _Damaged(f"inconsistent contents ({type(e).__name__}: {e})") from None
    except _Damaged as e:
        raise ValueError(f"load_model: file '{path}' is damaged or not a fastcnn model file: {e}") from None
    _random.set_state(meta["rng_state"])
    return model
