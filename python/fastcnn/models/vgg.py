"""VGG-16: configuration D of Simonyan & Zisserman (2014)."""
from __future__ import annotations

from .. import layers as L
from ..model import Input, Sequential
from ._common import check_args, fitting

__all__ = ["vgg16"]

_CONFIG_D = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16(num_classes: int = 1000, input_shape=(3, 224, 224), name: str = "vgg16") -> Sequential:
    """13 3x3 convs (ReLU) in five blocks, each closed by 2x2/2 max-pooling, then dense 4096, 4096 (ReLU,
    dropout 0.5) and classes: 138,357,544 parameters for 1000 classes at 224x224.

    The pools use ceil_mode, which changes nothing on 224x224 and lets odd sizes (28x28 -> 1x1) through;
    the first dense layer takes 512 * ceil(H/32) * ceil(W/32) features.
    """
    num_classes, input_shape = check_args("vgg16", num_classes, input_shape)
    features, block, conv = [], 1, 1
    for v in _CONFIG_D:
        if v == "M":
            features.append(L.MaxPool2D(2, 2, ceil_mode=True, name=f"block{block}_pool"))
            block, conv = block + 1, 1
        else:
            features.append(L.Conv2D(v, 3, padding=1, activation="relu", name=f"block{block}_conv{conv}"))
            conv += 1
    with fitting("vgg16", input_shape):
        return Sequential([
            Input(input_shape), *features, L.Flatten(),
            L.Dense(4096, activation="relu", name="fc1"), L.Dropout(0.5),
            L.Dense(4096, activation="relu", name="fc2"), L.Dropout(0.5),
            L.Dense(num_classes, name="predictions"),
        ], name=name)
