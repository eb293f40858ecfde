"""Loss functions by name, each a pair (forward, gradient) over logits on the C++ kernels.

A loss is an object with ``__call__(logits, target) -> float`` (the batch mean) and
``gradient(logits, target, out=None) -> dlogits`` (of that mean, into out when given). Register more with ``register``.
Optionally ``sum_into(logits, target, total, weight)`` adds weight * (the batch's summed loss) to the
float32 (1,) array total without a host read-back: training on the device uses it when present.
"""
from __future__ import annotations

from . import functional as F

__all__ = ["Loss", "CrossEntropy", "get", "register"]


class Loss:
    name = ""

    def __call__(self, logits, target) -> float:
        raise NotImplementedError

    def gradient(self, logits, target, out=None):
        """dlogits of the batch mean; written into out (an array of logits' shape, on its side) when
        given: training passes the same array every step, so nothing is allocated per step."""
        raise NotImplementedError


class CrossEntropy(Loss):
    """Softmax + negative log-likelihood on logits (N, classes), fused and stable.

    target: class ids (N,) or one-hot / probabilities (N, classes).
    """
    name = "cross_entropy"

    def __call__(self, logits, target) -> float:
        return float(F.cross_entropy(logits, target))

    def gradient(self, logits, target, out=None):
        (dlogits,) = F.cross_entropy_backward(logits, target, out=(out,))
        return dlogits

    def sum_into(self, logits, target, total, weight: float = 1.0) -> None:
        F.loss.cross_entropy_sum_into(logits, target, total, weight)


_REGISTRY: dict[str, type[Loss]] = {}


def register(cls: type[Loss], *aliases: str) -> type[Loss]:
    for name in (cls.name, *aliases):
        _REGISTRY[name] = cls
    return cls


register(CrossEntropy, "categorical_crossentropy", "sparse_categorical_crossentropy")


def get(identifier) -> Loss:
    """A Loss from an instance or a registered name."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier in _REGISTRY:
        return _REGISTRY[identifier]()
    raise ValueError(f"losses.get: argument 'loss' got {identifier!r}, needed a Loss or one of {sorted(_REGISTRY)}")
