"""Dilated stride-1 convs split into their undilated phase convs ("dilated-winograd", dilated.cpp):
the shapes that select it (the phase batch takes Winograd, the conv itself would take GEMM), against
the float64 reference (1e-4, Winograd's bound: the phases run on Winograd), on every ISA, with 1 and
2 threads; and the shapes that keep their old paths."""

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
DILATED = "dilated-winograd"

# (x shape, w shape, conv2d keywords, whether the weight gradient takes the phase path too: it
# needs 48 channels and filters and 256 Winograd tiles in the phase batch of N*dh*dw images).
CASES = [
    # 'same': P, Q = 17, 15, not multiples of 2; N = 1; phases 9x8 (the odd ones drop a row/column)
    ((1, 16, 17, 15), (16, 16, 3, 3), dict(padding="same", dilation=2), False),
    ((2, 32, 13, 11), (20, 32, 3, 3), dict(padding=0, dilation=3), False),         # P, Q = 7, 5
    ((2, 16, 12, 9), (16, 16, 3, 3), dict(padding=((1, 3), (0, 2)), dilation=(2, 1)), False),
    ((3, 17, 10, 11), (33, 17, 3, 3), dict(padding=2, dilation=(1, 3)), False),
    ((2, 16, 14, 13), (16, 16, 3, 3), dict(padding=((0, 5), (4, 1)), dilation=(3, 2)), False),
    # padding past the taps' reach: outputs that read only zeros, phase images that start lower
    ((2, 16, 11, 10), (24, 16, 3, 3), dict(padding=((7, 0), (1, 6)), dilation=2), False),
    ((4, 48, 30, 31), (50, 48, 3, 3), dict(padding=2, dilation=2), True),         # 256 phase tiles
    ((5, 48, 25, 23), (48, 48, 3, 3), dict(padding=((4, 1), (3, 5)), dilation=3), True),
    ((1, 64, 64, 62), (48, 64, 3, 3), dict(padding="same", dilation=2), True),    # N = 1
]


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def algorithms(x, w, kw):
    args = _quad(x, w, _full_kw(kw))
    return [_C.conv2d_algorithm(x, w, *args, p) for p in PASSES]


def check_case(xs, ws, kw, weight_too, bias=True):
    x, w = randn(*xs, seed=1), randn(*ws, seed=2)
    b = randn(ws[0], seed=3) if bias else None
    algos = algorithms(x, w, kw)
    assert algos[:2] == [DILATED, DILATED], algos
    assert (algos[2] == DILATED) == weight_too, algos
    dy = randn(*F.conv2d(x, w, b, **kw).shape, seed=4)
    check_conv2d_passes(x, w, b, kw, dy, TOL)


def check_all_cases():
    for case in CASES:
        check_case(*case)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs, ws, kw, weight_too", CASES)
def test_matches_reference(xs, ws, kw, weight_too, bias):
    check_case(xs, ws, kw, weight_too, bias)


def test_benchmark_shape():
    # benchmarks/bench_kernels.py's dilated_3x3, with a batch of 2 instead of 16 (the reference's time).
    check_case((2, 64, 56, 56), (64, 64, 3, 3), dict(padding=2, dilation=2), True)


def test_conv_transpose_uses_it():
    # conv_transpose2d's forward is the backward-data of the conv2d from 16 to 32 channels, and its
    # bias (16,) goes to every output, including the ones no input reaches.
    x, w, b = randn(2, 32, 10, 11, seed=5), randn(32, 16, 3, 3, seed=6), randn(16, seed=7)
    xc, wc = np.empty((2, 16, 14, 15), np.float32), np.empty((32, 16, 3, 3), np.float32)
    assert algorithms(xc, wc, dict(dilation=2))[1] == DILATED
    assert_close(F.conv_transpose2d(x, w, b, dilation=2), ref.conv_transpose2d(x, w, b, dilation=2),
                 TOL, "y")


def test_thread_count_invariant():
    xs, ws, kw, _ = CASES[6]
    x, w, b = randn(*xs, seed=8), randn(*ws, seed=9), randn(ws[0], seed=10)
    dy = randn(*F.conv2d(x, w, **kw).shape, seed=11)
    assert algorithms(x, w, kw) == [DILATED] * 3

    def run():
        return (F.conv2d(x, w, b, **kw),) + F.conv2d_backward(dy, x, w, b, **kw)
    one, two = threads_1_and_2(run)
    for a, c in zip(one, two):
        assert np.array_equal(a, c)


@pytest.mark.parametrize("xs, ws, kw", [
    ((1, 16, 8, 8), (16, 16, 3, 3), dict(dilation=2)),               # 4 phase tiles: too few
    ((2, 15, 20, 20), (16, 15, 3, 3), dict(dilation=2)),             # too few input channels
    ((2, 32, 20, 20), (32, 16, 3, 3), dict(dilation=2, groups=2)),   # groups keep their path
    ((2, 16, 20, 20), (16, 1, 3, 3), dict(dilation=2, groups=16)),   # depthwise
    ((2, 16, 20, 20), (16, 16, 3, 3), dict(dilation=2, stride=2)),
    ((2, 16, 20, 20), (16, 16, 5, 5), dict(dilation=2)),
    ((2, 16, 20, 20), (16, 16, 3, 3), {}),                            # undilated: plain Winograd
    ((8, 16, 24, 24), (16, 16, 3, 3), dict(padding=2, dilation=2)),  # the direct kernels take it
])
def test_not_chosen(xs, ws, kw):
    x, w = randn(*xs), randn(*ws)
    assert DILATED not in algorithms(x, w, kw)
    y = F.conv2d(x, w, **kw)
    assert_close(y, ref.conv2d(x, w, **kw), TOL, "y")


@pytest.mark.parametrize("isa", [i for i in fastcnn.info()["built_isas"] if i in fastcnn.info()["cpu_isas"]])
def test_every_isa(isa):
    run_on_isa(isa, "test_dilated", "check_all_cases")
