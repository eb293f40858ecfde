"""GoogLeNet: Inception-v1 as in Szegedy et al. 2014 ("Going deeper with convolutions")."""
from __future__ import annotations

from .. import layers as L
from ..model import Input, Model
from ._common import check_args, fitting

__all__ = ["googlenet"]

# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj): Table 1 of the paper
_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def _inception(x, tag: str):
    c1, c3r, c3, c5r, c5, pp = _MODULES[tag]
    n = f"inception_{tag}"
    b1 = L.Conv2D(c1, 1, activation="relu", name=f"{n}_1x1")(x)
    b2 = L.Conv2D(c3r, 1, activation="relu", name=f"{n}_3x3_reduce")(x)
    b2 = L.Conv2D(c3, 3, padding=1, activation="relu", name=f"{n}_3x3")(b2)
    b3 = L.Conv2D(c5r, 1, activation="relu", name=f"{n}_5x5_reduce")(x)
    b3 = L.Conv2D(c5, 5, padding=2, activation="relu", name=f"{n}_5x5")(b3)
    b4 = L.MaxPool2D(3, 1, padding=1, name=f"{n}_pool")(x)
    b4 = L.Conv2D(pp, 1, activation="relu", name=f"{n}_pool_proj")(b4)
    return L.Concatenate(name=f"{n}_output")([b1, b2, b3, b4])


def _aux_head(x, tag: str, num_classes: int):
    # 5x5/3 average pooling (14x14 -> 4x4); on maps under 5x5 (small inputs) the window shrinks to the map
    h, w = x.shape[1:]
    x = L.AvgPool2D((min(5, h), min(5, w)), 3, name=f"{tag}_pool")(x)
    x = L.Conv2D(128, 1, activation="relu", name=f"{tag}_conv")(x)
    x = L.Flatten(name=f"{tag}_flatten")(x)
    x = L.Dense(1024, activation="relu", name=f"{tag}_fc")(x)
    x = L.Dropout(0.7, name=f"{tag}_dropout")(x)
    return L.Dense(num_classes, name=f"{tag}_classifier")(x)


def googlenet(num_classes: int = 1000, input_shape=(3, 224, 224), aux_logits: bool = True,
              name: str = "googlenet") -> Model:
    """Inception-v1: 7x7/2 conv, LRN, 1x1 + 3x3 convs, LRN, nine inception modules (3a-5b) with 3x3/2
    max-pooling between stages, global average pooling, 40% dropout, a linear classifier.

    aux_logits=True adds the two auxiliary heads on 4a and 4d (5x5/3 average pool, 1x1 conv 128, dense
    1024, 70% dropout, dense classes) as aux_outputs: computed in training only, their losses weighted
    0.3. The 3x3/2 pools pad 'same' (the paper's Caffe model rounds up): 224 -> 56 -> 28 -> 14 -> 7 as in
    the paper, and small inputs (28x28, 32x32) shrink to 1x1 instead of failing; the final pool is global.
    The LRN is Caffe's (alpha divided by size, k=1).
    """
    num_classes, input_shape = check_args("googlenet", num_classes, input_shape)
    lrn = dict(size=5, alpha=1e-4, beta=0.75, k=1.0)
    with fitting("googlenet", input_shape):
        inp = Input(input_shape, name="input")
        x = L.Conv2D(64, 7, strides=2, padding=3, activation="relu", name="conv1_7x7")(inp)
        x = L.MaxPool2D(3, 2, padding="same", name="pool1")(x)
        x = L.LocalResponseNorm(**lrn, name="pool1_norm")(x)
        x = L.Conv2D(64, 1, activation="relu", name="conv2_3x3_reduce")(x)
        x = L.Conv2D(192, 3, padding=1, activation="relu", name="conv2_3x3")(x)
        x = L.LocalResponseNorm(**lrn, name="conv2_norm")(x)
        x = L.MaxPool2D(3, 2, padding="same", name="pool2")(x)
        x = _inception(x, "3a")
        x = _inception(x, "3b")
        x = L.MaxPool2D(3, 2, padding="same", name="pool3")(x)
        x = _inception(x, "4a")
        aux = [_aux_head(x, "aux1", num_classes)] if aux_logits else []
        x = _inception(x, "4b")
        x = _inception(x, "4c")
        x = _inception(x, "4d")
        if aux_logits:
            aux.append(_aux_head(x, "aux2", num_classes))
        x = _inception(x, "4e")
        x = L.MaxPool2D(3, 2, padding="same", name="pool4")(x)
        x = _inception(x, "5a")
        x = _inception(x, "5b")
        x = L.GlobalAvgPool2D(name="pool5")(x)
        x = L.Dropout(0.4, name="dropout")(x)
        out = L.Dense(num_classes, name="classifier")(x)
        return Model(inp, out, name=name, aux_outputs=aux or None, aux_loss_weight=0.3)
