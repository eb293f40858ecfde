"""Weight initializers (Keras' names and formulas); all draw from fastcnn's seeded generator.

Identifiers: 'glorot_uniform' (the default for kernels, as Keras), 'glorot_normal', 'he_normal',
'he_uniform', 'zeros', 'ones', an Initializer instance such as Constant(0.1), or its config dict
{"class_name": "Constant", "config": {"value": 0.1}}.
"""
from __future__ import annotations

import contextlib
import math
import threading

import numpy as np

from .. import _random

__all__ = ["Initializer", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "Zeros", "Ones",
           "Constant", "get", "serialize", "compute_fans", "uninitialized", "skipping", "shapes_only",
           "sizing", "placeholder"]

_skip = threading.local()
_sizing = threading.local()


@contextlib.contextmanager
def uninitialized():
    """Within this block, parameters and state given by shape are created uninitialized (np.empty)
    instead of drawn or filled: for load_model, which overwrites every value anyway (after checking
    the sizes with shapes_only), so no random numbers are drawn."""
    _skip.on = True
    try:
        yield
    finally:
        _skip.on = False


def skipping() -> bool:
    return getattr(_skip, "on", False)


@contextlib.contextmanager
def shapes_only():
    """Within this block, layers get placeholders for their parameters and state (see placeholder):
    arrays of the right shape backed by one float, so building a model costs no memory whatever sizes
    its config declares. load_model builds the file's architecture this way first, to compare the
    arrays it asks for with those the file holds before allocating anything."""
    _sizing.on = True
    try:
        yield
    finally:
        _sizing.on = False


def sizing() -> bool:
    return getattr(_sizing, "on", False)


def placeholder(shape: tuple[int, ...]) -> np.ndarray:
    """A float32 array of `shape` whose elements all share one float (zero strides): its shape and size
    are those of the real array, its memory 4 bytes. Writable, so a layer's build that writes into its
    parameters still runs (the writes land on the one float)."""
    shape = tuple(int(s) for s in shape)
    try:
        return np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape, (0,) * len(shape))
    except ValueError as e:  # e.g. more elements than numpy can index: no file holds such an array
        raise ValueError(f"shape {shape} cannot be an array's ({e})") from None


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) for a (out, in, *kernel) weight (fastcnn's layout for conv and dense)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


class Initializer:
    def __call__(self, shape: tuple[int, ...], fan: tuple[int, int] | None = None) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()


class GlorotUniform(Initializer):
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""

    def __call__(self, shape, fan=None):
        fan_in, fan_out = fan or compute_fans(shape)
        return _uniform(shape, math.sqrt(6.0 / max(fan_in + fan_out, 1)))


class GlorotNormal(Initializer):
    """Truncated normal (at 2 std) with std = sqrt(2 / (fan_in + fan_out)), as Keras."""

    def __call__(self, shape, fan=None):
        fan_in, fan_out = fan or compute_fans(shape)
        return _truncated_normal(shape, math.sqrt(2.0 / max(fan_in + fan_out, 1)))


class HeNormal(Initializer):
    """Truncated normal (at 2 std) with std = sqrt(2 / fan_in), as Keras."""

    def __call__(self, shape, fan=None):
        fan_in, _ = fan or compute_fans(shape)
        return _truncated_normal(shape, math.sqrt(2.0 / max(fan_in, 1)))


class HeUniform(Initializer):
    """U(-l, l) with l = sqrt(6 / fan_in)."""

    def __call__(self, shape, fan=None):
        fan_in, _ = fan or compute_fans(shape)
        return _uniform(shape, math.sqrt(6.0 / max(fan_in, 1)))


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def __call__(self, shape, fan=None):
        return np.full(shape, self.value, dtype=np.float32)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


def _uniform(shape, limit: float) -> np.ndarray:
    """U(-limit, limit) drawn directly in float32 (VGG-16 has 138M weights)."""
    out = _random.rng().random(shape, dtype=np.float32)
    out *= np.float32(2 * limit)
    out -= np.float32(limit)
    return out


def _truncated_normal(shape, std: float) -> np.ndarray:
    """Keras' truncated normal: redraw values beyond 2 std; dividing by 0.8796 keeps the variance std**2."""
    rng = _random.rng()
    out = rng.standard_normal(shape, dtype=np.float32)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()), dtype=np.float32)
        bad = np.abs(out) > 2
    out *= np.float32(std / 0.87962566103423978)
    return out


_BY_NAME = {"glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal,
            "he_uniform": HeUniform, "zeros": Zeros, "ones": Ones}
_BY_CLASS = {c.__name__: c for c in (GlorotUniform, GlorotNormal, HeNormal, HeUniform, Zeros, Ones, Constant)}


def get(identifier) -> Initializer:
    """An Initializer from a name, a config dict, or an Initializer."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_CLASS:
        return _BY_CLASS[identifier["class_name"]](**identifier.get("config", {}))
    raise ValueError(f"initializers.get: argument 'identifier' got {identifier!r}, needed one of "
                     f"{', '.join(repr(n) for n in _BY_NAME)}, an Initializer, or its config dict")


def serialize(init) -> str | dict:
    """The JSON-able form of an initializer identifier (a name where one exists)."""
    init = get(init)
    for name, cls in _BY_NAME.items():
        if type(init) is cls:
            return name
    return {"class_name": type(init).__name__, "config": init.get_config()}
