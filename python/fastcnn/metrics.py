"""Metrics by name. A metric maps (logits or probabilities (N, classes), target) to a batch value
that is averaged over samples across batches."""
from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "get"]


def accuracy(output, target) -> float:
    """Fraction of rows whose arg-max equals the class id (or the arg-max of a one-hot target)."""
    output = np.asarray(output)
    target = np.asarray(target)
    if target.ndim == 2:
        target = target.argmax(axis=1)
    if len(target) == 0:
        return 0.0
    return float(np.mean(output.argmax(axis=1) == target))


_REGISTRY = {"accuracy": accuracy, "acc": accuracy}


def get(identifier):
    """(name, function) for a registered name or a callable (named by its __name__)."""
    if callable(identifier):
        return identifier.__name__, identifier
    if isinstance(identifier, str) and identifier in _REGISTRY:
        return ("accuracy" if identifier == "acc" else identifier), _REGISTRY[identifier]
    raise ValueError(f"metrics.get: argument 'metrics' got {identifier!r}, needed a callable or one of "
                     f"{sorted(_REGISTRY)}")
