"""Model and Sequential: graph building, forward/backward, shapes, errors, summary, configs."""
import json

import numpy as np
import pytest

import fastcnn
from fastcnn import layers as L
from fastcnn.layers import Param


pytestmark = pytest.mark.usefixtures("one_thread")


def branchy_model():
    """Two branches merged by Concatenate, a residual Add, BN and dropout."""
    x = fastcnn.Input((2, 6, 6), name="image")
    a = L.Conv2D(3, 3, padding="same", activation="tanh")(x)
    b = L.Conv2D(2, 1, activation="tanh")(x)
    c = L.Concatenate()([a, b])
    d = L.Conv2D(5, 3, padding="same", use_bias=False)(c)  # BN follows: a bias would have zero gradient
    e = L.BatchNorm()(d)
    f = L.Add()([e, c])
    g = L.MaxPool2D(2)(L.Tanh()(f))
    y = L.Dense(4)(L.Flatten()(g))
    return fastcnn.Model(x, y, name="branchy")


def model_loss(model, x, r):
    return sum(float(np.sum(o.astype(np.float64) * ri)) for o, ri in zip(model.forward(x, training=True), r))


def check_param_grads(model, x, n_samples=6, eps=3e-3, tol=2e-2):
    """Model.backward's parameter gradients against central differences on a few entries per parameter."""
    rng = np.random.default_rng(0)
    outs = model.forward(x, training=True)
    r = [rng.standard_normal(o.shape).astype(np.float32) for o in outs]
    model.backward(r)
    for p in model.parameters():
        analytic = p.grad.copy()
        idx = rng.choice(p.size, size=min(n_samples, p.size), replace=False)
        num, ana = [], []
        flat = p.value.reshape(-1)
        for i in idx:
            old = flat[i]
            flat[i] = old + eps
            fp = model_loss(model, x, r)
            flat[i] = old - eps
            fm = model_loss(model, x, r)
            flat[i] = old
            num.append((fp - fm) / (2 * eps))
            ana.append(analytic.reshape(-1)[i])
        num, ana = np.array(num), np.array(ana)
        err = np.linalg.norm(num - ana) / max(np.linalg.norm(num), 1e-3)
        assert err <= tol, f"{p.name}: relative error {err:.3g}"


def test_branch_and_merge_forward_backward():
    fastcnn.seed(1)
    model = branchy_model()
    x = np.random.default_rng(1).standard_normal((3, 2, 6, 6)).astype(np.float32)
    (y,) = model.forward(x, training=True)
    assert y.shape == (3, 4) and model.output_shapes == [(4,)] and model.input_shapes == [(2, 6, 6)]
    check_param_grads(model, x)
    (yi,) = model.forward(x)
    assert yi.shape == (3, 4)


def test_topological_order_and_names():
    model = branchy_model()
    names = [layer.name for layer in model.layers]
    assert names == ["image", "conv2d_1", "conv2d_2", "concatenate_1", "conv2d_3", "batch_norm_1", "add_1",
                     "tanh_1", "max_pool2d_1", "flatten_1", "dense_1"]
    pnames = [p.name for p in model.parameters()]
    assert pnames[:2] == ["conv2d_1/kernel", "conv2d_1/bias"] and len(set(pnames)) == len(pnames)
    assert all(isinstance(p, Param) and p.value.dtype == np.float32 and p.grad.shape == p.value.shape
               for p in model.parameters())
    assert [n for n, _ in model.state_arrays()] == ["batch_norm_1/moving_mean", "batch_norm_1/moving_var"]
    assert model.get_layer("add_1").output_shape == (5, 6, 6)
    # the same construction gives the same names, whatever was built before
    assert [layer.name for layer in branchy_model().layers] == names


def test_several_inputs_and_outputs():
    a = fastcnn.Input((3,))
    b = fastcnn.Input((2,))
    h = L.Concatenate()([L.Dense(4, activation="tanh")(a), L.Dense(4, activation="tanh")(b)])
    y1 = L.Dense(2)(h)
    y2 = L.Dense(3)(h)
    model = fastcnn.Model([a, b], [y1, y2])
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((5, 2)).astype(np.float32)]
    outs = model.forward(xs, training=True)
    assert [o.shape for o in outs] == [(5, 2), (5, 3)] and model.loss_weights == [1.0, 1.0]
    check_param_grads(model, xs)
    with pytest.raises(ValueError, match="'x'"):
        model.forward(xs[0])
    with pytest.raises(ValueError, match=r"'x\[1\]'.*batch size"):
        model.forward([xs[0], xs[1][:3]])


def test_aux_outputs_only_in_training():
    x = fastcnn.Input((4,))
    h = L.Dense(6, activation="tanh")(x)
    aux = L.Dense(3, name="aux")(h)
    y = L.Dense(3)(L.Dense(5, activation="tanh")(h))
    model = fastcnn.Model(x, y, aux_outputs=[aux], aux_loss_weight=0.3)
    data = np.random.default_rng(3).standard_normal((2, 4)).astype(np.float32)
    assert len(model.forward(data, training=True)) == 2
    assert len(model.forward(data, training=False)) == 1
    assert model.loss_weights == [1.0, 0.3] and model.aux_output_shapes == [(3,)]
    check_param_grads(model, data)
    model.forward(data, training=True)
    with pytest.raises(ValueError, match="'dys'"):
        model.backward([np.ones((2, 3), np.float32)])
    with pytest.raises(ValueError, match=r"'dys\[1\]'"):
        model.backward([np.ones((2, 3), np.float32), np.ones((2, 4), np.float32)])
    model.forward(data, training=False)
    with pytest.raises(RuntimeError, match="training=True"):
        model.backward([np.ones((2, 3), np.float32)])


def test_sequential_ways_to_give_the_input_shape():
    def stack():
        return [L.Conv2D(4, 3, activation="relu"), L.MaxPool2D(2), L.Flatten(), L.Dense(3)]

    x = np.random.default_rng(4).standard_normal((2, 1, 8, 8)).astype(np.float32)
    m1 = fastcnn.Sequential([fastcnn.Input((1, 8, 8)), *stack()])
    assert m1.built and m1.output_shapes == [(3,)]
    m2 = fastcnn.Sequential([L.Conv2D(4, 3, activation="relu", input_shape=(1, 8, 8))] + stack()[1:])
    assert m2.built
    m3 = fastcnn.Sequential(stack())
    assert not m3.built
    m3.build((1, 8, 8))
    assert m3.built and m3.count_params() == m1.count_params() == 4 * 9 + 4 + 3 * 36 + 3
    m3.build([1, 8, 8])  # already built for it: nothing to do
    with pytest.raises(ValueError, match="'input_shape'"):
        m3.build((1, 9, 9))
    m4 = fastcnn.Sequential()
    for layer in stack():
        m4.add(layer)
    assert m4.forward(x)[0].shape == (2, 3) and m4.input_shapes == [(1, 8, 8)]
    m1.add(L.Dense(2))
    assert m1.output_shapes == [(2,)] and m1.forward(x)[0].shape == (2, 2)
    assert [layer.name for layer in m1.layers] == ["conv2d_1", "max_pool2d_1", "flatten_1", "dense_1", "dense_2"]
    with pytest.raises(ValueError, match="input_shape"):
        fastcnn.Sequential(stack()).count_params()


def test_build_time_shape_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"'dense_1' \(Dense\).*\(4, 6, 6\)"):
        fastcnn.Sequential([fastcnn.Input((1, 8, 8)), L.Conv2D(4, 3), L.Dense(10)])
    with pytest.raises(ValueError, match=r"'conv2d_2' \(Conv2D\).*larger than the padded input"):
        fastcnn.Sequential([L.Conv2D(4, 5, input_shape=(1, 8, 8)), L.Conv2D(4, 5)])
    x = fastcnn.Input((3, 8, 8))
    a = L.Conv2D(4, 3)(x)
    b = L.Conv2D(4, 3, padding="same")(x)
    with pytest.raises(ValueError, match=r"'skip' \(Add\).*\[\(4, 6, 6\), \(4, 8, 8\)\]"):
        L.Add(name="skip")([a, b])
    seq = fastcnn.Sequential([L.Conv2D(4, 3), L.Dense(2)])
    with pytest.raises(ValueError, match=r"'dense_1' \(Dense\)"):
        seq.build((1, 8, 8))


def test_wrong_input_to_forward():
    model = fastcnn.models.lenet5()
    with pytest.raises(ValueError, match=r"'x' got shape \(2, 1, 28, 29\), needed \(N, 1, 28, 28\)"):
        model.forward(np.zeros((2, 1, 28, 29), np.float32))
    with pytest.raises(ValueError, match=r"'x' got shape \(1, 28, 28\)"):
        model.forward(np.zeros((1, 28, 28), np.float32))
    with pytest.raises(TypeError, match="'x'"):
        model.forward(np.array([["a"]]))


def test_graph_errors():
    x = fastcnn.Input((3,))
    other = fastcnn.Input((3,))
    y = L.Add()([L.Dense(3)(x), L.Dense(3)(other)])
    with pytest.raises(ValueError, match="not in 'inputs'"):
        fastcnn.Model(x, y)
    dense = L.Dense(2)
    dense(x)
    with pytest.raises(ValueError, match="already used"):
        dense(other)
    with pytest.raises(ValueError, match="unique"):
        fastcnn.Model(x, L.Dense(2, name="d")(L.Dense(3, name="d")(x)))
    with pytest.raises(TypeError, match="'outputs'"):
        fastcnn.Model(x, np.zeros(3))


def summary_lines(model):
    lines = []
    model.summary(print_fn=lines.append)
    return lines


def test_summary_contents():
    lines = summary_lines(fastcnn.models.lenet5())
    text = "\n".join(lines)
    assert lines[0] == 'Model: "lenet5"'
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    row = next(s for s in lines if s.startswith("conv2d_1 (Conv2D)"))
    assert "(None, 6, 28, 28)" in row and row.rstrip().endswith("156")
    assert any(s.startswith("dense_1 (Dense)") and "48,120" in s for s in lines)
    assert "Total params: 61,706" in lines and "Trainable params: 61,706" in lines
    assert "Non-trainable params: 0" in lines
    bn = summary_lines(branchy_model())
    assert "Connected to" in bn[2]
    assert any(s.startswith("add_1 (Add)") and "batch_norm_1, concatenate_1" in s for s in bn)
    assert any(s.startswith("batch_norm_1 (BatchNorm)") and "(None, 5, 6, 6)" in s and " 20" in s for s in bn)
    assert "Non-trainable params: 10" in bn


def test_count_params():
    model = branchy_model()
    conv = 2 * 3 * 9 + 3 + 2 * 2 + 2 + 5 * 5 * 9
    assert model.count_params(True) == conv + 10 + 45 * 4 + 4
    assert model.count_params(False) == 10
    assert model.count_params() == model.count_params(True) + 10


def round_trip(model):
    cfg = json.loads(json.dumps(model.get_config()))
    return fastcnn.Model.from_config(cfg)


def test_config_round_trip_gives_the_same_summary():
    for model in (branchy_model(), fastcnn.models.lenet5(), fastcnn.models.resnet18(num_classes=3,
                                                                                        input_shape=(1, 16, 16))):
        again = round_trip(model)
        assert type(again) is type(model)
        assert summary_lines(again) == summary_lines(model)
        assert [p.name for p in again.parameters()] == [p.name for p in model.parameters()]
    g = fastcnn.models.googlenet(num_classes=5, input_shape=(3, 32, 32))
    again = round_trip(g)
    assert again.loss_weights == [1.0, 0.3, 0.3] and summary_lines(again) == summary_lines(g)
    seq = fastcnn.Sequential([L.Dense(3), L.Dense(2)])  # not built yet: no input shape
    again = round_trip(seq)
    again.build((4,))
    assert again.count_params() == 4 * 3 + 3 + 3 * 2 + 2
    with pytest.raises(ValueError, match="'config'"):
        fastcnn.Model.from_config({"class_name": "Model", "layers": []})
    with pytest.raises(ValueError, match="'config'"):
        fastcnn.Model.from_config("nope")


def test_seeded_construction_is_reproducible():
    fastcnn.seed(5)
    a = [p.value.copy() for p in fastcnn.models.lenet5().parameters()]
    fastcnn.seed(5)
    b = [p.value for p in fastcnn.models.lenet5().parameters()]
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


def test_backward_overwrites_grads():
    model = branchy_model()
    x = np.random.default_rng(8).standard_normal((2, 2, 6, 6)).astype(np.float32)
    dy = [np.ones((2, 4), np.float32)]
    model.forward(x, training=True)
    model.backward(dy)
    first = [p.grad.copy() for p in model.parameters()]
    model.forward(x, training=True)
    model.backward(dy)
    for g, p in zip(first, model.parameters()):
        np.testing.assert_allclose(p.grad, g, rtol=1e-5, atol=1e-6)
