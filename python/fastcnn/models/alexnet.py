"""AlexNet (Krizhevsky, Sutskever, Hinton 2012), and the course's batch-normalized variant."""
from __future__ import annotations

from .. import layers as L
from ..model import Input, Sequential
from ._common import check_args, fitting

__all__ = ["alexnet"]


def alexnet(num_classes: int = 1000, input_shape=(3, 224, 224), batch_norm: bool = False,
            name: str = "alexnet") -> Sequential:
    """batch_norm=False: the paper — ReLU, LRN after conv1/conv2, overlapping 3x3/2 max-pooling, the
    two-GPU split as groups=2 in conv2/4/5, dropout 0.5 in the first two dense layers (60,965,224
    parameters for 1000 classes). conv1 pads 2 so that 224x224 gives the paper's 55x55 (as 227 unpadded).

    batch_norm=True: conv1 96@11x11/4 valid, BN, max-pool 3/2, conv2 256@5x5 same, BN, max-pool 3/2,
    conv3 384@3x3, BN, conv4 384@3x3, BN, conv5 256@3x3, BN, max-pool 2/2, dense 4096, dropout 0.5,
    dense 4096, dropout 0.5, dense classes (58,327,818 parameters for 10 classes, 2,752 non-trainable).
    Inputs need at least 63x63 (paper) or 51x51 (batch_norm=True); smaller ones raise ValueError.
    """
    num_classes, input_shape = check_args("alexnet", num_classes, input_shape)
    if batch_norm:
        features = [
            L.Conv2D(96, 11, strides=4, padding="valid", activation="relu"), L.BatchNorm(), L.MaxPool2D(3, 2),
            L.Conv2D(256, 5, padding="same", activation="relu"), L.BatchNorm(), L.MaxPool2D(3, 2),
            L.Conv2D(384, 3, padding="same", activation="relu"), L.BatchNorm(),
            L.Conv2D(384, 3, padding="same", activation="relu"), L.BatchNorm(),
            L.Conv2D(256, 3, padding="same", activation="relu"), L.BatchNorm(), L.MaxPool2D(2, 2),
        ]
    else:
        # PyTorch's LRN divides alpha by size; the paper's alpha=1e-4 applies to the plain sum
        lrn = dict(size=5, alpha=1e-4 * 5, beta=0.75, k=2.0)
        features = [
            L.Conv2D(96, 11, strides=4, padding=2, activation="relu"), L.LocalResponseNorm(**lrn),
            L.MaxPool2D(3, 2),
            L.Conv2D(256, 5, padding=2, groups=2, activation="relu"), L.LocalResponseNorm(**lrn),
            L.MaxPool2D(3, 2),
            L.Conv2D(384, 3, padding=1, activation="relu"),
            L.Conv2D(384, 3, padding=1, groups=2, activation="relu"),
            L.Conv2D(256, 3, padding=1, groups=2, activation="relu"),
            L.MaxPool2D(3, 2),
        ]
    classifier = [
        L.Flatten(),
        L.Dense(4096, activation="relu"), L.Dropout(0.5),
        L.Dense(4096, activation="relu"), L.Dropout(0.5),
        L.Dense(num_classes),
    ]
    with fitting("alexnet", input_shape):
        return Sequential([Input(input_shape), *features, *classifier], name=name)
