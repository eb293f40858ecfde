"""Layers: backward against central differences of the layer's own forward, shapes, configs, errors."""
import json

import numpy as np
import pytest

import fastcnn
from fastcnn import _random
from fastcnn import functional as F
from fastcnn import layers as L
from fastcnn.layers import Layer, register

pytestmark = pytest.mark.usefixtures("one_thread")


EPS = 1e-2   # finite-difference step on the float32 forward
TOL = 1e-2   # relative error by norm


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    den = np.linalg.norm(want)
    return float(np.linalg.norm(got - want) / den) if den > 0 else float(np.linalg.norm(got))


def away_from_zero(rng, shape, lo=0.1):
    """Values with |v| >= lo, so activations are checked away from their kinks."""
    return (rng.uniform(lo, 1.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(np.float32)


def distinct(rng, shape, gap=0.05):
    """Values at least gap apart, so max-pooling has no near ties under the EPS perturbation."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * gap - n * gap / 2).reshape(shape).astype(np.float32)


def grad_check(layer, x, eps=EPS, tol=TOL, max_checks=40):
    """Build layer for x, compare its backward with central differences of <forward(x), r>
    (at up to max_checks random entries of each input and parameter)."""
    rng = np.random.default_rng(7)
    xs = x if isinstance(x, list) else [x]
    layer.build_for([a.shape[1:] for a in xs] if isinstance(x, list) else x.shape[1:])
    y = layer.forward(x, training=True)
    assert y.dtype == np.float32
    assert y.shape[1:] == layer.output_shape, (y.shape, layer.output_shape)
    r = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(r)
    dxs = dx if isinstance(x, list) else [dx]
    grads = {k: p.grad.copy() for k, p in layer.params.items()}

    def loss():
        return float(np.sum(layer.forward(x, training=True).astype(np.float64) * r))

    def numeric(a, picks):
        """Central differences at the flat indices picks."""
        flat, g = a.reshape(-1), np.zeros(len(picks))
        for j, i in enumerate(picks):
            old = flat[i]
            flat[i] = old + eps
            fp = loss()
            flat[i] = old - eps
            fm = loss()
            flat[i] = old
            g[j] = (fp - fm) / (2 * eps)
        return g

    def check(what, analytic, a):
        picks = np.arange(a.size) if a.size <= max_checks else rng.choice(a.size, max_checks, replace=False)
        e = rel_err(analytic.reshape(-1)[picks], numeric(a, picks))
        assert e <= tol, f"{type(layer).__name__} {what} relative error {e:.3g}"

    for i, (a, d) in enumerate(zip(xs, dxs)):
        assert d.shape == a.shape
        check(f"dx[{i}]", np.asarray(d), a)
    for k, p in layer.params.items():
        check(f"d{k}", grads[k], p.value)


RNG = np.random.default_rng(0)

CASES = [
    ("conv1d_same_s2", lambda: L.Conv1D(3, 3, strides=2, padding="same"), (2, 4, 9), "normal"),
    ("conv1d_dil_groups", lambda: L.Conv1D(4, 2, dilation=2, groups=2, padding=1), (2, 4, 7), "normal"),
    ("conv2d_same_s2_tanh", lambda: L.Conv2D(4, 3, strides=2, padding="same", activation="tanh"), (2, 3, 6, 5),
     "normal"),
    ("conv2d_full_dil_groups", lambda: L.Conv2D(4, (3, 2), dilation=2, groups=2, padding="full", use_bias=False),
     (2, 2, 5, 5), "normal"),
    ("conv2d_asym_pad", lambda: L.Conv2D(2, 3, padding=((1, 0), (0, 2)), activation="sigmoid"), (2, 2, 5, 5),
     "normal"),
    ("conv2dT_same_s2", lambda: L.Conv2DTranspose(3, 3, strides=2, padding="same"), (2, 2, 3, 4), "normal"),
    ("conv2dT_valid_groups", lambda: L.Conv2DTranspose(4, 2, strides=2, groups=2), (2, 2, 3, 3), "normal"),
    ("conv2dT_pad_tanh", lambda: L.Conv2DTranspose(2, 3, padding=1, activation="tanh"), (2, 3, 4, 4), "normal"),
    ("maxpool2d_same", lambda: L.MaxPool2D(3, 2, padding="same"), (2, 2, 7, 6), "distinct"),
    ("maxpool2d_ceil", lambda: L.MaxPool2D(2, ceil_mode=True), (2, 2, 5, 5), "distinct"),
    ("maxpool1d", lambda: L.MaxPool1D(3, 2, padding=1), (2, 3, 8), "distinct"),
    ("avgpool2d", lambda: L.AvgPool2D(3, 2, padding=1, count_include_pad=False), (2, 2, 6, 5), "normal"),
    ("avgpool1d", lambda: L.AvgPool1D(2), (2, 3, 8), "normal"),
    ("global_avg_pool", lambda: L.GlobalAvgPool2D(), (2, 3, 4, 5), "normal"),
    ("dense_sigmoid", lambda: L.Dense(5, activation="sigmoid"), (3, 6), "normal"),
    ("dense_softmax", lambda: L.Dense(4, activation="softmax"), (3, 6), "normal"),
    ("dense_elu", lambda: L.Dense(3, activation="elu", use_bias=False), (3, 6), "normal"),
    ("flatten", lambda: L.Flatten(), (2, 3, 2, 2), "normal"),
    ("batchnorm_4d", lambda: L.BatchNorm(), (3, 3, 3, 3), "normal"),
    ("batchnorm_2d", lambda: L.BatchNorm(momentum=0.2), (6, 4), "normal"),
    ("lrn", lambda: L.LocalResponseNorm(size=3, alpha=0.5, beta=0.75, k=2.0), (2, 5, 3, 3), "normal"),
    ("relu", lambda: L.ReLU(), (2, 3, 4), "away"),
    ("leaky_relu", lambda: L.LeakyReLU(0.1), (2, 3, 4), "away"),
    ("prelu", lambda: L.PReLU(), (2, 3, 2, 2), "away"),
    ("prelu_shared", lambda: L.PReLU(shared=True), (2, 3, 4), "away"),
    ("elu", lambda: L.ELU(0.7), (2, 3, 4), "away"),
    ("sigmoid", lambda: L.Sigmoid(), (2, 3, 4), "normal"),
    ("tanh", lambda: L.Tanh(), (2, 3, 4), "normal"),
    ("softmax", lambda: L.Softmax(), (2, 5, 3), "normal"),
    ("activation_leaky", lambda: L.Activation("leaky_relu"), (2, 6), "away"),
]


@pytest.mark.parametrize("make,shape,kind", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_layer_backward_matches_finite_differences(make, shape, kind):
    rng = np.random.default_rng(1)
    x = {"normal": lambda: rng.standard_normal(shape).astype(np.float32),
         "away": lambda: away_from_zero(rng, shape),
         "distinct": lambda: distinct(rng, shape)}[kind]()
    grad_check(make(), x)


def test_random_layers_backward(monkeypatch):
    """Dropout and RReLU with the seed held fixed, so the forward is a fixed function."""
    monkeypatch.setattr(_random, "next_seed", lambda: 1234)
    rng = np.random.default_rng(2)
    grad_check(L.Dropout(0.4), rng.standard_normal((3, 4, 5)).astype(np.float32))
    grad_check(L.RReLU(), away_from_zero(rng, (3, 4, 5)))


def test_random_layers_inference_and_training():
    x = np.ones((4, 1000), np.float32)
    d = L.Dropout(0.5)
    assert np.array_equal(d(x), x)  # inference: identity
    d.build_for((1000,))
    y = d.forward(x, training=True)
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.3 < np.mean(y == 0) < 0.7
    neg = -np.ones((2, 50), np.float32)
    r = L.RReLU(0.1, 0.3)
    np.testing.assert_allclose(r(neg), -0.2, rtol=1e-6)
    r2 = L.RReLU(0.1, 0.3)
    r2.build_for((50,))
    yt = r2.forward(neg, training=True)
    assert np.all(yt <= -0.1 + 1e-6) and np.all(yt >= -0.3 - 1e-6) and np.std(yt) > 0


def test_merge_layers_backward():
    rng = np.random.default_rng(3)
    grad_check(L.Concatenate(), [rng.standard_normal((2, 2, 3, 3)).astype(np.float32),
                                 rng.standard_normal((2, 3, 3, 3)).astype(np.float32)])
    grad_check(L.Add(), [rng.standard_normal((2, 2, 3)).astype(np.float32) for _ in range(3)])


def test_batchnorm_running_stats_and_inference():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((8, 3, 4, 4)) * 2 + 1).astype(np.float32)
    bn = L.BatchNorm(momentum=0.1)
    bn.build_for(x.shape[1:])
    y = bn.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    n = 8 * 16
    np.testing.assert_allclose(bn.state["moving_mean"], 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-4)
    np.testing.assert_allclose(bn.state["moving_var"], 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * n / (n - 1), rtol=1e-4)
    assert bn.count_params(True) == 6 and bn.count_params(False) == 6
    yi = bn.forward(x, training=False)
    want = (x - bn.state["moving_mean"][:, None, None]) / np.sqrt(bn.state["moving_var"][:, None, None] + 1e-5)
    np.testing.assert_allclose(yi, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer,in_shape,out_shape", [
    (lambda: L.Conv2D(8, 3, padding="same", strides=2), (3, 7, 8), (8, 4, 4)),
    (lambda: L.Conv2D(8, 3, padding="full", dilation=2), (3, 5, 5), (8, 9, 9)),
    (lambda: L.Conv2D(8, (5, 3), strides=(2, 1)), (3, 9, 9), (8, 3, 7)),
    (lambda: L.Conv1D(5, 4, padding="same"), (2, 10), (5, 10)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same"), (2, 5, 6), (4, 10, 12)),
    (lambda: L.Conv2DTranspose(4, 4, strides=2, padding="same"), (2, 5, 6), (4, 10, 12)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2), (2, 5, 6), (4, 11, 13)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=1), (2, 5, 6), (4, 12, 14)),
    (lambda: L.Conv2DTranspose(4, 3, padding="full"), (2, 5, 6), (4, 3, 4)),
    (lambda: L.MaxPool2D(3, 2), (4, 7, 8), (4, 3, 3)),
    (lambda: L.MaxPool2D(3, 2, ceil_mode=True), (4, 8, 8), (4, 4, 4)),
    (lambda: L.MaxPool2D(3, 2, padding="same"), (4, 7, 8), (4, 4, 4)),
    (lambda: L.AvgPool1D(2), (4, 9), (4, 4)),
    (lambda: L.GlobalAvgPool2D(), (4, 3, 3), (4,)),
    (lambda: L.Flatten(), (4, 3, 3), (36,)),
    (lambda: L.Dense(7), (36,), (7,)),
])
def test_output_shapes(layer, in_shape, out_shape):
    lay = layer()
    assert lay.build_for(in_shape) == out_shape
    x = np.random.default_rng(0).standard_normal((2, *in_shape)).astype(np.float32)
    assert lay.forward(x, training=False).shape == (2, *out_shape)


@pytest.mark.parametrize("make,shape,msg", [
    (lambda: L.Conv2D(4, 5), (3, 4, 4), "larger than the padded input"),
    (lambda: L.Conv2D(4, 3, groups=2), (3, 8, 8), "divisible by groups"),
    (lambda: L.Conv2D(4, 3), (3, 8), "3 dimensions"),
    (lambda: L.Dense(4), (3, 8, 8), "Flatten"),
    (lambda: L.MaxPool2D(3), (3, 2, 2), "larger than the padded input"),
    (lambda: L.BatchNorm(), (3, 4), r"\(C,\) or \(C, H, W\)"),
])
def test_build_errors_name_the_layer(make, shape, msg):
    lay = make()
    with pytest.raises(ValueError, match=msg) as e:
        lay.build_for(shape)
    assert f"'{lay.name}' ({type(lay).__name__})" in str(e.value)


def test_merge_build_errors():
    with pytest.raises(ValueError, match="Add.*need the same shape"):
        L.Add().build_for([(2, 3, 3), (2, 3, 4)])
    with pytest.raises(ValueError, match="Concatenate.*differ outside axis 1"):
        L.Concatenate().build_for([(2, 3, 3), (2, 4, 4)])
    with pytest.raises(ValueError, match="list of at least two"):
        L.Add().build_for((2, 3, 3))


@pytest.mark.parametrize("make,arg", [
    (lambda: L.Conv2D(0, 3), "filters"),
    (lambda: L.Conv2D(4, 0), "kernel_size"),
    (lambda: L.Conv2D(4, 3, strides=0), "strides"),
    (lambda: L.Conv2D(4, 3, padding="bogus"), "padding"),
    (lambda: L.Conv2D(3, 3, groups=2), "filters"),
    (lambda: L.Conv2D(4, 3, activation="swish"), "activation"),
    (lambda: L.Dense(4, activation="bogus"), "activation"),
    (lambda: L.Dense(0), "units"),
    (lambda: L.Dropout(1.0), "rate"),
    (lambda: L.MaxPool2D(2, padding="full"), "padding"),
    (lambda: L.Conv2DTranspose(4, 3, padding="same", output_padding=1), "output_padding"),
    (lambda: L.Conv2D(4, 3, name="a/b"), "name"),
])
def test_bad_arguments(make, arg):
    with pytest.raises(ValueError, match=f"'{arg}'"):
        make()


def test_initializers_and_seeding():
    fastcnn.seed(11)
    c = L.Conv2D(64, 3)
    c.build_for((32, 8, 8))
    w = c.params["kernel"].value
    limit = np.sqrt(6 / (32 * 9 + 64 * 9))
    assert w.dtype == np.float32 and np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
    assert np.all(c.params["bias"].value == 0)
    fastcnn.seed(11)
    c2 = L.Conv2D(64, 3)
    c2.build_for((32, 8, 8))
    assert np.array_equal(w, c2.params["kernel"].value)
    he = L.Conv2D(64, 3, kernel_initializer="he_normal")
    he.build_for((32, 8, 8))
    assert abs(he.params["kernel"].value.std() - np.sqrt(2 / (32 * 9))) < 0.1 * np.sqrt(2 / (32 * 9))
    hu = L.Dense(100, kernel_initializer="he_uniform", bias_initializer=L.initializers.Constant(0.5))
    hu.build_for((200,))
    assert np.abs(hu.params["kernel"].value).max() <= np.sqrt(6 / 200)
    assert np.all(hu.params["bias"].value == 0.5)
    z = L.Dense(3, kernel_initializer="zeros")
    z.build_for((4,))
    assert np.all(z.params["kernel"].value == 0)
    with pytest.raises(ValueError, match="'identifier'"):
        L.Dense(3, kernel_initializer="nope")


ALL_LAYERS = [
    L.Conv1D(3, 2, padding="same"), L.Conv2D(4, (3, 2), strides=2, padding=((1, 0), (0, 1)), dilation=2, groups=1,
                                              activation="relu", kernel_initializer="he_normal"),
    L.Conv2DTranspose(4, 3, strides=2, padding="same", bias_initializer=L.initializers.Constant(0.1)),
    L.MaxPool1D(2), L.MaxPool2D(3, 2, padding="same", ceil_mode=False), L.AvgPool1D(2),
    L.AvgPool2D(2, count_include_pad=False), L.GlobalAvgPool2D(), L.Dense(3, activation="softmax"), L.Flatten(),
    L.BatchNorm(momentum=0.01, eps=1e-3), L.Dropout(0.3), L.LocalResponseNorm(3, 1e-3, 0.5, 1.0), L.ReLU(),
    L.LeakyReLU(0.2), L.PReLU(shared=True), L.RReLU(0.1, 0.2), L.ELU(0.5), L.Sigmoid(), L.Tanh(), L.Softmax(),
    L.Activation("elu"), L.Concatenate(), L.Add(), L.InputLayer((3, 4, 4), name="inp"),
]


@pytest.mark.parametrize("layer", ALL_LAYERS, ids=[type(x).__name__ for x in ALL_LAYERS])
def test_config_round_trip(layer):
    cfg = json.loads(json.dumps(layer.get_config()))
    cls = L.get(type(layer).__name__)
    assert cls is type(layer)
    again = cls.from_config(cfg)
    assert json.loads(json.dumps(again.get_config())) == cfg


def test_registry():
    assert L.get("Conv2D") is L.Conv2D
    assert {"Conv2D", "Dense", "BatchNorm", "Add", "Concatenate", "InputLayer"} <= set(L.registered())
    with pytest.raises(ValueError, match="'class_name'"):
        L.get("NoSuchLayer")


@register
class DenseTanh(Layer):
    """The custom layer from the recipe in layers/base.py."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError("needed a flat (features,) input")
        return (self.units,)

    def build(self, input_shape):
        self.add_param("kernel", (self.units, input_shape[0]), "glorot_uniform")

    def forward(self, x, training):
        z = F.linear(x, self.params["kernel"].value)
        if training:
            self.cache = (x, z)
        return F.tanh(z)

    def backward(self, dy):
        x, z = self.cache
        dz, = F.tanh_backward(dy, z)
        dx, dw, _ = F.linear_backward(dz, x, self.params["kernel"].value)
        np.copyto(self.params["kernel"].grad, dw)
        return dx

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_custom_layer():
    rng = np.random.default_rng(5)
    grad_check(DenseTanh(4), rng.standard_normal((3, 5)).astype(np.float32))
    model = fastcnn.Sequential([L.Flatten(input_shape=(2, 3, 3)), DenseTanh(6), L.Dense(2)])
    lines = []
    model.summary(print_fn=lines.append)
    assert any("dense_tanh_1 (DenseTanh)" in s and "108" in s for s in lines)
    again = fastcnn.Model.from_config(json.loads(json.dumps(model.get_config())))
    assert type(again.layers[1]) is DenseTanh and again.count_params() == model.count_params()
    with pytest.raises(ValueError, match="'dense_tanh_1' \\(DenseTanh\\).*flat"):
        fastcnn.Sequential([L.Input((2, 3)), L.Conv1D(2, 1), DenseTanh(3)])


def test_eager_call_on_arrays():
    x = np.random.default_rng(6).standard_normal((2, 3, 8, 8)).astype(np.float32)
    conv = L.Conv2D(5, 3, padding="same")
    y = conv(x)
    assert y.shape == (2, 5, 8, 8) and conv.built and conv.params["kernel"].shape == (5, 3, 3, 3)
    assert L.Add()([x, x]).shape == x.shape
