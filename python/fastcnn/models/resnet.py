"""ResNet-18/34/50 (He et al. 2015) as torchvision builds them: BN after every conv, stride on the 3x3
conv of bottleneck blocks (v1.5), 1x1 projection shortcuts where the shape changes, global average pooling.

Trainable parameters for 1000 classes: 11,689,512 (18), 21,797,672 (34), 25,557,032 (50). The global
pool makes any input of at least 1x1 work (28x28 ends in 1x1 maps).
"""
from __future__ import annotations

from .. import layers as L
from ..model import Input, Model
from ._common import check_args, fitting

__all__ = ["resnet18", "resnet34", "resnet50"]


def _conv_bn(x, filters, k, stride, name, relu=True):
    x = L.Conv2D(filters, k, strides=stride, padding=k // 2, use_bias=False, kernel_initializer="he_normal",
                 name=f"{name}_conv")(x)
    x = L.BatchNorm(name=f"{name}_bn")(x)
    return L.ReLU(name=f"{name}_relu")(x) if relu else x


def _shortcut(x, filters, stride, name):
    if stride == 1 and x.shape[0] == filters:
        return x
    return _conv_bn(x, filters, 1, stride, f"{name}_downsample", relu=False)


def _basic(x, planes, stride, name):
    y = _conv_bn(x, planes, 3, stride, f"{name}_1")
    y = _conv_bn(y, planes, 3, 1, f"{name}_2", relu=False)
    y = L.Add(name=f"{name}_add")([y, _shortcut(x, planes, stride, name)])
    return L.ReLU(name=f"{name}_out")(y)


def _bottleneck(x, planes, stride, name):
    y = _conv_bn(x, planes, 1, 1, f"{name}_1")
    y = _conv_bn(y, planes, 3, stride, f"{name}_2")
    y = _conv_bn(y, planes * 4, 1, 1, f"{name}_3", relu=False)
    y = L.Add(name=f"{name}_add")([y, _shortcut(x, planes * 4, stride, name)])
    return L.ReLU(name=f"{name}_out")(y)


def _resnet(net, block, blocks, num_classes, input_shape, name):
    num_classes, input_shape = check_args(net, num_classes, input_shape)
    with fitting(net, input_shape):
        inp = Input(input_shape, name="input")
        x = _conv_bn(inp, 64, 7, 2, "stem")
        x = L.MaxPool2D(3, 2, padding=1, name="stem_pool")(x)
        for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
            for i in range(n):
                x = block(x, planes, 2 if stage > 1 and i == 0 else 1, f"layer{stage}_{i}")
        x = L.GlobalAvgPool2D(name="avgpool")(x)
        out = L.Dense(num_classes, name="fc")(x)
        return Model(inp, out, name=name)


def resnet18(num_classes: int = 1000, input_shape=(3, 224, 224), name: str = "resnet18") -> Model:
    """ResNet-18: basic blocks [2, 2, 2, 2]."""
    return _resnet("resnet18", _basic, (2, 2, 2, 2), num_classes, input_shape, name)


def resnet34(num_classes: int = 1000, input_shape=(3, 224, 224), name: str = "resnet34") -> Model:
    """ResNet-34: basic blocks [3, 4, 6, 3]."""
    return _resnet("resnet34", _basic, (3, 4, 6, 3), num_classes, input_shape, name)


def resnet50(num_classes: int = 1000, input_shape=(3, 224, 224), name: str = "resnet50") -> Model:
    """ResNet-50: bottleneck blocks [3, 4, 6, 3] (expansion 4)."""
    return _resnet("resnet50", _bottleneck, (3, 4, 6, 3), num_classes, input_shape, name)
