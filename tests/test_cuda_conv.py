"""CUDA convolution and linear kernels on a real GPU vs the float64 references, at every precision
(fp32 <= 1e-5, tf32 <= 1e-3, bf16 <= 1e-2 relative error by norm). Skipped without a GPU.

Covers strides 1-4, dilation (also sharing a factor with the stride), asymmetric padding, groups,
depthwise, 1x1, conv1d, transposed convolutions, odd sizes, N = 0, the split-K weight gradient's
determinism and every issue-4 benchmark shape (N = 1 or 2, spatial size capped at 56 so the float64
reference stays quick).
"""
import functools

import numpy as np
import pytest

import fastcnn
import fastcnn.functional as F
import importlib

from reference._util import rel_err

ref_conv = importlib.import_module("reference.conv")
ref_linear = importlib.import_module("reference.linear")  # (reference.linear the module, not the function)

try:
    import fastcnn.cuda as fcuda
    HAVE_GPU = bool(fcuda.is_available())
except Exception:  # the CUDA package or module is not there
    HAVE_GPU = False

pytestmark = pytest.mark.skipif(not HAVE_GPU, reason="no CUDA device")

TOL = {"fp32": 1e-5, "tf32": 1e-3, "bf16": 1e-2}
PRECISIONS = list(TOL)


@pytest.fixture(params=PRECISIONS)
def precision(request):
    old = fastcnn.get_precision()
    fastcnn.set_precision(request.param)
    try:
        yield request.param
    finally:
        fastcnn.set_precision(old)


def dev(a):
    return None if a is None else fcuda.to_device(np.ascontiguousarray(a, np.float32))


def host(a):
    return None if a is None else a.numpy()


def check(got, want, prec, what):
    e = rel_err(got, want)
    assert e <= TOL[prec], f"{what}: relative error {e:.3g} > {TOL[prec]:g} at {prec}"


def rnd(shape, seed):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape).astype(np.float32)


# (x shape, w shape, stride, padding ((top, bottom), (left, right)), dilation, groups)
CONV_CASES = {
    "3x3": ((2, 3, 7, 9), (4, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    "s2_asym_groups": ((2, 4, 9, 8), (6, 2, 3, 3), (2, 2), ((1, 0), (2, 1)), (1, 1), 2),
    "s4_11x11": ((1, 3, 23, 23), (5, 3, 11, 11), (4, 4), ((0, 0), (0, 0)), (1, 1), 1),
    "dil2": ((2, 4, 10, 11), (4, 4, 3, 3), (1, 1), ((2, 2), (2, 2)), (2, 2), 1),
    "s2_dil2": ((1, 2, 11, 10), (3, 2, 3, 3), (2, 2), ((2, 1), (1, 2)), (2, 2), 1),
    "s3_dil2": ((1, 2, 13, 12), (2, 2, 3, 2), (3, 3), ((1, 1), (1, 1)), (2, 2), 1),
    "depthwise": ((2, 6, 8, 8), (6, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 6),
    "depthwise_x2": ((1, 6, 9, 7), (12, 1, 3, 3), (2, 1), ((1, 1), (0, 2)), (1, 1), 6),
    "1x1_s2": ((2, 8, 7, 7), (16, 8, 1, 1), (2, 2), ((0, 0), (0, 0)), (1, 1), 1),
    "conv1d_like": ((2, 3, 1, 17), (4, 3, 1, 5), (1, 2), ((0, 0), (2, 2)), (1, 3), 1),
    "kernel_eq_input": ((2, 2, 5, 5), (3, 2, 5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    "wide_groups": ((2, 66, 16, 16), (2145, 2, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 33),
    "tile_128x64": ((1, 2, 130, 130), (40, 2, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    "deep": ((1, 40, 6, 6), (40, 40, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    "odd_big": ((3, 17, 31, 29), (33, 17, 3, 5), (2, 3), ((1, 2), (0, 3)), (1, 1), 1),
}

# issue 4: (N, C, H, W, K, R, stride, pad), N and spatial size reduced
ISSUE4 = {
    "lenet_c1": (2, 1, 28, 28, 6, 5, 1, 2),
    "lenet_c2": (2, 6, 14, 14, 16, 5, 1, 0),
    "alexnet_c1": (1, 3, 55, 55, 96, 11, 4, 0),
    "vgg_c1_2": (1, 64, 56, 56, 64, 3, 1, 1),
    "vgg_c3_2": (1, 256, 28, 28, 256, 3, 1, 1),
    "resnet_3x3": (1, 64, 56, 56, 64, 3, 1, 1),
    "resnet_1x1": (1, 256, 56, 56, 64, 1, 1, 0),
    "resnet_s2": (1, 128, 28, 28, 256, 3, 2, 1),
}
for name, (N, C, H, W, K, R, s, p) in ISSUE4.items():
    CONV_CASES[name] = ((N, C, H, W), (K, C, R, R), (s, s), ((p, p), (p, p)), (1, 1), 1)


@functools.lru_cache(maxsize=None)
def conv_case(name):
    """Inputs and float64 reference results of a case (computed once for all precisions)."""
    x_shape, w_shape, stride, padding, dilation, groups = CONV_CASES[name]
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    x, w, b = rnd(x_shape, 1), rnd(w_shape, 2), rnd(w_shape[0], 3)
    y = ref_conv.conv2d(x, w, b, **kw)
    dy = rnd(y.shape, 4)
    return x, w, b, dy, kw, y, ref_conv.conv2d_backward(dy, x, w, b, **kw)


@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv2d(name, precision):
    x, w, b, dy, kw, y_want, (dx_want, dw_want, db_want) = conv_case(name)
    xd, wd, bd, dyd = dev(x), dev(w), dev(b), dev(dy)
    check(host(F.conv2d(xd, wd, bd, **kw)), y_want, precision, "forward")
    dx, dw, db = F.conv2d_backward(dyd, xd, wd, bd, **kw)
    check(host(dx), dx_want, precision, "dx")
    check(host(dw), dw_want, precision, "dw")
    check(host(db), db_want, precision, "db")


def test_conv2d_no_bias_no_dx():
    x, w, _, dy, kw, _, (_, dw_want, _) = conv_case("lenet_c2")
    dx, dw, db = F.conv2d_backward(dev(dy), dev(x), dev(w), None, need_dx=False, **kw)
    assert dx is None and db is None
    check(host(dw), dw_want, "fp32", "dw")
    y = F.conv2d(dev(x), dev(w), None, **kw)
    check(host(y), ref_conv.conv2d(x, w, None, **kw), "fp32", "forward without bias")


def test_conv1d():
    x, w, b = rnd((2, 4, 19), 1), rnd((6, 2, 3), 2), rnd(6, 3)
    kw = dict(stride=2, padding=(1, 2), dilation=2, groups=2)
    y = F.conv1d(dev(x), dev(w), dev(b), **kw)
    check(host(y), ref_conv.conv1d(x, w, b, **kw), "fp32", "conv1d")
    dy = rnd(y.shape, 4)
    got = F.conv1d_backward(dev(dy), dev(x), dev(w), dev(b), **kw)
    for g, want, what in zip(got, ref_conv.conv1d_backward(dy, x, w, b, **kw), ("dx", "dw", "db")):
        check(host(g), want, "fp32", what)


# (x shape, w shape (C, K/g, R, S), stride, padding, output_padding, groups, dilation)
TRANSPOSE_CASES = [
    ((2, 4, 5, 6), (4, 3, 3, 3), (2, 2), (1, 1), (1, 1), 1, (1, 1)),
    ((1, 4, 4, 5), (4, 2, 3, 2), (3, 2), (1, 0), (2, 1), 2, (2, 1)),
    ((2, 3, 3, 3), (3, 2, 4, 4), (2, 2), (0, 1), (0, 0), 1, (1, 1)),
    ((2, 16, 7, 7), (16, 8, 4, 4), (2, 2), (1, 1), (0, 0), 1, (1, 1)),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose2d(case, precision):
    x_shape, w_shape, stride, padding, output_padding, groups, dilation = case
    x, w, b = rnd(x_shape, 1), rnd(w_shape, 2), rnd(w_shape[1] * groups, 3)
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    y_want = ref_conv.conv_transpose2d(x, w, b, **kw)
    check(host(F.conv_transpose2d(dev(x), dev(w), dev(b), **kw)), y_want, precision, "forward")
    dy = rnd(y_want.shape, 4)
    got = F.conv_transpose2d_backward(dev(dy), dev(x), dev(w), dev(b), **kw)
    for g, want, what in zip(got, ref_conv.conv_transpose2d_backward(dy, x, w, b, **kw), ("dx", "dw", "db")):
        check(host(g), want, precision, what)


def test_empty_batch():
    x, w, b = np.zeros((0, 3, 8, 8), np.float32), rnd((4, 3, 3, 3), 2), rnd(4, 3)
    y = F.conv2d(dev(x), dev(w), dev(b), padding=1)
    assert y.shape == (0, 4, 8, 8)
    dx, dw, db = F.conv2d_backward(dev(np.zeros((0, 4, 8, 8), np.float32)), dev(x), dev(w), dev(b), padding=1)
    assert dx.shape == (0, 3, 8, 8)
    assert np.array_equal(host(dw), np.zeros_like(w)) and np.array_equal(host(db), np.zeros_like(b))
    dx, dw, db = F.linear_backward(dev(np.zeros((0, 5), np.float32)), dev(np.zeros((0, 7), np.float32)),
                                   dev(rnd((5, 7), 1)), dev(rnd(5, 2)))
    assert np.array_equal(host(dw), np.zeros((5, 7), np.float32)) and np.array_equal(host(db), np.zeros(5))


@pytest.mark.parametrize("prec", PRECISIONS)
def test_weight_gradient_deterministic(prec):
    """The split reduction adds its chunks in a fixed order: repeated runs are bit-identical."""
    x, w, b, dy, kw, _, _ = conv_case("lenet_c1")
    old = fastcnn.get_precision()
    fastcnn.set_precision(prec)
    try:
        runs = [tuple(host(a) for a in F.conv2d_backward(dev(dy), dev(x), dev(w), dev(b), **kw)) for _ in range(3)]
    finally:
        fastcnn.set_precision(old)
    for r in runs[1:]:
        for a, b_ in zip(runs[0], r):
            assert np.array_equal(a, b_)


@pytest.mark.parametrize("N,C,K", [(5, 7, 3), (128, 400, 120), (128, 84, 10), (300, 1, 2), (3, 200, 150),
                                   (1000, 64, 256)])
def test_linear(N, C, K, precision):
    x, w, b, dy = rnd((N, C), 1), rnd((K, C), 2), rnd(K, 3), rnd((N, K), 4)
    check(host(F.linear(dev(x), dev(w), dev(b))), ref_linear.linear(x, w, b), precision, "forward")
    got = F.linear_backward(dev(dy), dev(x), dev(w), dev(b))
    for g, want, what in zip(got, ref_linear.linear_backward(dy, x, w, b), ("dx", "dw", "db")):
        check(host(g), want, precision, what)
