"""The package's random state: one numpy Generator that ``fastcnn.seed(n)`` resets.

Initializers, shuffling, dropout and RReLU draw from it, so a seeded run is reproducible.
Kernels that need randomness take an explicit 64-bit seed drawn here (counter-based in C++,
so the result does not depend on the thread count).
"""
from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()


def seed(n: int) -> None:
    """Make initialization, shuffling, dropout and RReLU reproducible."""
    global _rng
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"seed: argument 'n' got {n!r}, needed a non-negative int")
    _rng = np.random.default_rng(int(n))


def rng() -> np.random.Generator:
    return _rng


def next_seed() -> int:
    """A fresh 63-bit seed for a kernel."""
    return int(_rng.integers(0, 2**63 - 1))


def get_state() -> dict:
    return _rng.bit_generator.state


def check_state(state: dict) -> None:
    """Raises ValueError/TypeError/KeyError unless `state` is a valid state for the package's generator."""
    probe = np.random.default_rng()
    probe.bit_generator.state = state


def set_state(state: dict) -> None:
    _rng.bit_generator.state = state
