"""LeNet-5: the MNIST variant of the course (tanh, max-pooling) and the 1998 paper's (sigmoid, average pooling).

Both have 61,706 parameters for 10 classes. Outputs are logits.
"""
from __future__ import annotations

from .. import layers as L
from ..model import Input, Sequential
from ._common import check_args, fitting

__all__ = ["lenet5", "lenet5_classic"]


def lenet5(num_classes: int = 10, input_shape=(1, 28, 28), name: str = "lenet5") -> Sequential:
    """conv 6@5x5 'same' tanh, max-pool 2, conv 16@5x5 'valid' tanh, max-pool 2, dense 120, 84 (tanh), classes."""
    num_classes, input_shape = check_args("lenet5", num_classes, input_shape)
    with fitting("lenet5", input_shape):
        return Sequential([
            Input(input_shape),
            L.Conv2D(6, 5, padding="same", activation="tanh"),
            L.MaxPool2D(2),
            L.Conv2D(16, 5, padding="valid", activation="tanh"),
            L.MaxPool2D(2),
            L.Flatten(),
            L.Dense(120, activation="tanh"),
            L.Dense(84, activation="tanh"),
            L.Dense(num_classes),
        ], name=name)


def lenet5_classic(num_classes: int = 10, input_shape=(1, 32, 32), name: str = "lenet5_classic") -> Sequential:
    """The 1998 sizes on 32x32: 'valid' convs 6@5x5 and 16@5x5, sigmoid, average pooling, dense 120, 84, classes."""
    num_classes, input_shape = check_args("lenet5_classic", num_classes, input_shape)
    with fitting("lenet5_classic", input_shape):
        return Sequential([
            Input(input_shape),
            L.Conv2D(6, 5, activation="sigmoid"),
            L.AvgPool2D(2),
            L.Conv2D(16, 5, activation="sigmoid"),
            L.AvgPool2D(2),
            L.Flatten(),
            L.Dense(120, activation="sigmoid"),
            L.Dense(84, activation="sigmoid"),
            L.Dense(num_classes),
        ], name=name)
