"""Winograd F(2x2, 5x5) over 8-sample lanes ("winograd-5x5"): the shapes that select it, against the
float64 reference (1e-4, the speed issue's bound for Winograd; the errors seen are 1e-7 to 1e-5),
on every ISA, with 1 and 2 threads. Forward and backward-data from 4 to 32 input channels and up to
64 filters (8 samples or more); the weight gradient with 32 channels and 8 lanes only (AVX2)."""

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
ALGO = "winograd-5x5"

# (x shape, w shape, conv2d keywords)
CASES = [
    ((16, 6, 14, 14), (16, 6, 5, 5), {}),                    # LeNet's conv2
    ((13, 6, 14, 14), (16, 6, 5, 5), {}),                    # lanes past the batch (13 = 8 + 5)
    ((9, 5, 11, 13), (7, 5, 5, 5), dict(padding=2)),         # C, K not multiples of 4; odd P, Q
    ((10, 4, 9, 12), (5, 4, 5, 5), dict(padding=((1, 2), (0, 3)))),  # asymmetric padding
    ((8, 4, 6, 6), (4, 4, 5, 5), dict(padding=2)),           # W < 8: rows packed element by element
    ((8, 4, 5, 5), (3, 4, 5, 5), {}),                        # a single output per image
    ((11, 32, 14, 14), (16, 32, 5, 5), {}),                  # weight gradient: 2 blocks, lanes past N
    ((80, 32, 8, 8), (12, 32, 5, 5), dict(padding=1)),       # 10 (or 5) blocks in 8 (5) chunks
    ((8, 32, 12, 12), (64, 32, 5, 5), dict(padding=2)),      # the largest channel and filter counts
    ((16, 16, 28, 28), (32, 16, 5, 5), dict(padding=2)),     # an Inception 5x5 branch
]


def randn(*shape, seed=0, scale=1.0, offset=0.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + offset).astype(np.float32)


def y_shape(xs, ws, kw):
    return F.conv2d(np.zeros(xs, np.float32), np.zeros(ws, np.float32), **kw).shape


def lanes():
    info = fastcnn.info()
    return 16 if info["isa"] == "avx512" else info["baseline_lanes"] if info["isa"] == "baseline" else 8


def check_case(xs, ws, kw, bias=True, scale=1.0, offset=0.0):
    x, w = randn(*xs, seed=1, scale=scale, offset=offset), randn(*ws, seed=2, scale=scale)
    b = randn(ws[0], seed=3, scale=scale) if bias else None
    args = _quad(x, w, _full_kw(kw))
    algos = [_C.conv2d_algorithm(x, w, *args, p) for p in PASSES]
    assert algos[:2] == [ALGO, ALGO], algos
    assert (algos[2] == ALGO) == (lanes() == 8 and xs[1] == 32), algos
    dy = randn(*y_shape(xs, ws, kw), seed=4, scale=scale)
    check_conv2d_passes(x, w, b, kw, dy, TOL)


def check_all_cases():
    for xs, ws, kw in CASES:
        check_case(xs, ws, kw)
    check_thread_count_invariant()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs, ws, kw", CASES)
def test_matches_reference(xs, ws, kw, bias):
    check_case(xs, ws, kw, bias)


@pytest.mark.parametrize("xs, ws, scale, offset", [
    ((16, 32, 14, 14), (32, 32, 5, 5), 1e4, 0.0),     # large magnitudes
    ((16, 16, 14, 14), (16, 16, 5, 5), 1.0, 100.0),   # inputs far from zero mean
])
def test_hard_data(xs, ws, scale, offset):
    check_case(xs, ws, dict(padding=2), scale=scale, offset=offset)


def test_conv_transpose_stride_1_uses_it():
    # conv_transpose2d's forward is the backward-data of the conv2d from 8 to 16 channels.
    x, w, b = randn(9, 16, 10, 11, seed=5), randn(16, 8, 5, 5, seed=6), randn(8, seed=7)
    xs, ws = np.empty((9, 8, 14, 15), np.float32), np.empty((16, 8, 5, 5), np.float32)
    assert _C.conv2d_algorithm(xs, ws, *_quad(xs, ws, _full_kw({})), "backward_data") == ALGO
    assert_close(F.conv_transpose2d(x, w, b), ref.conv_transpose2d(x, w, b), TOL, "y")


@pytest.mark.parametrize("xs, ws, kw", [
    ((8, 3, 12, 12), (16, 3, 5, 5), {}),                  # too few input channels
    ((8, 1, 28, 28), (6, 1, 5, 5), dict(padding=2)),      # LeNet's conv1: its lane kernel
    ((8, 33, 12, 12), (16, 33, 5, 5), {}),                # too many input channels
    ((8, 8, 12, 12), (65, 8, 5, 5), {}),                  # too many filters
    ((7, 8, 12, 12), (16, 8, 5, 5), {}),                  # fewer samples than lanes
    ((8, 8, 12, 12), (16, 8, 5, 5), dict(stride=2)),
    ((8, 8, 16, 16), (16, 8, 5, 5), dict(dilation=2)),
    ((8, 8, 12, 12), (16, 4, 5, 5), dict(groups=2)),
    ((8, 8, 12, 12), (16, 8, 3, 3), {}),
    ((8, 8, 12, 12), (16, 8, 5, 3), {}),
])
def test_not_chosen(xs, ws, kw):
    x, w = randn(*xs), randn(*ws)
    args = _quad(x, w, _full_kw(kw))
    for pass_ in PASSES:
        assert _C.conv2d_algorithm(x, w, *args, pass_) != ALGO


def test_weight_gradient_choice():
    for c in (7, 16, 31, 32):
        x, w = randn(8, c, 12, 12), randn(16, c, 5, 5)
        algos = [_C.conv2d_algorithm(x, w, *_quad(x, w, _full_kw({})), p) for p in PASSES]
        assert algos[:2] == [ALGO, ALGO] and (algos[2] == ALGO) == (c == 32 and lanes() == 8), algos


def check_thread_count_invariant():
    # 3 blocks of 8 samples or 2 of 16 (the last partial), weight-gradient chunks of one block each
    x, w, b = randn(21, 32, 14, 14, seed=8), randn(16, 32, 5, 5, seed=9), randn(16, seed=10)
    dy = randn(21, 16, 14, 14, seed=11)

    def run():
        return (F.conv2d(x, w, b, padding=2),) + F.conv2d_backward(dy, x, w, b, padding=2)
    one, two = threads_1_and_2(run)
    for a, c in zip(one, two):
        assert np.array_equal(a, c)


def test_thread_count_invariant():
    check_thread_count_invariant()


@pytest.mark.parametrize("isa", [i for i in fastcnn.info()["built_isas"] if i in fastcnn.info()["cpu_isas"]])
def test_every_isa(isa):
    run_on_isa(isa, "test_winograd5", "check_all_cases")
