"""No allocation in the steady state of training: the ops a layer calls every step write into arrays
that persist (out=), and a training step reuses them."""
import numpy as np
import pytest

import fastcnn
import fastcnn.functional as F
from fastcnn import layers as L


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_dropout_and_rrelu_write_into_out():
    x, dy = rand(4, 3, 5, 5), rand(4, 3, 5, 5, seed=1)
    y, mask = F.dropout(x, 0.3, True, seed=7)
    y2, mask2 = np.empty_like(y), np.empty_like(mask)
    got = F.dropout(x, 0.3, True, seed=7, out=(y2, mask2))
    assert got[0] is y2 and got[1] is mask2
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(mask2, mask)
    dx = np.empty_like(x)
    assert F.dropout_backward(dy, mask, 0.3, out=(dx,))[0] is dx
    np.testing.assert_array_equal(dx, F.dropout_backward(dy, mask, 0.3)[0])

    y, slope = F.rrelu(x, training=True, seed=3)
    outs = (np.empty_like(y), np.empty_like(slope))
    got = F.rrelu(x, training=True, seed=3, out=outs)
    assert got[0] is outs[0] and got[1] is outs[1]
    np.testing.assert_array_equal(outs[0], y)
    np.testing.assert_array_equal(outs[1], slope)
    assert F.rrelu_backward(dy, slope, out=(dx,))[0] is dx
    np.testing.assert_array_equal(dx, F.rrelu_backward(dy, slope)[0])


def test_out_arrays_are_checked():
    x = rand(2, 3)
    with pytest.raises(ValueError, match=r"'out\[1\]' got dtype float32, needed uint8"):
        F.dropout(x, 0.5, True, seed=1, out=(None, np.empty((2, 3), np.float32)))
    with pytest.raises(ValueError, match=r"'out\[0\]' got shape \(3, 2\)"):
        F.rrelu(x, training=True, seed=1, out=(np.empty((3, 2), np.float32), None))
    with pytest.raises(ValueError, match=r"'out\[0\]'.*overlaps 'logits'"):
        F.cross_entropy_backward(x, np.array([0, 2]), out=(x,))


def test_cross_entropy_backward_writes_into_out():
    logits, target = rand(5, 4), np.array([0, 3, 1, 1, 2])
    d = np.empty_like(logits)
    assert F.cross_entropy_backward(logits, target, out=(d,))[0] is d
    np.testing.assert_array_equal(d, F.cross_entropy_backward(logits, target)[0])


def test_training_steps_reuse_their_arrays():
    fastcnn.seed(0)
    model = fastcnn.Sequential([fastcnn.Input((1, 8, 8)), L.Conv2D(4, 3), L.RReLU(), L.Flatten(),
                                L.Dropout(0.25), L.Dense(3)])
    model.compile(fastcnn.optim.SGD(0.01), metrics=[])
    x, y = rand(16, 1, 8, 8), np.arange(16) % 3

    def arrays():
        held = {(layer.name, k): id(a) for layer in model.layers for k, a in layer._buffers.items()}
        held.update({("loss", i): id(a) for i, a in model._grad_bufs.items()})
        return held

    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    first = arrays()
    assert ("dropout_1", "mask") in first and ("rrelu_1", "slope") in first and ("loss", 0) in first
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert arrays() == first
