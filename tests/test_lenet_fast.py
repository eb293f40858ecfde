"""The per-step fast paths of the layers: a model's Conv2D + MaxPool2D pair applying the activation
after pooling, and the pre-validated kernel calls after a layer's first call with a shape. Both must
give exactly (bit for bit) what the plain layer-by-layer computation gives, with 1 and 2 threads
(for the fusion: on data where the activation rounds no two values of a window to one float, which
random normal inputs of these sizes never do; see model._fuse_activation_into_pool)."""
import numpy as np
import pytest

import fastcnn
from fastcnn import layers as L
from fastcnn import models


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def net(activation):
    fastcnn.seed(5)
    return fastcnn.Sequential([
        fastcnn.Input((2, 16, 16)),
        L.Conv2D(6, 5, padding="same", activation=activation),
        L.MaxPool2D(2),
        L.Conv2D(16, 3, activation=activation),
        L.MaxPool2D(3, strides=3, padding=1),
        L.Flatten(),
        L.Dense(10, activation=activation),
        L.Dense(3),
    ])


def train_step(model, x, fused=True):
    """Output and parameter gradients of one forward + backward, as copies."""
    saved = model._fused, model._pooled
    if not fused:
        model._fused, model._pooled = {}, {}
    try:
        y, = model.forward(x, training=True)
        y = y.copy()
        model.backward([np.linspace(-1, 1, y.size, dtype=np.float32).reshape(y.shape)])
    finally:
        model._fused, model._pooled = saved
    return [y] + [p.grad.copy() for p in model.parameters()]


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_activation_after_pool_is_bit_identical(activation):
    model = net(activation)
    assert len(model._fused) == 4  # both conv + max-pool pairs
    x = rand(9, 2, 16, 16)
    plain = train_step(model, x, fused=False)
    for _ in range(2):  # first call validates, the second takes the direct kernel calls
        got = train_step(model, x)
        for a, b in zip(got, plain):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x, batch_size=9), plain[0])  # inference: fused too


def test_conv_and_pool_run_as_one_kernel_call_after_the_first_step(monkeypatch):
    # LeNet's pairs take the direct conv kernels ("wide", "filters"): pooled block by block, z written
    # in training only. The results are covered bit for bit by the test above; here, that it runs.
    model = models.lenet5()
    x = rand(16, 1, 28, 28)
    model.predict(x, batch_size=16)  # first call: validating forwards, one layer at a time
    calls = []
    real = fastcnn._C.conv2d_pool_forward
    monkeypatch.setattr(fastcnn._C, "conv2d_pool_forward", lambda *a: calls.append(a[3] is None) or real(*a))
    ref, = model.forward(x)
    assert calls == [True, True]  # inference: z is never written
    y, = model.forward(x, training=True)
    assert calls[2:] == [False, False]  # training keeps z for the backward passes
    np.testing.assert_array_equal(y, ref)
    model._pooled = {}
    np.testing.assert_array_equal(model.forward(x)[0], ref)


def test_fused_training_is_thread_invariant():
    x = rand(32, 2, 16, 16, seed=1)
    old = fastcnn.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            fastcnn.set_num_threads(threads)
            results.append(train_step(net("tanh"), x))
    finally:
        fastcnn.set_num_threads(old)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_no_fusion_where_the_conv_output_is_used_otherwise():
    x = fastcnn.Input((1, 8, 8))
    c = L.Conv2D(4, 3, activation="tanh")(x)
    p = L.MaxPool2D(2)(c)
    model = fastcnn.Model(x, [L.Dense(2)(L.Flatten()(p)), L.Flatten()(c)])
    assert model._fused == {}
    overlapping = fastcnn.Sequential([fastcnn.Input((1, 8, 8)), L.Conv2D(4, 3, activation="tanh"),
                                      L.MaxPool2D(2, strides=1)])
    assert overlapping._fused == {}
    assert models.lenet5()._fused and not models.lenet5_classic()._fused  # avg-pool: no fusion


def test_layers_alone_still_apply_their_activation():
    model = net("tanh")
    conv = model.layers[0]
    x = rand(3, 2, 16, 16)
    model.forward(x)
    z = fastcnn.functional.conv2d(x, conv.params["kernel"].value, conv.params["bias"].value, padding="same")
    np.testing.assert_array_equal(conv(x), fastcnn.functional.tanh(z))


def test_direct_calls_follow_batch_size_and_layout_changes():
    model = net("tanh")
    ref = net("tanh")
    ref._fused, ref._pooled = {}, {}
    for n, seed in ((4, 0), (7, 1), (4, 2)):
        x = rand(n, 2, 16, 16, seed=seed)
        np.testing.assert_array_equal(train_step(model, x)[0], train_step(ref, x)[0])
    xf = rand(4, 2, 16, 16).astype(np.float64)[:, :, ::-1]  # float64, not contiguous: the checked path
    np.testing.assert_array_equal(model.forward(xf)[0], ref.forward(xf)[0])


def test_sgd_direct_step_matches_the_functional_step():
    fastcnn.seed(0)
    model = net("relu")
    params = model.parameters()
    for p in params:
        p.grad[...] = rand(*p.shape, seed=len(p.name))
    expected = []
    for p in params:
        v, vel = p.value.copy(), np.zeros_like(p.value)
        fastcnn.functional.sgd_step(v, p.grad, vel, 0.1, momentum=0.9, weight_decay=1e-3)
        expected.append(v)
    fastcnn.optim.SGD(0.1, momentum=0.9, weight_decay=1e-3).step(params)
    for p, e in zip(params, expected):
        np.testing.assert_array_equal(p.value, e)


@pytest.mark.parametrize("shape", [(3, 4, 28, 28), (2, 3, 6, 18), (1, 2, 4, 34), (3, 4, 10, 10), (2, 2, 4, 6)])
def test_max_pool_2x2_vector_path_matches_the_row_path(shape):
    # 2x2/2 windows tiling x exactly take the vector path (rows of 8 or more) or the same tournament
    # window by window (shorter rows: LeNet's 10x10 -> 5x5); one more column sends
    # the same windows through the row path. Ties, signed zeros, -inf and NaN anywhere, several
    # NaNs in a window too: the winner (last NaN, else first maximum) and the bits must agree.
    rng = np.random.default_rng(len(shape) + shape[-1])
    x = rng.integers(-2, 3, shape).astype(np.float32)
    x[rng.random(shape) < 0.1] = -np.inf
    x[(x == 0) & (rng.random(shape) < 0.5)] = -0.0
    x[rng.random(shape) < 0.1] = np.nan
    wide = np.concatenate([x, np.zeros(shape[:3] + (1,), np.float32)], axis=3)
    F = fastcnn.functional
    y, y_row = F.max_pool2d(x, 2), F.max_pool2d(wide, 2)
    np.testing.assert_array_equal(y.view(np.int32), y_row.view(np.int32))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dy[rng.random(y.shape) < 0.2] = -0.0
    dx = F.max_pool2d_backward(dy, x, 2)[0]
    dx_row = F.max_pool2d_backward(dy, wide, 2)[0]
    np.testing.assert_array_equal(dx.view(np.int32), dx_row[..., :-1].view(np.int32))
