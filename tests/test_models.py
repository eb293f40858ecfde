"""The classic networks: parameter counts, output shapes on small and ImageNet inputs, small forward passes.

The big networks are only built and counted at 224x224 (building VGG-16 draws 138M weights).
"""
import gc

import numpy as np
import pytest

import fastcnn
from fastcnn import models

pytestmark = pytest.mark.usefixtures("one_thread")


SMALL = [(1, 28, 28), (3, 32, 32)]


@pytest.mark.parametrize("name,kwargs,total,trainable", [
    ("lenet5", {}, 61_706, 61_706),
    ("lenet5_classic", {}, 61_706, 61_706),
    ("alexnet", {"num_classes": 10, "batch_norm": True}, 58_327_818, 58_327_818 - 2_752),
    ("alexnet", {}, 60_965_224, 60_965_224),                      # the paper's, with groups=2
    ("vgg16", {}, 138_357_544, 138_357_544),                      # torchvision vgg16
    ("resnet18", {}, 11_689_512 + 9_600, 11_689_512),             # torchvision resnet18 (+ BN running stats)
    ("resnet34", {}, 21_797_672 + 17_024, 21_797_672),
    ("resnet50", {}, 25_557_032 + 53_120, 25_557_032),
    ("googlenet", {"aux_logits": False}, 6_998_552, 6_998_552),   # Caffe bvlc_googlenet
    ("googlenet", {}, 13_378_280, 13_378_280),                   # + aux heads on 4a (512 ch) and 4d (528 ch)
])
def test_parameter_counts(name, kwargs, total, trainable):
    model = models.get(name, **kwargs)
    assert model.count_params() == total
    assert model.count_params(trainable=True) == trainable
    assert model.count_params(trainable=False) == total - trainable
    assert model.output_shapes == [(kwargs.get("num_classes", 1000 if name not in ("lenet5", "lenet5_classic")
                                               else 10),)]
    del model
    gc.collect()


@pytest.mark.parametrize("name,shape", [(n, s) for n in ("lenet5", "lenet5_classic", "vgg16", "googlenet",
                                                          "resnet18", "resnet34", "resnet50") for s in SMALL
                                        if (n, s) != ("vgg16", (3, 32, 32))])  # that one: test_vgg16_small_forward
def test_small_inputs_build(name, shape):
    model = models.get(name, num_classes=7, input_shape=shape)
    assert model.input_shapes == [shape] and model.output_shapes == [(7,)]


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("shape", SMALL)
def test_alexnet_rejects_small_inputs(batch_norm, shape):
    with pytest.raises(ValueError, match=r"alexnet: argument 'input_shape' got \(%d, %d, %d\)" % shape):
        models.alexnet(num_classes=10, input_shape=shape, batch_norm=batch_norm)


def test_shapes_at_224():
    assert models.lenet5(input_shape=(3, 224, 224)).output_shapes == [(10,)]
    g = models.googlenet(num_classes=10)
    assert g.aux_output_shapes == [(10,), (10,)]
    shapes = {layer.name: layer.output_shape for layer in g.layers}
    assert shapes["pool1"] == (64, 56, 56) and shapes["pool2"] == (192, 28, 28)
    assert shapes["inception_3b_output"] == (480, 28, 28) and shapes["inception_4a_output"] == (512, 14, 14)
    assert shapes["inception_4e_output"] == (832, 14, 14) and shapes["inception_5b_output"] == (1024, 7, 7)
    assert shapes["aux1_pool"] == (512, 4, 4) and shapes["aux2_pool"] == (528, 4, 4)
    r = models.resnet50(num_classes=10)
    shapes = {layer.name: layer.output_shape for layer in r.layers}
    assert shapes["stem_pool"] == (64, 56, 56) and shapes["layer4_2_out"] == (2048, 7, 7)


def test_get_and_names():
    assert models.NAMES == ("lenet5", "lenet5_classic", "alexnet", "vgg16", "googlenet", "resnet18", "resnet34",
                            "resnet50")
    with pytest.raises(ValueError, match="'name'.*lenet5"):
        models.get("lenet6")
    with pytest.raises(ValueError, match="'num_classes'"):
        models.lenet5(num_classes=0)
    with pytest.raises(ValueError, match="'input_shape'"):
        models.resnet18(input_shape=(28, 28))
    with pytest.raises(TypeError):
        models.get("lenet5", bogus=1)


def train_step(model, x, training=True):
    outs = model.forward(x, training=training)
    model.backward([np.ones_like(o) / o.size for o in outs])
    return outs


def test_lenets_forward_backward():
    rng = np.random.default_rng(0)
    for model, shape in ((models.lenet5(), (1, 28, 28)), (models.lenet5_classic(), (1, 32, 32))):
        x = rng.standard_normal((4, *shape)).astype(np.float32)
        (y,) = train_step(model, x)
        assert y.shape == (4, 10) and np.isfinite(y).all()
        assert all(np.isfinite(p.grad).all() and np.any(p.grad) for p in model.parameters())


def test_small_resnet_and_googlenet_forward_backward():
    rng = np.random.default_rng(1)
    r = models.resnet18(num_classes=10, input_shape=(1, 28, 28))
    x = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    (y,) = train_step(r, x)
    assert y.shape == (2, 10) and np.isfinite(y).all()
    assert all(np.any(p.grad) for p in r.parameters())
    g = models.googlenet(num_classes=10, input_shape=(3, 32, 32))
    outs = train_step(g, rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    assert [o.shape for o in outs] == [(2, 10)] * 3 and g.loss_weights == [1.0, 0.3, 0.3]
    assert all(np.isfinite(p.grad).all() for p in g.parameters())
    assert len(g.forward(rng.standard_normal((1, 3, 32, 32)).astype(np.float32))) == 1


def test_vgg16_small_forward():
    v = models.vgg16(num_classes=10, input_shape=(3, 32, 32))
    (y,) = v.forward(np.random.default_rng(2).standard_normal((1, 3, 32, 32)).astype(np.float32))
    assert y.shape == (1, 10) and np.isfinite(y).all()
    del v
    gc.collect()
