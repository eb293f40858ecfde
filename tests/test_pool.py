import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import fastcnn
import fastcnn.functional as F
import reference.pool as R
from reference import assert_close, numeric_grad, run_on_isa, with_threads


def distinct(shape, seed=0):
    """Values with no ties (max-pool gradients are then well defined), spaced >= 0.01 apart."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.01 - n * 0.005).astype(np.float32)


def pad_strategy(k):
    """Explicit padding up to kernel/2 per side (symmetric, or asymmetric pairs), or a mode."""
    return st.one_of(
        st.sampled_from(["valid", "same"]),
        st.tuples(st.integers(0, k[0] // 2), st.integers(0, k[1] // 2)),
        st.tuples(st.tuples(st.integers(0, k[0] // 2), st.integers(0, k[0] // 2)),
                  st.tuples(st.integers(0, k[1] // 2), st.integers(0, k[1] // 2))),
    )


@st.composite
def pool2d_cases(draw):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    return shape, k, s, draw(pad_strategy(k)), draw(st.booleans()), draw(st.booleans())


def output_shape(shape, k, s, padding, ceil_mode):
    s = k if s is None else s
    pads = R.pool_pads(padding, shape[2:], k, s)
    return tuple(R.pool_output_size(n, kk, ss, a, b, ceil_mode) for n, kk, ss, (a, b) in zip(shape[2:], k, s, pads))


@given(pool2d_cases())
def test_pool2d_matches_reference(case):
    shape, k, s, padding, ceil_mode, cip = case
    assume(min(output_shape(shape, k, s, padding, ceil_mode)) >= 1)
    x = distinct(shape, seed=sum(shape))
    y = F.max_pool2d(x, k, s, padding, ceil_mode)
    want = R.max_pool2d(x, k, s, padding, ceil_mode)
    np.testing.assert_array_equal(y, want)  # max is exact
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    # Window sums can cancel (x's values average to ~0 in a window: (1,1,4,3), 4x2 'valid' gives
    # 2e-10 in float64 and 0 in float32), so each check is relative to the same op on |x| or |dy|.
    ady = np.abs(dy)
    assert_close(F.max_pool2d_backward(dy, x, k, s, padding, ceil_mode)[0],
                 R.max_pool2d_backward(dy, x, k, s, padding, ceil_mode)[0], what="max dx",
                 scale=R.max_pool2d_backward(ady, x, k, s, padding, ceil_mode)[0])
    y = F.avg_pool2d(x, k, s, padding, ceil_mode, cip)
    assert_close(y, R.avg_pool2d(x, k, s, padding, ceil_mode, cip), what="avg y",
                 scale=R.avg_pool2d(np.abs(x), k, s, padding, ceil_mode, cip))
    assert_close(F.avg_pool2d_backward(dy, x, k, s, padding, ceil_mode, cip)[0],
                 R.avg_pool2d_backward(dy, x, k, s, padding, ceil_mode, cip)[0], what="avg dx",
                 scale=R.avg_pool2d_backward(ady, x, k, s, padding, ceil_mode, cip)[0])


def test_avg_pool2d_window_that_cancels():
    """The hypothesis example whose window average is 0 in float32 and 2e-10 in float64: held to
    float32 rounding of the window's |x| sum, not to the tiny result."""
    x = distinct((1, 1, 4, 3), seed=9)  # the seed test_pool2d_matches_reference uses: sum(shape)
    want = R.avg_pool2d(x, (4, 2), None, "valid", False, False)
    assert abs(want.item()) < 1e-9
    got = F.avg_pool2d(x, (4, 2), None, "valid", False, False)
    assert abs(got.item() - want.item()) <= 1e-7 * R.avg_pool2d(np.abs(x), (4, 2)).item()


@given(L=st.integers(1, 12), k=st.integers(1, 5), s=st.one_of(st.none(), st.integers(1, 3)),
       pad=st.one_of(st.sampled_from(["valid", "same"]), st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))),
       ceil_mode=st.booleans(), cip=st.booleans())
def test_pool1d_matches_reference(L, k, s, pad, ceil_mode, cip):
    pairs = R.pool_pads(pad, (L,), (k,), (k if s is None else s,))
    assume(max(pairs[0]) <= k // 2)
    assume(output_shape((2, 3, L), (k,), None if s is None else (s,), pad, ceil_mode)[0] >= 1)
    x = distinct((2, 3, L), seed=L)
    y = F.max_pool1d(x, k, s, pad, ceil_mode)
    np.testing.assert_array_equal(y, R.max_pool1d(x, k, s, pad, ceil_mode))
    dy = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
    ady = np.abs(dy)  # window sums can cancel: relative to the same op on |x| or |dy|
    assert_close(F.max_pool1d_backward(dy, x, k, s, pad, ceil_mode)[0], R.max_pool1d_backward(dy, x, k, s, pad, ceil_mode)[0],
                 scale=R.max_pool1d_backward(ady, x, k, s, pad, ceil_mode)[0])
    assert_close(F.avg_pool1d(x, k, s, pad, ceil_mode, cip), R.avg_pool1d(x, k, s, pad, ceil_mode, cip),
                 scale=R.avg_pool1d(np.abs(x), k, s, pad, ceil_mode, cip))
    assert_close(F.avg_pool1d_backward(dy, x, k, s, pad, ceil_mode, cip)[0],
                 R.avg_pool1d_backward(dy, x, k, s, pad, ceil_mode, cip)[0],
                 scale=R.avg_pool1d_backward(ady, x, k, s, pad, ceil_mode, cip)[0])


@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 9), st.integers(1, 9)))
@settings(max_examples=15)
def test_global_avg_pool2d_matches_reference(shape):
    x = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    y = F.global_avg_pool2d(x)
    assert y.shape == shape[:2]
    assert_close(y, R.global_avg_pool2d(x))
    dy = np.random.default_rng(3).standard_normal(y.shape).astype(np.float32)
    assert_close(F.global_avg_pool2d_backward(dy, x)[0], R.global_avg_pool2d_backward(dy, x)[0])


def test_large_global_avg_pool_is_accurate():
    x = (np.random.default_rng(0).standard_normal((2, 3, 300, 300)) + 100).astype(np.float32)
    assert_close(F.global_avg_pool2d(x), R.global_avg_pool2d(x), 1e-6)


@pytest.mark.parametrize("args", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 1), padding="same"),
])
def test_reference_gradients_by_finite_differences(args):
    x = distinct((1, 2, 5, 4), seed=3).astype(np.float64)
    rng = np.random.default_rng(4)
    y = R.max_pool2d(x, **args)
    dy = rng.standard_normal(y.shape)
    num = numeric_grad(lambda t: R.max_pool2d(t, **args), x.copy(), dy)
    assert_close(R.max_pool2d_backward(dy, x, **args)[0], num, 1e-6)
    for cip in (True, False):
        num = numeric_grad(lambda t: R.avg_pool2d(t, **args, count_include_pad=cip), x.copy(), dy)
        assert_close(R.avg_pool2d_backward(dy, x, **args, count_include_pad=cip)[0], num, 1e-6)
    x1 = x[:, :, 0, :]
    y1 = R.avg_pool1d(x1, 3, 2, 1, True, False)
    dy1 = rng.standard_normal(y1.shape)
    num = numeric_grad(lambda t: R.avg_pool1d(t, 3, 2, 1, True, False), x1.copy(), dy1)
    assert_close(R.avg_pool1d_backward(dy1, x1, 3, 2, 1, True, False)[0], num, 1e-6)
    y1 = R.max_pool1d(x1, 2, 1)
    dy1 = rng.standard_normal(y1.shape)
    num = numeric_grad(lambda t: R.max_pool1d(t, 2, 1), x1.copy(), dy1)
    assert_close(R.max_pool1d_backward(dy1, x1, 2, 1)[0], num, 1e-6)
    dyg = rng.standard_normal(x.shape[:2])
    num = numeric_grad(R.global_avg_pool2d, x.copy(), dyg)
    assert_close(R.global_avg_pool2d_backward(dyg, x)[0], num, 1e-6)


@pytest.mark.parametrize("size, k, s, pad, ceil_mode, want", [
    (5, 2, 2, 0, False, 2), (5, 2, 2, 0, True, 3), (3, 2, 2, 1, True, 2), (7, 3, 2, 1, True, 4),
    (6, 3, 2, 1, False, 3), (4, 2, 2, 1, True, 3), (6, 1, 4, 0, True, 2),
])
def test_output_size_follows_pytorch(size, k, s, pad, ceil_mode, want):
    x = np.zeros((1, 1, size, size), np.float32)
    assert F.max_pool2d(x, k, s, pad, ceil_mode).shape == (1, 1, want, want)
    assert F.avg_pool1d(x[:, :, 0], k, s, pad, ceil_mode).shape == (1, 1, want)


def test_avg_divisors_follow_pytorch():
    # PyTorch: avg_pool2d(ones(1,1,3,3), 2, 2, padding=1, ceil_mode=True) is 1/4 in the corner windows
    # with count_include_pad (the window clipped to the padded input), 1 without.
    x = np.ones((1, 1, 3, 3), np.float32)
    np.testing.assert_allclose(F.avg_pool2d(x, 2, 2, 1, True, True)[0, 0], [[0.25, 0.5], [0.5, 1.0]])
    np.testing.assert_allclose(F.avg_pool2d(x, 2, 2, 1, True, False)[0, 0], np.ones((2, 2)))
    # ceil mode: the last window [3, 6) sticks out past the right padding (index 4); only the part
    # inside the padded input counts, so its divisor is 2 with a single input element.
    np.testing.assert_allclose(F.avg_pool1d(np.ones((1, 1, 4), np.float32), 3, 2, 1, True, True)[0, 0],
                               [2 / 3, 1.0, 0.5])


def test_max_pool_pads_with_minus_inf_and_propagates_nan():
    x = -np.ones((1, 1, 4, 4), np.float32) - np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    y = F.max_pool2d(x, 3, 2, 1)
    assert (y < 0).all()  # padding never wins
    np.testing.assert_array_equal(y, R.max_pool2d(x, 3, 2, 1))
    x[0, 0, 0, 0] = np.nan
    y = F.max_pool2d(x, 2)
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, 1:, :]).any() and not np.isnan(y[0, 0, :, 1:]).any()
    assert np.isnan(F.avg_pool2d(x, 2)[0, 0, 0, 0])
    dx = F.max_pool2d_backward(np.ones_like(y), x, 2)[0]
    assert dx[0, 0, 0, 0] == 1 and dx[0, 0, :2, :2].sum() == 1  # the NaN is the window's max


def test_max_pool_ties_pick_the_first_and_overlaps_add():
    x = np.zeros((1, 1, 3, 3), np.float32)
    dx = F.max_pool2d_backward(np.ones((1, 1, 2, 2), np.float32), x, 2, 1)[0]
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


# Shapes that select the row fast paths of the kernels (window width / stride in {2/2, 3/3, 3/2, 2/1,
# 3/1}; square windows in one pass, other heights row by row; kernel == stride with no leading
# padding writes dx directly), with borders, padding and ceil_mode mixed in, and rows longer than
# one block of 256 outputs.
FAST_CASES = [
    ((2, 3, 28, 28), 2, None, 0, False),
    ((3, 4, 10, 10), 2, None, 0, False),             # 2x2 tiling, rows of 5 < 8 (LeNet's 2nd pool)
    ((2, 3, 2, 14), 2, None, 0, False),              # rows of 7: one window short of a vector
    ((2, 3, 27, 29), 2, None, 0, False),             # odd sizes: last row / column in no window
    ((2, 3, 27, 29), 2, None, 0, True),              # ceil_mode: clipped last windows
    ((1, 2, 9, 1100), 2, 2, 0, False),               # 550 outputs a row: several blocks
    ((2, 3, 30, 31), 3, None, 0, False),
    ((2, 3, 31, 32), 3, 3, "same", False),           # trailing padding only
    ((2, 3, 27, 27), 3, 2, 0, False),                # AlexNet-style overlapping
    ((2, 3, 28, 29), 3, 2, 1, True),                 # padded borders around the interior
    ((1, 2, 7, 600), 3, 2, 1, False),
    ((2, 3, 14, 15), 3, 1, 1, False),                # GoogLeNet pool branch
    ((2, 3, 14, 15), 2, 1, 0, False),
    ((2, 3, 17, 18), (4, 2), (4, 2), 0, True),       # kernel == stride, rows accumulated one by one
    ((2, 3, 17, 18), (2, 3), (1, 2), (1, 1), False),
    ((2, 3, 17, 18), (3, 2), (2, 2), ((0, 1), (1, 0)), True),
]


def special_values(shape, seed):
    """Ties (small integers), signed zeros and -inf; NaN at most once per 2x2 block (so that the
    reference's first-NaN and the kernels' last-NaN argmax agree for the windows here)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(np.float32)
    x[rng.random(shape) < 0.1] = -np.inf
    x[(x == 0) & (rng.random(shape) < 0.5)] = -0.0
    x[:, :, ::5, 1::7] = np.nan
    return x


def avg_scan_order(x, k, s, padding, ceil_mode, cip):
    """avg_pool2d in float32, summing each window from 0 in row-major order, then dividing by the
    divisor: the kernels' arithmetic, which the fast paths must reproduce bit for bit."""
    k = (k, k) if isinstance(k, int) else k
    s = k if s is None else ((s, s) if isinstance(s, int) else s)
    (pt, pb), (pl, pr) = R.pool_pads(padding, x.shape[2:], k, s)
    H, W = x.shape[2:]
    P, Q = output_shape(x.shape, k, s, padding, ceil_mode)
    y = np.zeros(x.shape[:2] + (P, Q), np.float32)
    for oh in range(P):
        hs = oh * s[0] - pt
        for ow in range(Q):
            ws = ow * s[1] - pl
            rows, cols = range(max(hs, 0), min(hs + k[0], H)), range(max(ws, 0), min(ws + k[1], W))
            acc = np.zeros(x.shape[:2], np.float32)
            for ih in rows:
                for iw in cols:
                    acc = acc + x[:, :, ih, iw]
            if cip:
                div = (min(hs + k[0], H + pb) - hs) * (min(ws + k[1], W + pr) - ws)
            else:
                div = len(rows) * len(cols)
            y[:, :, oh, ow] = acc / np.float32(div)
    return y


@pytest.mark.parametrize("shape, k, s, pad, ceil_mode", FAST_CASES)
def test_fast_paths_match_reference(shape, k, s, pad, ceil_mode):
    for x in (distinct(shape, seed=sum(shape)), special_values(shape, seed=len(shape))):
        y = F.max_pool2d(x, k, s, pad, ceil_mode)
        np.testing.assert_array_equal(y, R.max_pool2d(x, k, s, pad, ceil_mode))
        dy = np.random.default_rng(5).standard_normal(y.shape).astype(np.float32)
        dx = F.max_pool2d_backward(dy, x, k, s, pad, ceil_mode)[0]
        assert_close(dx, R.max_pool2d_backward(dy, x, k, s, pad, ceil_mode)[0], what="max dx")
        for cip in (True, False):
            ya = F.avg_pool2d(x, k, s, pad, ceil_mode, cip)
            np.testing.assert_array_equal(ya, avg_scan_order(x, k, s, pad, ceil_mode, cip))
            if np.isfinite(x).all():
                assert_close(ya, R.avg_pool2d(x, k, s, pad, ceil_mode, cip), what="avg y")
                assert_close(F.avg_pool2d_backward(dy, x, k, s, pad, ceil_mode, cip)[0],
                             R.avg_pool2d_backward(dy, x, k, s, pad, ceil_mode, cip)[0], what="avg dx")


def test_fast_paths_keep_tie_nan_and_zero_rules():
    # ties: the first maximum in row-major order gets the gradient; -0 before +0 stays -0
    x = np.array([[[[1, 3, -0.0, 0], [3, 2, 0, -0.0]]]], np.float32)
    x = np.tile(x, (1, 1, 1, 40))  # 80 columns: 40 outputs, through the vector loop
    y = F.max_pool2d(x, 2)
    np.testing.assert_array_equal(y[0, 0, 0, :2], [3, 0])
    assert np.signbit(y[0, 0, 0, 1])
    dx = F.max_pool2d_backward(np.ones_like(y), x, 2)[0]
    np.testing.assert_array_equal(dx[0, 0, :, :4], [[0, 1, 1, 0], [0, 0, 0, 0]])
    # NaN wins wherever it is in the window; -inf windows give -inf with the gradient at the first
    x = np.full((1, 1, 3, 60), -np.inf, np.float32)
    x[0, 0, 1, 4] = np.nan
    for k, s in ((2, 2), (3, 3), (3, 2), (3, 1)):
        y = F.max_pool2d(x, k, s)
        np.testing.assert_array_equal(y, R.max_pool2d(x, k, s))
        dx = F.max_pool2d_backward(np.ones_like(y), x, k, s)[0]
        np.testing.assert_array_equal(dx, R.max_pool2d_backward(np.ones_like(y), x, k, s)[0])


def scan_2x2(dy, x):
    """y and dx of the 2x2 stride-2 max pool in float32 by window_argmax's rule: the scan a, b, c, d
    (row-major) takes v when v > max or v is NaN, so the first maximum wins ties and the last NaN
    wins over everything; dx is 0 + dy at the winner (as the scatter into zeros: -0 becomes +0),
    0 elsewhere."""
    parts = [x[:, :, r::2, c::2] for r in (0, 1) for c in (0, 1)]
    m, at = parts[0].copy(), np.zeros(parts[0].shape, np.int64)
    for j, v in enumerate(parts[1:], 1):
        take = (v > m) | np.isnan(v)
        m, at = np.where(take, v, m), np.where(take, j, at)
    dx = np.zeros_like(x)
    g = np.float32(0) + dy
    for j, (r, c) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        dx[:, :, r::2, c::2] = np.where(at == j, g, np.float32(0))
    return m, dx


def check_2x2_tiling_bits():
    """The 2x2 stride-2 tiling kernels (LeNet's pools: rows of 14 and of 5 windows) on every row
    length they tell apart: Q < 4 window by window, 4..7 as one vector of two overlapping halves,
    >= 8 by vectors with an overlapping last one; x with ties, signed zeros, +-inf and NaN several
    times per window, dy with -0, NaN and -inf. y and dx must have the bits of scan_2x2, with 1 and
    2 threads, and dx must be written everywhere (the buffer starts as garbage)."""
    rng = np.random.default_rng(11)
    for Q in (*range(1, 20), 28, 33):
        for P in (1, 2, 5, 7):
            shape = (2, 3, 2 * P, 2 * Q)
            x = rng.integers(-2, 3, shape).astype(np.float32)
            x[rng.random(shape) < 0.15] = -np.inf
            x[rng.random(shape) < 0.15] = np.inf
            x[rng.random(shape) < 0.2] = np.nan
            x[(x == 0) & (rng.random(shape) < 0.5)] = -0.0
            dy = rng.standard_normal((2, 3, P, Q)).astype(np.float32)
            dy[rng.random(dy.shape) < 0.2] = -0.0
            dy[rng.random(dy.shape) < 0.1] = np.nan
            dy[rng.random(dy.shape) < 0.1] = -np.inf
            want_y, want_dx = scan_2x2(dy, x)
            for threads in (1, 2):
                dx = np.full_like(x, 7.0)
                y = with_threads(threads, lambda: F.max_pool2d(x, 2))
                with_threads(threads, lambda: F.max_pool2d_backward(dy, x, 2, out=(dx,)))
                what = f"P={P} Q={Q} threads={threads}"
                np.testing.assert_array_equal(y.view(np.uint32), want_y.view(np.uint32), err_msg="y " + what)
                np.testing.assert_array_equal(dx.view(np.uint32), want_dx.view(np.uint32), err_msg="dx " + what)


def test_2x2_tiling_keeps_the_bits():
    check_2x2_tiling_bits()


@pytest.mark.parametrize("isa", ["baseline", "avx2", "avx512"])
def test_2x2_tiling_keeps_the_bits_on_isa(isa):
    run_on_isa(isa, "test_pool", "check_2x2_tiling_bits")


def test_max_pool_backward_writes_every_element():
    # kernel == stride writes dx without zero-filling first: elements outside every window
    # (the odd last row / column) must still come out 0, not whatever the buffer held
    x = distinct((3, 4, 9, 11), seed=9)
    for _ in range(3):
        dx = F.max_pool2d_backward(np.ones((3, 4, 4, 5), np.float32), x, 2)[0]
        assert (dx[:, :, 8, :] == 0).all() and (dx[:, :, :, 10] == 0).all()
        assert dx.sum() == 3 * 4 * 4 * 5
        dxa = F.avg_pool2d_backward(np.ones((3, 4, 3, 3), np.float32), x, 3)[0]
        assert (dxa[:, :, :, 9:] == 0).all() and (dxa[:, :, :9, :9] == np.float32(1 / 9)).all()


def test_threads_give_identical_results():
    x = distinct((4, 16, 64, 64), seed=5)  # 262144 elements
    cases = [(3, 2, 1, True), (2, None, 0, False), (3, 2, 0, False), (3, 3, 0, True), (3, 1, 1, False)]
    results = []
    old = fastcnn.get_num_threads()
    try:
        for threads in (1, 2):
            fastcnn.set_num_threads(threads)
            out = []
            for k, s, p, c in cases:
                y = F.max_pool2d(x, k, s, p, c)
                dy = np.cos(np.arange(y.size, dtype=np.float32)).reshape(y.shape)
                out += [y, F.max_pool2d_backward(dy, x, k, s, p, c)[0],
                        F.avg_pool2d(x, k, s, p, c, False), F.avg_pool2d_backward(dy, x, k, s, p, c, False)[0]]
            out += [F.global_avg_pool2d(x), F.global_avg_pool2d_backward(x[:, :, 0, 0], x)[0]]
            xl = x.reshape(4, 16, -1)
            out += [F.max_pool1d(xl, 5, 3, 2), F.avg_pool1d_backward(F.avg_pool1d(xl, 4), xl, 4)[0]]
            results.append(out)
    finally:
        fastcnn.set_num_threads(old)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_empty_batch():
    x = np.zeros((0, 3, 8, 8), np.float32)
    y = F.max_pool2d(x, 2)
    assert y.shape == (0, 3, 4, 4)
    assert F.max_pool2d_backward(y, x, 2)[0].shape == x.shape
    assert F.avg_pool2d_backward(F.avg_pool2d(x, 3, 1, 1), x, 3, 1, 1)[0].shape == x.shape
    assert F.global_avg_pool2d(x).shape == (0, 3)
    assert F.global_avg_pool2d_backward(np.zeros((0, 3)), x)[0].shape == x.shape
    assert F.max_pool1d(x[:, :, 0], 2).shape == (0, 3, 4)


def test_non_contiguous_and_float64_input():
    base = distinct((2, 3, 10, 12), seed=7).astype(np.float64)
    x = base[:, :, ::2, 1::2]  # float64, strided
    assert not x.flags.c_contiguous
    y = F.max_pool2d(x, 2, 1)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, R.max_pool2d(x.astype(np.float32), 2, 1))
    assert_close(F.avg_pool2d(x, 3, 2, 1), R.avg_pool2d(x, 3, 2, 1))
    dy = np.ones((2, 3, 4, 5))[:, :, ::1, ::1]
    assert_close(F.max_pool2d_backward(dy, x, 2, 1)[0], R.max_pool2d_backward(dy, x.astype(np.float32), 2, 1)[0])
    assert_close(F.global_avg_pool2d(x.transpose(0, 1, 3, 2)), R.global_avg_pool2d(x))


@pytest.mark.parametrize("call, exc, name", [
    (lambda x: F.max_pool2d(x[0], 2), ValueError, "x"),
    (lambda x: F.max_pool1d(x, 2), ValueError, "x"),
    (lambda x: F.global_avg_pool2d(x[0]), ValueError, "x"),
    (lambda x: F.global_avg_pool2d(x[:, :, :0]), ValueError, "x"),
    (lambda x: F.max_pool2d(np.array([["a"]]), 2), TypeError, "x"),
    (lambda x: F.max_pool2d(x, 0), ValueError, "kernel_size"),
    (lambda x: F.avg_pool2d(x, (2, -1)), ValueError, "kernel_size"),
    (lambda x: F.max_pool2d(x, 2.5), TypeError, "kernel_size"),
    (lambda x: F.max_pool2d(x, 2, 0), ValueError, "stride"),
    (lambda x: F.max_pool2d(x, 3, 1, -1), ValueError, "padding"),
    (lambda x: F.max_pool2d(x, 3, 1, 2), ValueError, "padding"),
    (lambda x: F.avg_pool2d(x, 2, 1, ((0, 2), (0, 0))), ValueError, "padding"),
    (lambda x: F.max_pool2d(x, 3, 1, "full"), ValueError, "padding"),
    (lambda x: F.max_pool1d(x[:, :, 0], 3, 1, 2), ValueError, "padding"),
    (lambda x: F.max_pool2d(x, 7), ValueError, "kernel_size"),
    (lambda x: F.avg_pool1d(x[:, :, 0], 7, 1, 0), ValueError, "kernel_size"),
    (lambda x: F.max_pool2d(x, 2, ceil_mode="yes"), TypeError, "ceil_mode"),
    (lambda x: F.avg_pool2d(x, 2, count_include_pad=1), TypeError, "count_include_pad"),
    (lambda x: F.max_pool2d_backward(np.zeros((2, 3, 3, 3)), x, 2), ValueError, "dy"),
    (lambda x: F.avg_pool2d_backward(np.zeros((2, 3, 2)), x, 2), ValueError, "dy"),
    (lambda x: F.max_pool1d_backward(np.zeros((2, 3, 2)), x[:, :, 0], 2), ValueError, "dy"),
    (lambda x: F.global_avg_pool2d_backward(np.zeros((2, 4)), x), ValueError, "dy"),
])
def test_bad_inputs_name_the_argument(call, exc, name):
    x = np.zeros((2, 3, 5, 6), np.float32)
    with pytest.raises(exc, match=f"'{name}'"):
        call(x)


def test_c_front_end_checks_geometry():
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="'padding'"):
        fastcnn._C.max_pool2d_forward(x, np.zeros((1, 1, 4, 4), np.float32), (2, 2), (1, 1), (0, 2, 0, 0), False)
    with pytest.raises(ValueError, match="'y'"):
        fastcnn._C.max_pool2d_forward(x, np.zeros((1, 1, 3, 3), np.float32), (2, 2), (2, 2), (0, 0, 0, 0), False)
