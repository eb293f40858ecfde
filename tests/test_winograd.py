"""Winograd F(4x4, 3x3): the shapes that select it, against the float64 reference (1e-4, the speed
issue's bound for Winograd; the errors seen are 1e-6 to 4e-6), on every ISA, with 1 and 2 threads.
Forward and backward-data from 16 channels and filters; the weight gradient from 48 and 256 tiles."""

import numpy as np
import pytest

import fastcnn
import fastcnn.functional as F
import reference as ref
from fastcnn import _C
from reference import assert_close, run_on_isa, threads_1_and_2
from test_conv import _full_kw, _quad, check_conv2d_passes

TOL = 1e-4
PASSES = ("forward", "backward_data", "backward_weight")

# (x shape, w shape, conv2d keywords): every one runs forward and backward-data on Winograd; the
# weight gradient too where there are 48 channels and filters and 256 tiles.
CASES = [
    ((1, 16, 17, 15), (16, 16, 3, 3), dict(padding=1)),    # N=1, odd H and W: partial edge tiles
    ((2, 32, 13, 11), (20, 32, 3, 3), dict(padding=0)),    # K not a multiple of the 6-filter strip
    ((3, 17, 10, 10), (33, 17, 3, 3), dict(padding=2)),
    ((2, 24, 12, 9), (16, 24, 3, 3), dict(padding=((1, 2), (0, 1)))),  # asymmetric padding
    ((3, 16, 8, 9), (16, 16, 3, 3), dict(padding=3)),      # backward-data crops (padding 2 - 3)
    ((16, 16, 3, 3), (16, 16, 3, 3), {}),                  # a single output per image (16 tiles)
    ((4, 16, 5, 6), (24, 16, 3, 3), dict(padding=1)),      # W < 8: edge rows copied, not shifted
    ((9, 16, 30, 30), (16, 16, 3, 3), dict(padding=1)),    # many blocks of tiles per thread
    ((4, 48, 30, 31), (50, 48, 3, 3), dict(padding=1)),    # weight gradient: 256 tiles, 1 block
    ((17, 48, 30, 30), (48, 48, 3, 3), dict(padding=((2, 0), (1, 1)))),  # 1088 tiles: 2 blocks
]


def randn(*shape, seed=0, scale=1.0, offset=0.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + offset).astype(np.float32)


def y_shape(xs, ws, kw):
    return F.conv2d(np.zeros(xs, np.float32), np.zeros(ws, np.float32), **kw).shape


def check_case(xs, ws, kw, bias=True, scale=1.0, offset=0.0):
    x, w = randn(*xs, seed=1, scale=scale, offset=offset), randn(*ws, seed=2, scale=scale)
    b = randn(ws[0], seed=3, scale=scale) if bias else None
    args = _quad(x, w, _full_kw(kw))
    algos = [_C.conv2d_algorithm(x, w, *args, p) for p in PASSES]
    P, Q = y_shape(xs, ws, kw)[2:]
    tiles = xs[0] * -(-P // 4) * -(-Q // 4)
    assert algos[:2] == ["winograd", "winograd"], algos
    assert (algos[2] == "winograd") == (min(xs[1], ws[0]) >= 48 and tiles >= 256), algos
    dy = randn(*y_shape(xs, ws, kw), seed=4, scale=scale)
    check_conv2d_passes(x, w, b, kw, dy, TOL)


def check_all_cases():
    for xs, ws, kw in CASES:
        check_case(xs, ws, kw)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs, ws, kw", CASES)
def test_matches_reference(xs, ws, kw, bias):
    check_case(xs, ws, kw, bias)


@pytest.mark.parametrize("name, xs, ws", [
    ("resnet_3x3", (1, 64, 56, 56), (64, 64, 3, 3)),
    ("vgg_c3_2", (1, 256, 56, 56), (256, 256, 3, 3)),
    ("vgg_c1_2 cropped to 112x112", (1, 64, 112, 112), (64, 64, 3, 3)),  # 224x224: 50 s of reference
])
def test_benchmark_shapes(name, xs, ws):
    check_case(xs, ws, dict(padding=1))


@pytest.mark.parametrize("xs, ws, scale, offset", [
    ((2, 512, 12, 12), (32, 512, 3, 3), 1.0, 0.0),      # many channels
    ((2, 64, 20, 20), (64, 64, 3, 3), 1e4, 0.0),        # large magnitudes
    ((2, 64, 20, 20), (64, 64, 3, 3), 1.0, 100.0),      # inputs far from zero mean
])
def test_hard_data(xs, ws, scale, offset):
    check_case(xs, ws, dict(padding=1), scale=scale, offset=offset)


def test_conv_transpose_stride_1_uses_it():
    x, w, b = randn(2, 32, 10, 11, seed=5), randn(32, 16, 3, 3, seed=6), randn(16, seed=7)
    # conv_transpose2d's forward is the backward-data of the conv2d from 16 to 32 channels.
    args = _quad(np.empty((2, 16, 12, 13), np.float32), np.empty((32, 16, 3, 3), np.float32), _full_kw({}))
    assert _C.conv2d_algorithm(np.empty((2, 16, 12, 13), np.float32), np.empty((32, 16, 3, 3), np.float32),
                               *args, "backward_data") == "winograd"
    assert_close(F.conv_transpose2d(x, w, b), ref.conv_transpose2d(x, w, b), TOL, "y")


@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 15, 12, 12), (16, 15, 3, 3), dict(padding=1)),   # too few input channels: forward
    ((2, 16, 12, 12), (15, 16, 3, 3), dict(padding=1)),   # too few filters
    ((2, 16, 12, 12), (16, 16, 3, 3), dict(stride=2)),
    ((2, 16, 12, 12), (16, 16, 3, 3), dict(dilation=2)),
    ((2, 32, 12, 12), (32, 16, 3, 3), dict(groups=2)),
    ((2, 16, 12, 12), (16, 16, 5, 5), {}),
    ((2, 16, 12, 12), (16, 16, 3, 1), {}),
    ((1, 32, 7, 7), (32, 32, 3, 3), dict(padding=1)),     # 4 tiles
])
def test_not_chosen(xs, ws, kw):
    x, w = randn(*xs), randn(*ws)
    args = _quad(x, w, _full_kw(kw))
    for pass_ in PASSES:
        assert _C.conv2d_algorithm(x, w, *args, pass_) != "winograd"


def test_thread_count_invariant():
    # 1088 tiles: two blocks of the weight gradient's sum.
    x, w, b = randn(17, 48, 30, 30, seed=8), randn(48, 48, 3, 3, seed=9), randn(48, seed=10)
    dy = randn(17, 48, 30, 30, seed=11)

    def run():
        return (F.conv2d(x, w, b, padding=1),) + F.conv2d_backward(dy, x, w, b, padding=1)
    one, two = threads_1_and_2(run)
    for a, c in zip(one, two):
        assert np.array_equal(a, c)


@pytest.mark.parametrize("isa", [i for i in fastcnn.info()["built_isas"] if i in fastcnn.info()["cpu_isas"]])
def test_every_isa(isa):
    run_on_isa(isa, "test_winograd", "check_all_cases")
