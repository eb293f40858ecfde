"""Output arrays (out=) of the functional ops, and the buffers layers and models reuse step to step."""
import tracemalloc

import numpy as np
import pytest

import fastcnn
from fastcnn import functional as F
from fastcnn import layers as L


pytestmark = pytest.mark.usefixtures("one_thread")


def rand(*shape, seed=0):
    return np.random.default_rng(seed + len(shape)).standard_normal(shape).astype(np.float32)


X4 = rand(2, 4, 7, 6)
X3 = rand(2, 4, 9)
X2 = rand(3, 5)

# name -> (forward, backward, its array arguments): forward(*arrays, out=...), backward(dy, *arrays, out=...)
OPS = {
    "conv2d": (lambda x, w, b, **o: F.conv2d(x, w, b, padding=1, **o),
               lambda dy, x, w, b, **o: F.conv2d_backward(dy, x, w, b, padding=1, **o),
               (X4, rand(6, 4, 3, 3), rand(6))),
    "conv1d": (lambda x, w, b, **o: F.conv1d(x, w, b, stride=2, **o),
               lambda dy, x, w, b, **o: F.conv1d_backward(dy, x, w, b, stride=2, **o),
               (X3, rand(3, 4, 3), rand(3))),
    "conv_transpose2d": (lambda x, w, b, **o: F.conv_transpose2d(x, w, b, stride=2, **o),
                         lambda dy, x, w, b, **o: F.conv_transpose2d_backward(dy, x, w, b, stride=2, **o),
                         (X4, rand(4, 3, 3, 3), rand(3))),
    "max_pool2d": (lambda x, **o: F.max_pool2d(x, 2, **o),
                   lambda dy, x, **o: F.max_pool2d_backward(dy, x, 2, **o), (X4,)),
    "avg_pool2d": (lambda x, **o: F.avg_pool2d(x, 3, 2, 1, **o),
                   lambda dy, x, **o: F.avg_pool2d_backward(dy, x, 3, 2, 1, **o), (X4,)),
    "max_pool1d": (lambda x, **o: F.max_pool1d(x, 3, **o),
                   lambda dy, x, **o: F.max_pool1d_backward(dy, x, 3, **o), (X3,)),
    "avg_pool1d": (lambda x, **o: F.avg_pool1d(x, 2, **o),
                   lambda dy, x, **o: F.avg_pool1d_backward(dy, x, 2, **o), (X3,)),
    "global_avg_pool2d": (F.global_avg_pool2d, F.global_avg_pool2d_backward, (X4,)),
    "relu": (F.relu, F.relu_backward, (X4,)),
    "leaky_relu": (lambda x, **o: F.leaky_relu(x, 0.2, **o),
                   lambda dy, x, **o: F.leaky_relu_backward(dy, x, 0.2, **o), (X4,)),
    "prelu": (F.prelu, F.prelu_backward, (X4, rand(4))),
    "elu": (F.elu, F.elu_backward, (X3,)),
    "sigmoid": (F.sigmoid, F.sigmoid_backward, (X2,)),
    "tanh": (F.tanh, F.tanh_backward, (X2,)),
    "softmax": (F.softmax, F.softmax_backward, (X2,)),
    "log_softmax": (lambda x, **o: F.log_softmax(x, axis=0, **o),
                    lambda dy, x, **o: F.log_softmax_backward(dy, x, axis=0, **o), (X2,)),
    "linear": (F.linear, F.linear_backward, (X2, rand(4, 5), rand(4))),
    "batch_norm": (lambda x, g, b, **o: F.batch_norm(x, g, b, None, None, training=True, **o),
                   lambda dy, x, g, b, **o: F.batch_norm_backward(dy, x, g, b, None, None, training=True, **o),
                   (X4, rand(4), rand(4))),
    "local_response_norm": (lambda x, **o: F.local_response_norm(x, 3, **o),
                            lambda dy, x, **o: F.local_response_norm_backward(dy, x, 3, **o), (X4,)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_out_gives_the_same_result_in_the_given_array(name):
    forward, backward, arrays = OPS[name]
    y = forward(*arrays)
    out = np.full_like(y, np.nan)
    assert forward(*arrays, out=out) is out
    np.testing.assert_array_equal(out, y)

    dy = rand(*y.shape, seed=5)
    grads = backward(dy, *arrays)
    outs = tuple(None if g is None else np.full_like(g, np.nan) for g in grads)
    got = backward(dy, *arrays, out=outs)
    for g, o, r in zip(grads, outs, got):
        assert r is o
        if g is not None:
            np.testing.assert_array_equal(o, g)
    # some entries None: those are allocated, the others written
    partial = (None,) + outs[1:]
    got = backward(dy, *arrays, out=partial)
    np.testing.assert_array_equal(got[0], grads[0])
    assert all(r is o for r, o in zip(got[1:], outs[1:]))


def bad_outs(shape):
    ok = np.empty(shape, np.float32)
    read_only = np.empty(shape, np.float32)
    read_only.flags.writeable = False
    wider = np.empty(shape[:-1] + (2 * shape[-1],), np.float32)
    return {
        "shape": np.empty(shape[:-1] + (shape[-1] + 1,), np.float32),
        "dtype": np.empty(shape, np.float64),
        "non-contiguous": wider[..., ::2],
        "read-only": read_only,
        "Fortran": np.asfortranarray(ok) if ok.ndim > 1 and min(shape) > 1 else wider[..., ::2],
    }


def overlapping(a, shape):
    """(a copy of a, an array of shape) sharing one element: both views of one allocation."""
    size = int(np.prod(shape))
    base = np.empty(a.size + size - 1, np.float32)
    view = base[:a.size].reshape(a.shape)
    view[...] = a
    return view, base[a.size - 1:].reshape(shape)


@pytest.mark.parametrize("name", sorted(OPS))
def test_bad_out_raises_naming_out(name):
    forward, backward, arrays = OPS[name]
    y = forward(*arrays)
    for why, bad in bad_outs(y.shape).items():
        with pytest.raises(ValueError, match="'out'"):
            forward(*arrays, out=bad)
    with pytest.raises(TypeError, match="'out'"):
        forward(*arrays, out=y.tolist())
    x, out = overlapping(arrays[0], y.shape)
    with pytest.raises(ValueError, match="'out'.*overlaps 'x'"):
        forward(x, *arrays[1:], out=out)
    dy = rand(*y.shape, seed=5)
    grads = backward(dy, *arrays)
    for why, bad in bad_outs(grads[0].shape).items():
        with pytest.raises(ValueError, match=r"'out\[0\]'"):
            backward(dy, *arrays, out=(bad,) + (None,) * (len(grads) - 1))
    with pytest.raises(TypeError, match="'out'"):
        backward(dy, *arrays, out=(None,) * (len(grads) + 1))
    dy_view, out = overlapping(dy, grads[0].shape)
    with pytest.raises(ValueError, match=r"'out\[0\]'.*overlaps 'dy'"):
        backward(dy_view, *arrays, out=(out,) + (None,) * (len(grads) - 1))
    if len(grads) > 1:  # two gradients into overlapping arrays
        g0, g1 = overlapping(np.empty(grads[0].shape, np.float32), grads[1].shape)
        with pytest.raises(ValueError, match=r"'out\[1\]'.*overlaps 'out\[0\]'"):
            backward(dy, *arrays, out=(g0, g1) + (None,) * (len(grads) - 2))


@pytest.mark.parametrize("op, op_backward, arrays", [
    (F.linear, F.linear_backward, (X2, rand(4, 5), rand(4))),
    (F.conv2d, F.conv2d_backward, (X4, rand(6, 4, 3, 3), None)),
    (F.conv1d, F.conv1d_backward, (X3, rand(3, 4, 3), rand(3))),
    (F.conv_transpose2d, F.conv_transpose2d_backward, (X4, rand(4, 2, 3, 3), rand(2))),
])
def test_need_dx_false_skips_only_dx(op, op_backward, arrays):
    dy = rand(*op(*arrays).shape, seed=3)
    dx, dw, db = op_backward(dy, *arrays)
    out = (np.empty_like(dx), np.empty_like(dw), None if db is None else np.empty_like(db))
    got = op_backward(dy, *arrays, need_dx=False, out=out)
    assert got[0] is None
    np.testing.assert_array_equal(got[1], dw)
    assert got[1] is out[1]
    if db is not None:
        np.testing.assert_array_equal(got[2], db)
    with pytest.raises(TypeError, match="'need_dx'"):
        op_backward(dy, *arrays, need_dx=1)


def small_net():
    fastcnn.seed(3)
    return fastcnn.Sequential([
        fastcnn.Input((1, 12, 12)),
        L.Conv2D(4, 3, padding="same", activation="tanh"),
        L.MaxPool2D(2),
        L.Conv2D(6, 3, activation="relu"),
        L.BatchNorm(),
        L.LocalResponseNorm(3),
        L.AvgPool2D(2),
        L.Flatten(),
        L.Dense(16, activation="sigmoid"),
        L.ELU(),
        L.Dense(5),
    ])


def buffer_addresses(model):
    return {(layer.name, k): b.ctypes.data for layer in model.layers for k, b in layer._buffers.items()}


def step(model, x):
    y, = model.forward(x, training=True)
    model.backward([np.ones_like(y) / y.size])


def test_training_steps_reuse_buffers_until_the_batch_size_changes():
    model = small_net()
    x = rand(8, 1, 12, 12)
    step(model, x)
    first = buffer_addresses(model)
    grads = [p.grad.ctypes.data for p in model.parameters()]
    # every computing layer keeps its output, and all but the first their input gradient; the
    # max-pool that applies conv2d_1's tanh after pooling keeps the pooled z and its gradient too
    assert {k for (_, k) in first} == {"y", "z", "dz", "dx", "zp", "dzp"}
    assert ("conv2d_1", "dx") not in first and ("conv2d_2", "dx") in first
    step(model, rand(8, 1, 12, 12, seed=1))
    assert buffer_addresses(model) == first
    assert [p.grad.ctypes.data for p in model.parameters()] == grads
    step(model, rand(5, 1, 12, 12))
    resized = buffer_addresses(model)
    assert resized.keys() == first.keys()
    assert all(resized[k] != first[k] for k in first)
    assert [p.grad.ctypes.data for p in model.parameters()] == grads
    for layer in model.layers:
        for b in layer._buffers.values():
            assert b.shape[0] == 5


def traced_peak(fn) -> int:
    """The most bytes fn() had allocated (numpy arrays included) at any moment, over what it started with."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_a_steady_training_step_allocates_no_activations():
    model = small_net()
    x = rand(64, 1, 12, 12)
    y, = model.forward(x, training=True)
    dy = np.ones_like(y) / y.size

    def train_step():
        model.forward(x, training=True)
        model.backward([dy])

    train_step()
    steady = traced_peak(train_step)  # Python objects only: a few kB
    for layer in model.layers:
        layer.release_buffers()
    fresh = traced_peak(train_step)   # every activation and gradient anew: about 1 MB
    assert steady * 20 < fresh, (steady, fresh)
    assert steady < 64 * 6 * 4 * 4 * 4, steady  # less than the smallest conv output


def test_first_layers_need_no_input_gradient():
    x = fastcnn.Input((3, 6, 6))
    a = L.Conv2D(2, 3, name="a")(x)
    b = L.Conv2D(2, 3, name="b")(x)
    c = L.Add(name="c")([a, b])
    y = L.Dense(3, name="d")(L.Flatten(name="f")(c))
    model = fastcnn.Model(x, y)
    assert [model.get_layer(n).needs_input_grad for n in "abcfd"] == [False, False, True, True, True]
    out, = model.forward(rand(2, 3, 6, 6), training=True)
    model.backward([np.ones_like(out)])
    assert model.get_layer("a").backward(np.ones((2, 2, 4, 4), np.float32)) is None
    mlp = fastcnn.Sequential([fastcnn.Input((4,)), L.Dense(3, name="d1"), L.Dense(2, name="d2")])
    assert [mlp.get_layer("d1").needs_input_grad, mlp.get_layer("d2").needs_input_grad] == [False, True]
    out, = mlp.forward(rand(2, 4), training=True)
    mlp.backward([np.ones_like(out)])
    assert mlp.get_layer("d1").params["kernel"].grad.any()


def test_predict_and_layer_calls_return_their_own_arrays():
    model = small_net()
    a, b = rand(6, 1, 12, 12), rand(6, 1, 12, 12, seed=9)
    pa = model.predict(a, batch_size=4)
    kept = pa.copy()
    pb = model.predict(b, batch_size=4)
    np.testing.assert_array_equal(pa, kept)
    assert not np.shares_memory(pa, pb)
    assert not any(np.shares_memory(pb, buf) for layer in model.layers for buf in layer._buffers.values())

    layer = L.Dense(3)
    ya = layer(X2)
    kept = ya.copy()
    layer(X2 * 2)
    np.testing.assert_array_equal(ya, kept)
