"""Depthwise convolution (groups == C > 1, one input channel per filter, multiplier K/C >= 1): the
shapes that select it in every pass, against the float64 reference, on every ISA, with 1 and 2
threads, and N=0; conv_transpose2d with groups == its output channels goes through it too."""

import numpy as np
import pytest

import fastcnn
import fastcnn.functional as F
import reference as ref
from fastcnn import _C
from reference import assert_close, run_on_isa, threads_1_and_2
from test_conv import _full_kw, _quad

PASSES = ("forward", "backward_data", "backward_weight")

# (x shape, w shape, conv2d keywords); groups is C in every case.
CASES = [
    ((2, 8, 12, 13), (8, 1, 3, 3), dict(padding=1, groups=8)),
    ((1, 3, 9, 7), (3, 1, 5, 5), dict(padding=2, groups=3)),                 # N=1, odd sizes, 5x5
    ((3, 4, 15, 17), (4, 1, 3, 3), dict(stride=2, padding=1, groups=4)),     # stride 2
    ((2, 5, 14, 11), (5, 1, 3, 3), dict(dilation=2, padding=2, groups=5)),   # dilation 2
    ((2, 6, 10, 19), (6, 1, 3, 5), dict(padding=((1, 0), (2, 3)), groups=6)),  # asymmetric padding
    ((2, 4, 11, 23), (12, 1, 3, 3), dict(padding=1, groups=4)),              # multiplier 3
    ((2, 3, 16, 20), (6, 1, 2, 4), dict(stride=(3, 2), dilation=(1, 3), groups=3)),
    ((2, 4, 6, 6), (4, 1, 3, 3), dict(padding=3, groups=4)),                 # padding > kernel span
    ((1, 2, 5, 40), (2, 1, 1, 7), dict(stride=(1, 3), padding=(0, 3), groups=2)),  # conv1d-like
    ((8, 16, 14, 14), (16, 1, 3, 3), dict(padding=1, groups=16)),            # forward: "wide"
    ((8, 16, 14, 14), (16, 1, 3, 3), dict(stride=2, padding=1, groups=16)),  # forward: depthwise
]


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def check_case(xs, ws, kw, bias=True):
    x, w = randn(*xs, seed=1), randn(*ws, seed=2)
    b = randn(ws[0], seed=3) if bias else None
    args = _quad(x, w, _full_kw(kw))
    algos = [_C.conv2d_algorithm(x, w, *args, p) for p in PASSES]
    # a forward that the direct "wide"/"filters" kernels take (stride 1, batch >= 8) stays there
    assert algos[1:] == ["depthwise"] * 2 and algos[0] in ("depthwise", "wide", "filters"), algos
    y = F.conv2d(x, w, b, **kw)
    assert_close(y, ref.conv2d(x, w, b, **kw), 1e-5, "y")
    dy = randn(*y.shape, seed=4)
    dx, dw, db = F.conv2d_backward(dy, x, w, b, **kw)
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(dy, x, w, b, **kw)
    assert_close(dx, dx_ref, 1e-5, "dx")
    assert_close(dw, dw_ref, 1e-5, "dw")
    if bias:
        assert_close(db, db_ref, 1e-5, "db")
    else:
        assert db is None


def check_all_cases():
    for case in CASES:
        check_case(*case)


@pytest.mark.parametrize("xs, ws, kw", CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_matches_reference(xs, ws, kw, bias):
    check_case(xs, ws, kw, bias)


@pytest.mark.parametrize("isa", fastcnn.info()["built_isas"])
def test_every_isa(isa):
    run_on_isa(isa, "test_depthwise", "check_all_cases")


def test_not_selected_for_one_group_or_partial_groups():
    for xs, ws, kw in [((8, 1, 28, 28), (6, 1, 5, 5), dict(padding=2)),      # C = 1, groups = 1
                       ((8, 4, 9, 9), (8, 2, 3, 3), dict(groups=2))]:        # 2 channels per group
        x, w = np.empty(xs, np.float32), np.empty(ws, np.float32)
        args = _quad(x, w, _full_kw(kw))
        assert all(_C.conv2d_algorithm(x, w, *args, p) != "depthwise" for p in PASSES)


def test_thread_invariance():
    # 16 samples: 8 weight-gradient chunks of 2; enough planes that both threads work.
    x, w, b = randn(16, 32, 20, 21, seed=5), randn(64, 1, 3, 3, seed=6), randn(64, seed=7)
    kw = dict(stride=(1, 2), padding=1, groups=32)
    dy = randn(*F.conv2d(x, w, **kw).shape, seed=8)
    one, two = threads_1_and_2(lambda: (F.conv2d(x, w, b, **kw), *F.conv2d_backward(dy, x, w, b, **kw)))
    for a, c in zip(one, two):
        assert np.array_equal(a, c)


def test_bench_shape_selects_depthwise():
    x, w = np.empty((16, 128, 56, 56), np.float32), np.empty((128, 1, 3, 3), np.float32)
    args = _quad(x, w, _full_kw(dict(padding=1, groups=128)))
    assert [_C.conv2d_algorithm(x, w, *args, p) for p in PASSES] == ["wide", "depthwise", "depthwise"]


def test_empty_plane():
    # H = 0 with padding: one output row per sample, and an empty dx.
    x, w = np.zeros((2, 3, 0, 5), np.float32), randn(3, 1, 2, 2, seed=13)
    kw = dict(padding=1, groups=3)
    y = F.conv2d(x, w, **kw)
    assert_close(y, ref.conv2d(x, w, **kw), 1e-5, "y")
    dx, dw, _ = F.conv2d_backward(randn(*y.shape, seed=14), x, w, **kw)
    assert dx.shape == x.shape and np.array_equal(dw, np.zeros_like(w))


def test_empty_batch():
    x, w, b = np.zeros((0, 4, 7, 7), np.float32), randn(4, 1, 3, 3), randn(4)
    y = F.conv2d(x, w, b, padding=1, groups=4)
    assert y.shape == (0, 4, 7, 7)
    dx, dw, db = F.conv2d_backward(np.zeros_like(y), x, w, b, padding=1, groups=4)
    assert dx.shape == x.shape and np.array_equal(dw, np.zeros_like(w))
    assert np.array_equal(db, np.zeros_like(b))


def test_conv_transpose2d_depthwise():
    x, w, b = randn(2, 6, 7, 8, seed=9), randn(6, 1, 3, 3, seed=10), randn(6, seed=11)
    kw = dict(stride=2, padding=1, output_padding=1, groups=6)
    y = F.conv_transpose2d(x, w, b, **kw)
    assert_close(y, ref.conv_transpose2d(x, w, b, **kw), 1e-5, "y")
    dy = randn(*y.shape, seed=12)
    for got, want, name in zip(F.conv_transpose2d_backward(dy, x, w, b, **kw),
                               ref.conv_transpose2d_backward(dy, x, w, b, **kw), ("dx", "dw", "db")):
        assert_close(got, want, 1e-5, name)
