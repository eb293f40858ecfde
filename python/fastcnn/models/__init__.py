"""The classic networks. Each constructor takes num_classes= and input_shape= (C, H, W) and returns a
built Model whose outputs are logits.

Recipe — adding a network: write <net>.py with a constructor f(num_classes=..., input_shape=..., name=...)
that checks its arguments with _common.check_args, assembles layers inside ``with fitting(net, shape):``
and returns a Sequential or Model; add it to _CONSTRUCTORS below and its parameter count to the tests.
"""
from __future__ import annotations

from .alexnet import alexnet
from .googlenet import googlenet
from .lenet import lenet5, lenet5_classic
from .resnet import resnet18, resnet34, resnet50
from .vgg import vgg16

__all__ = ["lenet5", "lenet5_classic", "alexnet", "vgg16", "googlenet", "resnet18", "resnet34", "resnet50",
           "get", "NAMES"]

_CONSTRUCTORS = {f.__name__: f for f in (lenet5, lenet5_classic, alexnet, vgg16, googlenet, resnet18, resnet34,
                                         resnet50)}
NAMES = tuple(_CONSTRUCTORS)


def get(name: str, **kwargs):
    """The network called name, built with kwargs (num_classes=, input_shape=, ...)."""
    if name not in _CONSTRUCTORS:
        raise ValueError(f"models.get: argument 'name' got {name!r}, needed one of {', '.join(NAMES)}")
    return _CONSTRUCTORS[name](**kwargs)
