
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastcnn
import fastcnn.functional as F
import reference as ref
from fastcnn import _C
from reference import assert_close, numeric_grad, run_on_isa, threads_1_and_2

rng = np.random.default_rng(0)


def randn(*shape, seed=None):
    g = rng if seed is None else np.random.default_rng(seed)
    return g.standard_normal(shape).astype(np.float32)


def check_all(got, want, what, scales=(None, None, None)):
    for name, g, w, s in zip(("dx", "dw", "db"), got, want, scales):
        if w is None:
            assert g is None, f"{what}: {name} should be None"
        else:
            assert g.dtype == np.float32
            assert_close(g, w, 1e-5, f"{what} {name}", scale=s)


def magnitudes(op, *arrays, **kw):
    """op applied to the arrays' absolute values: the size of the terms each output sums, against which
    float32 rounding is measured when a drawn case makes the terms cancel (assert_close scale=)."""
    return op(*(None if a is None else np.abs(a) for a in arrays), **kw)


# ---- the float64 references' own gradients, by finite differences --------------------------------

def _fd_check(fwd, bwd, x, w, b, kw):
    dy = np.random.default_rng(1).standard_normal(fwd(x, w, b, **kw).shape)
    dx, dw, db = bwd(dy, x, w, b, **kw)
    assert_close(dx, numeric_grad(lambda t: fwd(t, w, b, **kw), x.copy(), dy), 1e-6, "dx")
    assert_close(dw, numeric_grad(lambda t: fwd(x, t, b, **kw), w.copy(), dy), 1e-6, "dw")
    assert_close(db, numeric_grad(lambda t: fwd(x, w, t, **kw), b.copy(), dy), 1e-6, "db")


@pytest.mark.parametrize("kw", [
    dict(stride=2, padding=((1, 0), (2, 1)), dilation=(2, 1), groups=2),
    dict(stride=(1, 2), padding="same", dilation=1, groups=1),
    dict(stride=1, padding="full", dilation=2, groups=4),
])
def test_reference_conv2d_gradients(kw):
    g = np.random.default_rng(2)
    x, w, b = g.standard_normal((2, 4, 5, 6)), g.standard_normal((4, 4 // kw["groups"], 3, 2)), g.standard_normal(4)
    _fd_check(ref.conv2d, ref.conv2d_backward, x, w, b, kw)


def test_reference_conv1d_gradients():
    g = np.random.default_rng(3)
    x, w, b = g.standard_normal((2, 4, 9)), g.standard_normal((6, 2, 3)), g.standard_normal(6)
    _fd_check(ref.conv1d, ref.conv1d_backward, x, w, b, dict(stride=2, padding=(2, 1), dilation=2, groups=2))


@pytest.mark.parametrize("kw", [
    dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1),
    dict(stride=(1, 3), padding=(0, 2), output_padding=(1, 2), groups=1, dilation=(2, 1)),
])
def test_reference_conv_transpose2d_gradients(kw):
    g = np.random.default_rng(4)
    x, w, b = g.standard_normal((2, 4, 3, 4)), g.standard_normal((4, 3, 3, 2)), g.standard_normal(3 * kw["groups"])
    _fd_check(ref.conv_transpose2d, ref.conv_transpose2d_backward, x, w, b, kw)


# ---- conv2d against float64 and the C++ scalar reference ---------------------------------------

PAD_FORMS = ["int", "pair", "pairs", "valid", "same", "full"]


@st.composite
def conv_case(draw, nd=2):
    N = draw(st.sampled_from([1, 2, 3, 8, 9]))  # from 8 samples, stride-1 convs may run direct
    groups = draw(st.integers(1, 3))
    depthwise = draw(st.booleans())
    Cg = 1 if depthwise else draw(st.integers(1, 3))
    Kg = draw(st.integers(1, 2 if depthwise else 3))
    ks = [draw(st.integers(1, 4)) for _ in range(nd)]
    stride = [draw(st.integers(1, 3)) for _ in range(nd)]
    dil = [draw(st.integers(1, 3)) for _ in range(nd)]
    form = draw(st.sampled_from(PAD_FORMS))
    pads = [(draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(nd)]
    if form == "int":
        pads = [(pads[0][0], pads[0][0])] * nd
        padding = pads[0][0]
    elif form == "pair":
        pads = [(a, a) for a, _ in pads]
        padding = tuple(a for a, _ in pads)
    elif form == "pairs":
        padding = tuple(pads) if nd == 2 else pads[0]
    else:
        padding = form
    sizes = []
    for k, d, (a, c) in zip(ks, dil, pads):
        span = d * (k - 1) + 1
        lo = max(1, span - a - c) if form in ("int", "pair", "pairs") else (span if form == "valid" else 1)
        sizes.append(draw(st.integers(lo, lo + 6)))
    x = randn(N, Cg * groups, *sizes, seed=draw(st.integers(0, 2**31)))
    w = randn(Kg * groups, Cg, *ks, seed=draw(st.integers(0, 2**31)))
    b = randn(Kg * groups, seed=draw(st.integers(0, 2**31))) if draw(st.booleans()) else None
    kw = dict(stride=stride if draw(st.booleans()) or nd == 1 else tuple(stride), padding=padding,
              dilation=dil, groups=groups)
    if nd == 1:
        kw["stride"], kw["dilation"] = stride[0], dil[0]
    return x, w, b, kw


def _quad(x, w, kw):
    """conv2d keyword arguments as the _C kernels take them."""
    st_ = (kw["stride"],) * 2 if np.isscalar(kw["stride"]) else tuple(kw["stride"])
    dl = (kw["dilation"],) * 2 if np.isscalar(kw["dilation"]) else tuple(kw["dilation"])
    spans = [d * (k - 1) + 1 for d, k in zip(dl, w.shape[2:])]
    (t, bt), (l, r) = ref.conv_pads(kw["padding"], x.shape[2:], spans, st_)
    return st_, (t, bt, l, r), dl, kw["groups"]


@settings(max_examples=120)
@given(conv_case())
def test_conv2d_matches_reference(case):
    x, w, b, kw = case
    y = F.conv2d(x, w, b, **kw)
    want = ref.conv2d(x, w, b, **kw)
    assert y.dtype == np.float32 and y.shape == want.shape
    assert_close(y, want, 1e-5, "y", scale=magnitudes(ref.conv2d, x, w, b, **kw))
    dy = randn(*y.shape, seed=x.size * 31 + y.size)
    got = F.conv2d_backward(dy, x, w, b, **kw)
    scales = magnitudes(ref.conv2d_backward, dy, x, w, b, **kw)
    check_all(got, ref.conv2d_backward(dy, x, w, b, **kw), "conv2d", scales)

    # The C++ scalar reference agrees with the GEMM path.
    args = _quad(x, w, kw)
    y_ref = np.empty_like(y)
    _C.ref_conv2d_forward(x, w, b, y_ref, *args)
    assert_close(y, y_ref, 1e-5, "ref y", scale=magnitudes(ref.conv2d, x, w, b, **kw))
    dx_ref, dw_ref = np.empty_like(x), np.empty_like(w)
    db_ref = None if b is None else np.empty_like(b)
    _C.ref_conv2d_backward_data(dy, w, dx_ref, *args)
    _C.ref_conv2d_backward_weight(dy, x, dw_ref, db_ref, *args)
    check_all(got, (dx_ref, dw_ref, db_ref), "C++ reference", scales)


@settings(max_examples=50)
@given(conv_case(nd=1))
def test_conv1d_matches_reference(case):
    x, w, b, kw = case
    y = F.conv1d(x, w, b, **kw)
    assert_close(y, ref.conv1d(x, w, b, **kw), 1e-5, "y", scale=magnitudes(ref.conv1d, x, w, b, **kw))
    dy = randn(*y.shape, seed=x.size * 31 + y.size)
    check_all(F.conv1d_backward(dy, x, w, b, **kw), ref.conv1d_backward(dy, x, w, b, **kw), "conv1d",
              magnitudes(ref.conv1d_backward, dy, x, w, b, **kw))


@st.composite
def transpose_case(draw):
    N, groups = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    Cg, Kg = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    R, S = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H, W = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    outpad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dil))
    full = [(n - 1) * s + d * (k - 1) + 1 + o for n, s, d, k, o in zip((H, W), stride, dil, (R, S), outpad)]
    padding = tuple(draw(st.integers(0, (f - 1) // 2)) for f in full)
    x = randn(N, Cg * groups, H, W, seed=draw(st.integers(0, 2**31)))
    w = randn(Cg * groups, Kg, R, S, seed=draw(st.integers(0, 2**31)))
    b = randn(Kg * groups, seed=draw(st.integers(0, 2**31))) if draw(st.booleans()) else None
    return x, w, b, dict(stride=stride, padding=padding, output_padding=outpad, groups=groups, dilation=dil)


@settings(max_examples=80)
@given(transpose_case())
def test_conv_transpose2d_matches_reference(case):
    x, w, b, kw = case
    y = F.conv_transpose2d(x, w, b, **kw)
    want = ref.conv_transpose2d(x, w, b, **kw)
    assert y.shape == want.shape
    assert_close(y, want, 1e-5, "y", scale=magnitudes(ref.conv_transpose2d, x, w, b, **kw))
    dy = randn(*y.shape, seed=x.size * 31 + y.size)
    check_all(F.conv_transpose2d_backward(dy, x, w, b, **kw), ref.conv_transpose2d_backward(dy, x, w, b, **kw),
              "conv_transpose2d", magnitudes(ref.conv_transpose2d_backward, dy, x, w, b, **kw))


@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 3, 1, 1), (4, 3, 1, 1), {}),                                   # 1x1 spatial
    ((2, 3, 1, 1), (4, 3, 3, 3), dict(padding="same")),
    ((2, 3, 5, 7), (4, 3, 5, 7), {}),                                   # kernel equal to the input
    ((2, 6, 5, 7), (6, 1, 3, 3), dict(groups=6, padding=1)),            # depthwise
    ((3, 8, 6, 5), (5, 8, 1, 1), {}),                                   # 1x1 stride 1: no im2col
    ((3, 8, 6, 5), (6, 4, 1, 1), dict(groups=2, dilation=3)),
    ((2, 3, 9, 8), (4, 3, 3, 2), dict(stride=3, padding="same", dilation=2)),
    ((2, 3, 9, 8), (4, 3, 3, 2), dict(stride=(2, 3), padding=((0, 3), (2, 0)))),
])
def test_conv2d_edge_shapes(xs, ws, kw):
    x, w, b = randn(*xs), randn(*ws), randn(ws[0])
    y = F.conv2d(x, w, b, **kw)
    assert_close(y, ref.conv2d(x, w, b, **kw), 1e-5, "y")
    dy = randn(*y.shape)
    check_all(F.conv2d_backward(dy, x, w, b, **kw), ref.conv2d_backward(dy, x, w, b, **kw), "conv2d")


def test_same_padding_shapes():
    x, w = randn(1, 1, 10, 7), randn(1, 1, 4, 3)
    for s in (1, 2, 3):
        assert F.conv2d(x, w, stride=s, padding="same").shape[2:] == (-(-10 // s), -(-7 // s))
    assert F.conv2d(x, w, padding="full").shape[2:] == (13, 9)
    assert F.conv1d(randn(2, 3, 10), randn(4, 3, 3), stride=2, padding="same").shape == (2, 4, 5)


# ---- the algorithms: shapes on both sides of each selection threshold ---------------------------

PASSES = ("forward", "backward_data", "backward_weight")

# (x shape, w shape, conv2d keywords, the algorithms of forward, backward-data, backward-weight).
# "wide": direct loops vectorized over output rows; "filters": direct, vectorized over 16 filters;
# "winograd-5x5": F(2x2, 5x5) over 8-sample lanes (its own cases in test_winograd5.py).
ALGO_CASES = [
    ((8, 1, 28, 28), (6, 1, 5, 5), dict(padding=2), ("wide", "wide", "wide")),           # LeNet conv1
    ((7, 1, 28, 28), (6, 1, 5, 5), dict(padding=2), ("gemm", "gemm", "gemm")),     # batch under 8: GEMM
    ((8, 6, 14, 14), (16, 6, 5, 5), {}, ("winograd-5x5", "winograd-5x5", "filters")),  # LeNet conv2
    ((8, 3, 14, 14), (16, 3, 5, 5), {}, ("filters", "wide", "filters")),  # 3 channels: direct
    ((8, 2, 40, 40), (4, 2, 16, 16), {}, ("wide", "gemm", "wide")),       # C/g*R*S = 512: still direct
    ((8, 2, 40, 40), (4, 2, 16, 17), {}, ("gemm", "gemm", "gemm")),       # 544 taps: GEMM
    ((8, 3, 14, 14), (20, 3, 5, 5), {}, ("wide", "wide", "wide")),        # backward-data: 500 taps
    ((8, 3, 14, 14), (21, 3, 5, 5), {}, ("filters", "gemm", "wide")),     # 525 taps: GEMM
    ((8, 3, 6, 12), (2, 3, 1, 5), {}, ("wide", "wide", "gemm")),          # padded work 2x: direct
    ((8, 3, 6, 12), (2, 3, 1, 9), {}, ("gemm", "wide", "gemm")),          # over 2x: GEMM
    ((8, 3, 9, 9), (4, 3, 3, 3), dict(stride=2), ("gemm", "gemm", "gemm")),
    ((8, 4, 9, 11), (6, 2, 3, 3), dict(groups=2, dilation=(2, 1), padding=((1, 0), (2, 3))),
     ("wide", "wide", "wide")),
    ((8, 2, 12, 12), (3, 2, 3, 3), dict(padding=3), ("wide", "wide", "wide")),  # backward-data crops
    ((8, 1, 6, 6), (30, 1, 3, 3), {}, ("filters", "gemm", "filters")),   # a partial block of 16
    ((8, 4, 6, 6), (32, 2, 3, 3), dict(groups=2), ("filters", "wide", "filters")),
    ((8, 16, 7, 7), (1, 16, 3, 3), dict(padding=1), ("wide", "filters", "gemm")),
    # "wide" with few taps (C/g*R*S <= 32, S of 3 or 5, dil_w 1): every tile over all the taps
    # (wide_tile_rows), each filter block (KB 6, 4, 2, 1), odd widths, pads 0/1/2, batch remainders
    ((9, 1, 13, 13), (4, 1, 5, 5), dict(padding=1), ("wide", "wide", "wide")),
    ((8, 1, 17, 11), (2, 1, 3, 3), {}, ("wide", "wide", "gemm")),             # backward-data: 18 taps
    ((8, 3, 15, 15), (6, 3, 3, 3), dict(padding=1), ("wide", "wide", "wide")),  # C = 3: 27 taps
    ((8, 1, 12, 12), (1, 1, 5, 5), dict(padding=2), ("wide", "wide", "gemm")),
    ((11, 1, 28, 28), (6, 1, 5, 5), dict(padding=2), ("wide", "wide", "wide")),
    ((8, 1, 30, 30), (6, 1, 5, 5), {}, ("wide", "wide", "wide")),
    ((8, 1, 12, 9), (6, 1, 3, 5), dict(padding=(1, 2)), ("wide", "wide", "wide")),
    ((8, 1, 16, 16), (6, 1, 3, 3), dict(padding=2, dilation=(2, 1)), ("wide", "wide", "wide")),
    ((8, 1, 16, 16), (6, 1, 3, 3), dict(padding=2, dilation=(1, 2)), ("wide", "wide", "wide")),  # general
    ((8, 2, 20, 20), (8, 1, 5, 5), dict(padding=2, groups=2), ("wide", "depthwise", "depthwise")),
    # "filters" forward with AVX-512: rows of 40 and 53 positions in tiles of 24 and 8 (the last
    # shifted back to end at Q); rows under 8 take the 6-position tiles
    ((8, 4, 1, 40), (16, 4, 1, 5), dict(padding=(0, 2)), ("filters", "wide", "filters")),
    ((9, 4, 1, 53), (16, 4, 1, 3), dict(padding=(0, 1)), ("filters", "wide", "filters")),
    # "filters" tiles into y by 8x8 transposes: 6 positions (< 8), 30 (the last 8 shifted back)
    ((8, 4, 4, 5), (16, 4, 3, 3), {}, ("filters", "wide", "filters")),
    ((9, 5, 7, 8), (12, 5, 3, 3), {}, ("filters", "wide", "wide")),
    # backward-weight "wide" tiles: 3x4 with a last 3x1 and filters padded 5 -> 6, P*Q = 169 (a
    # partial last vector); 4x3, P*Q = 100; 2x6, P*Q = 81; planes that padding leaves all zero;
    # 4x3 over 3 channels, filters padded 7 -> 8
    ((10, 1, 13, 11), (5, 1, 3, 3), dict(padding=(1, 2)), ("wide", "wide", "wide")),
    ((9, 1, 10, 10), (4, 1, 3, 3), dict(padding=1), ("wide", "wide", "wide")),
    ((11, 1, 9, 8), (2, 1, 3, 4), dict(padding=(1, 2)), ("wide", "wide", "wide")),
    ((8, 1, 4, 4), (2, 1, 3, 3), dict(padding=3), ("wide", "gemm", "wide")),
    ((12, 3, 8, 9), (7, 3, 2, 3), dict(padding=(0, 1)), ("wide", "wide", "wide")),
    # "filters" backward-weight: dy transposed in 8x8 blocks, 4 filters and 4 positions left over
    ((9, 3, 14, 14), (12, 3, 5, 5), {}, ("filters", "wide", "filters")),
]


def _full_kw(kw):
    return dict(dict(stride=1, padding=0, dilation=1, groups=1), **kw)


def check_conv2d_passes(x, w, b, kw, dy, tol):
    """conv2d's y, dx, dw (and db when b is given) for output gradient dy against float64, within tol
    (db within 1e-5: its sums are the same for every algorithm). For test_winograd and test_dilated."""
    y = F.conv2d(x, w, b, **kw)
    assert_close(y, ref.conv2d(x, w, b, **kw), tol, "y")
    dx, dw, db = F.conv2d_backward(dy, x, w, b, **kw)
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(dy, x, w, b, **kw)
    assert_close(dx, dx_ref, tol, "dx")
    assert_close(dw, dw_ref, tol, "dw")
    if b is not None:
        assert_close(db, db_ref, 1e-5, "db")


def check_algorithm_case(xs, ws, kw, algos):
    """The case selects `algos`, and every pass matches float64 and the C++ scalar reference."""
    x, w, b = randn(*xs, seed=10), randn(*ws, seed=11), randn(ws[0], seed=12)
    args = _quad(x, w, _full_kw(kw))
    assert tuple(_C.conv2d_algorithm(x, w, *args, p) for p in PASSES) == algos
    y = F.conv2d(x, w, b, **kw)
    assert_close(y, ref.conv2d(x, w, b, **kw), 1e-5, "y")
    dy = randn(*y.shape, seed=13)
    got = F.conv2d_backward(dy, x, w, b, **kw)
    check_all(got, ref.conv2d_backward(dy, x, w, b, **kw), f"conv2d {algos}")
    y_ref, dx_ref, dw_ref, db_ref = np.empty_like(y), np.empty_like(x), np.empty_like(w), np.empty_like(b)
    _C.ref_conv2d_forward(x, w, b, y_ref, *args)
    _C.ref_conv2d_backward_data(dy, w, dx_ref, *args)
    _C.ref_conv2d_backward_weight(dy, x, dw_ref, db_ref, *args)
    assert_close(y, y_ref, 1e-5, "C++ reference y")
    check_all(got, (dx_ref, dw_ref, db_ref), f"C++ reference {algos}")


def check_all_algorithm_cases():
    for case in ALGO_CASES:
        check_algorithm_case(*case)


@pytest.mark.parametrize("xs, ws, kw, algos", ALGO_CASES)
def test_algorithms(xs, ws, kw, algos):
    check_algorithm_case(xs, ws, kw, algos)


@pytest.mark.parametrize("isa", fastcnn.info()["built_isas"])
def test_algorithms_on_every_isa(isa):
    run_on_isa(isa, "test_conv", "check_all_algorithm_cases")


def test_backward_without_dx():
    x, w, b = randn(4, 1, 12, 12), randn(6, 1, 5, 5), randn(6)
    dy = randn(4, 6, 12, 12)
    dx, dw, db = F.conv2d_backward(dy, x, w, b, padding=2, need_dx=False)
    assert dx is None
    check_all((dw, db), ref.conv2d_backward(dy, x, w, b, padding=2)[1:], "need_dx=False")
    with pytest.raises(TypeError, match="'need_dx'"):
        F.conv2d_backward(dy, x, w, b, padding=2, need_dx=1)


# ---- threads ---------------------------------------------------------------------------------



@pytest.mark.parametrize("xs, ws, kw", [
    ((11, 8, 20, 20), (16, 8, 3, 3), dict(padding=1)),  # over samples; 8 weight chunks, some of 2
    ((5, 32, 12, 12), (48, 32, 1, 1), {}),                           # 1x1: input as the GEMM operand
    ((1, 16, 24, 24), (256, 8, 3, 3), dict(padding=(1, 2), groups=2)),  # one sample: GEMM tiles
    ((16, 1, 28, 28), (6, 1, 5, 5), dict(padding=2)),      # direct "wide" (LeNet conv1), 8 chunks
    ((13, 3, 15, 15), (4, 3, 3, 3), dict(padding=1)),      # "wide" over all of its 27 taps per tile
    ((16, 3, 14, 14), (16, 3, 5, 5), {}),                  # direct "filters"
    ((9, 3, 14, 14), (16, 3, 5, 5), {}),                   # chunks of 1 and 2 samples
    ((16, 6, 14, 14), (16, 6, 5, 5), {}),                  # LeNet conv2: Winograd 5x5, "filters"
    ((10, 1, 13, 11), (5, 1, 3, 3), dict(padding=(1, 2))),  # "wide" 3x4 + 3x1, partial vector
    ((11, 1, 9, 8), (2, 1, 3, 4), dict(padding=(1, 2))),    # "wide" 2x6
])
def test_thread_count_invariant(xs, ws, kw):
    x, w, b = randn(*xs), randn(*ws), randn(ws[0])
    dy = randn(*F.conv2d(x, w, b, **kw).shape)

    def run():
        return (F.conv2d(x, w, b, **kw),) + F.conv2d_backward(dy, x, w, b, **kw)
    one, two = threads_1_and_2(run)
    for a, c in zip(one, two):
        assert np.array_equal(a, c)
    assert_close(one[0], ref.conv2d(x, w, b, **kw), 1e-5)
    check_all(one[1:], ref.conv2d_backward(dy, x, w, b, **kw), "conv2d")


def test_transpose_thread_count_invariant():
    x, w, b = randn(6, 16, 9, 9), randn(16, 8, 3, 3), randn(8)
    kw = dict(stride=2, padding=1, output_padding=1)
    dy = randn(*F.conv_transpose2d(x, w, b, **kw).shape)

    def run():
        return (F.conv_transpose2d(x, w, b, **kw),) + F.conv_transpose2d_backward(dy, x, w, b, **kw)
    for a, c in zip(*threads_1_and_2(run)):
        assert np.array_equal(a, c)


# ---- inputs: empty batch, dtypes, strides, NaN ----------------------------------------------------

def test_empty_batch():
    x, w, b = np.zeros((0, 4, 6, 6), np.float32), randn(6, 2, 3, 3), randn(6)
    y = F.conv2d(x, w, b, padding=1, groups=2)
    assert y.shape == (0, 6, 6, 6)
    dx, dw, db = F.conv2d_backward(np.zeros(y.shape, np.float32), x, w, b, padding=1, groups=2)
    assert dx.shape == x.shape and not dw.any() and not db.any() and dw.shape == w.shape
    assert F.conv1d(np.zeros((0, 2, 5)), randn(3, 2, 2)).shape == (0, 3, 4)
    xt, wt = np.zeros((0, 4, 3, 3), np.float32), randn(4, 2, 3, 3)
    yt = F.conv_transpose2d(xt, wt, b[:2], stride=2)
    assert yt.shape == (0, 2, 7, 7)
    dx, dw, db = F.conv_transpose2d_backward(yt, xt, wt, b[:2], stride=2)
    assert dx.shape == xt.shape and not dw.any() and not db.any()


def test_noncontiguous_and_float64_inputs():
    x64 = np.random.default_rng(5).standard_normal((2, 6, 9, 14))[:, ::2, :, ::2]  # float64, strided
    w = randn(3, 3, 2, 4).transpose(1, 0, 2, 3)  # non-contiguous float32 (K=3, Cg=3)
    b = [0.5, -1, 2]  # a list
    y = F.conv2d(x64, w, b, stride=(2, 1), padding=1)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    assert_close(y, ref.conv2d(x64.astype(np.float32), w, b, stride=(2, 1), padding=1), 1e-5)
    dy = np.asfortranarray(randn(*y.shape))
    check_all(F.conv2d_backward(dy, x64, w, b, stride=(2, 1), padding=1),
              ref.conv2d_backward(dy, x64.astype(np.float32), w, b, stride=(2, 1), padding=1), "conv2d")
    xi = np.arange(2 * 3 * 7).reshape(2, 3, 7)  # integers, and a reversed (negative-stride) w
    wr = randn(2, 3, 3)[:, :, ::-1]
    assert_close(F.conv1d(xi, wr, padding="same"), ref.conv1d(xi, wr, padding="same"), 1e-5)


def test_nan_propagates():
    x = randn(1, 2, 5, 5)
    x[0, 1, 2, 2] = np.nan
    y = F.conv2d(x, randn(3, 2, 3, 3))
    assert np.isnan(y).all()  # every 3x3 window of the 5x5 input covers its center
    assert not np.isnan(F.conv2d(x[:, :1], randn(3, 1, 3, 3))).any()


# ---- bad arguments -----------------------------------------------------------------------------

X, W, B = randn(2, 4, 6, 6), randn(6, 2, 3, 3), randn(6)


@pytest.mark.parametrize("call, exc, name", [
    (lambda: F.conv2d(X[0], W), ValueError, "x"),
    (lambda: F.conv2d(X, W[0]), ValueError, "w"),
    (lambda: F.conv2d(X, W, B[None]), ValueError, "b"),
    (lambda: F.conv2d(X, W, B[:5], groups=2), ValueError, "b"),
    (lambda: F.conv2d(X, W), ValueError, "w"),                       # C != w.shape[1] * groups
    (lambda: F.conv2d(X, randn(5, 2, 3, 3), groups=2), ValueError, "groups"),  # K % groups
    (lambda: F.conv2d(X, randn(6, 1, 3, 3), groups=3), ValueError, "groups"),  # C % groups
    (lambda: F.conv2d(X, W, groups=0), ValueError, "groups"),
    (lambda: F.conv2d(X, W, groups=2.0), TypeError, "groups"),
    (lambda: F.conv2d(X, W, groups=2, stride=0), ValueError, "stride"),
    (lambda: F.conv2d(X, W, groups=2, stride=(1, 2, 3)), TypeError, "stride"),
    (lambda: F.conv2d(X, W, groups=2, dilation=(1, 0)), ValueError, "dilation"),
    (lambda: F.conv2d(X, W, groups=2, padding=-1), ValueError, "padding"),
    (lambda: F.conv2d(X, W, groups=2, padding=((0, 1), (-1, 0))), ValueError, "padding"),
    (lambda: F.conv2d(X, W, groups=2, padding="half"), ValueError, "padding"),
    (lambda: F.conv2d(X, W, groups=2, dilation=3), ValueError, "w"),  # spans 7 > 6
    (lambda: F.conv2d(X, randn(6, 2, 3, 0), groups=2), ValueError, "w"),
    (lambda: F.conv2d([["a"]], W), TypeError, "x"),
    (lambda: F.conv2d(X, np.zeros((6, 2, 3, 3), dtype=object), groups=2), TypeError, "w"),
    (lambda: F.conv2d_backward(randn(2, 6, 4, 3), X, W, groups=2), ValueError, "dy"),
    (lambda: F.conv2d_backward(randn(2, 6, 4), X, W, groups=2), ValueError, "dy"),
    (lambda: F.conv1d(X, W), ValueError, "x"),
    (lambda: F.conv1d(randn(2, 4, 3), randn(6, 4, 5)), ValueError, "w"),
    (lambda: F.conv1d_backward(randn(2, 6, 2), randn(2, 4, 5), randn(6, 4, 3)), ValueError, "dy"),
    (lambda: F.conv_transpose2d(X, randn(3, 2, 3, 3)), ValueError, "w"),
    (lambda: F.conv_transpose2d(X, randn(4, 2, 3, 3), stride=2, output_padding=2), ValueError, "output_padding"),
    (lambda: F.conv_transpose2d(X, randn(4, 2, 3, 3), padding=5), ValueError, "padding"),
    (lambda: F.conv_transpose2d(X, randn(4, 2, 3, 3), padding="same"), TypeError, "padding"),
    (lambda: F.conv_transpose2d(X, randn(4, 2, 3, 3), groups=3), ValueError, "groups"),
    (lambda: F.conv_transpose2d(X, randn(4, 2, 3, 3), randn(2), groups=2), ValueError, "b"),
    (lambda: F.conv_transpose2d_backward(randn(2, 2, 8, 9), X, randn(4, 2, 3, 3)), ValueError, "dy"),
])
def test_bad_arguments(call, exc, name):
    with pytest.raises(exc, match=f"'{name}'"):
        call()


def test_too_small_input_message_names_sizes():
    with pytest.raises(ValueError, match=r"'w'.*\(7, 7\).*\(6, 6\)"):
        F.conv2d(X, W, groups=2, dilation=3)


def test_kernels_check_their_arguments():
    y = np.empty((2, 6, 4, 4), np.float32)
    with pytest.raises(ValueError, match="'y'"):
        _C.conv2d_forward(X, W, None, y[:, :, :3], (1, 1), (0, 0, 0, 0), (1, 1), 2)
    with pytest.raises(ValueError, match="'w'"):
        _C.conv2d_forward(X, W, None, y, (1, 1), (0, 0, 0, 0), (1, 1), 1)
    with pytest.raises(ValueError, match="'x'"):
        _C.conv2d_forward(X.astype(np.float64), W, None, y, (1, 1), (0, 0, 0, 0), (1, 1), 2)


# conv2d_pool_forward: max_pool2d(conv2d(x)) in one call (the models' Conv2D + MaxPool2D pairs).
# The direct kernels pool block by block (z in cache); the other algorithms conv then pool. Either
# way: the bits of the two ops one after the other, z written or not.
POOLED_CASES = [
    # (N, C, H, W, K, R, pad, stride, pool kernel, pool stride, pool pads, ceil_mode)
    (128, 1, 28, 28, 6, 5, 2, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),  # LeNet conv1: "wide"
    (37, 6, 14, 14, 16, 5, 0, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),  # conv2: Winograd 5x5, odd batch
    (13, 8, 13, 17, 12, 5, 1, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),  # Winograd 5x5, odd P: from z
    (21, 3, 14, 14, 16, 5, 0, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),  # 3 channels: "filters"
    (9, 3, 17, 15, 5, 3, 1, 1, (3, 3), (2, 2), (1, 1, 1, 1), True),     # overlapping, padded, ceil
    (3, 6, 14, 14, 16, 5, 0, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),   # batch < 8: GEMM
    (16, 32, 16, 16, 32, 3, 1, 1, (2, 2), (2, 2), (0, 0, 0, 0), False), # Winograd
    (10, 4, 12, 12, 6, 3, 1, 2, (2, 2), (2, 2), (0, 0, 0, 0), False),   # stride 2: GEMM
    # "wide" then 2x2/2 tiling z: pooled from the kernel's wide rows (Q/2 of 12 and 6 < 8)
    (11, 1, 24, 24, 4, 5, 2, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),
    (9, 3, 12, 12, 6, 3, 1, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),
    (8, 1, 20, 20, 6, 7, 3, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),     # general wide tiles (S = 7)
    (8, 1, 27, 27, 6, 5, 2, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),     # 27 rows: pooled from z
    (8, 1, 28, 28, 6, 5, 2, 1, (2, 2), (2, 2), (0, 1, 0, 1), True),      # padded after: pooled from z
    # one input channel, 5x5 taps, P and Q even: "wide" over 8-sample lanes (lane_forward), with
    # batch tails (5 and 2 samples of 8), filters padded to the tile's 2, no padding, H != W
    (13, 1, 16, 12, 5, 5, 0, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),
    (10, 1, 18, 22, 3, 5, 1, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),
    # "filters" then 2x2/2 tiling z: pooled from the position-major tiles (16 + 14 filters, 4 windows)
    (9, 1, 6, 6, 30, 3, 0, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),
    (8, 3, 15, 15, 16, 5, 0, 1, (2, 2), (2, 2), (0, 0, 0, 0), False),    # 11x11: pooled from z
]


@pytest.mark.parametrize("case", POOLED_CASES)
def test_conv2d_pool_forward_is_conv_then_pool(case):
    N, C, H, W, K, R, pad, stride, pk, ps, pp, ceil = case
    x, w, b = randn(N, C, H, W, seed=N), randn(K, C, R, R, seed=K), randn(K, seed=C)
    z = F.conv2d(x, w, b, stride=stride, padding=pad)
    y = F.max_pool2d(z, pk, ps, ((pp[0], pp[1]), (pp[2], pp[3])), ceil)
    args = ((stride, stride), (pad,) * 4, (1, 1), 1, pk, ps, pp, ceil)

    def run():
        z2, y2, y3 = np.full_like(z, np.nan), np.full_like(y, np.nan), np.full_like(y, np.nan)
        _C.conv2d_pool_forward(x, w, b, z2, y2, *args)
        _C.conv2d_pool_forward(x, w, b, None, y3, *args)
        return z2, y2, y3

    for z2, y2, y3 in threads_1_and_2(run):
        np.testing.assert_array_equal(z2, z)
        np.testing.assert_array_equal(y2, y)
        np.testing.assert_array_equal(y3, y)


@pytest.mark.parametrize("n, h, w, k, pad", [(128, 28, 28, 6, 2), (13, 16, 12, 5, 0)])
def test_lane_kernel_has_the_wide_rows_bits(n, h, w, k, pad):
    # One input channel and 5x5 taps over 8-sample lanes (LeNet's conv1) against the wide-row
    # kernel on the same input with a zero row appended (29 output rows: wide rows): the rows they
    # share sum the same taps in the same order, so the bits are equal (z and the pool of z).
    x, wt, b = randn(n, 1, h, w, seed=1), randn(k, 1, 5, 5, seed=2), randn(k, seed=3)
    args = ((1, 1), (pad,) * 4, (1, 1), 1)
    x1 = np.concatenate([x, np.zeros((n, 1, 1, w), np.float32)], axis=2)
    P, Q = h + 2 * pad - 4, w + 2 * pad - 4
    z = np.empty((n, k, P, Q), np.float32)
    z1 = np.empty((n, k, P + 1, Q), np.float32)
    _C.conv2d_forward(x, wt, b, z, *args)
    _C.conv2d_forward(x1, wt, b, z1, *args)
    np.testing.assert_array_equal(z, z1[:, :, :P])
    y = np.empty((n, k, P // 2, Q // 2), np.float32)
    _C.conv2d_pool_forward(x, wt, b, None, y, *args, (2, 2), (2, 2), (0,) * 4, False)
    np.testing.assert_array_equal(y, F.max_pool2d(z1[:, :, :P], 2))


@pytest.mark.parametrize("xs, ws, pad, algo", [
    ((8, 1, 12, 20), (4, 1, 5, 5), 2, "wide"),
    ((8, 3, 14, 14), (16, 3, 5, 5), 0, "filters"),
    ((8, 6, 14, 14), (16, 6, 5, 5), 0, "winograd-5x5"),
])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_pool_forward_nan_and_inf_as_conv_then_pool(xs, ws, pad, algo, bias):
    # pooled from the kernel's buffer with the bias added before the window tournament: NaN and
    # inf (and -inf + inf = NaN) come out as from conv2d then max_pool2d
    x, w, b = randn(*xs, seed=3), randn(*ws, seed=4), randn(ws[0], seed=5)
    x[0, 0, 5, 7] = np.nan
    x[1, 0, 2, 3] = np.inf
    x[2, 0, 9, 10] = -np.inf
    b[3] = np.inf
    b = b if bias else None
    args = ((1, 1), (pad,) * 4, (1, 1), 1)
    assert _C.conv2d_algorithm(x, w, *args, "forward") == algo
    z = F.conv2d(x, w, b, padding=pad)
    y = F.max_pool2d(z, 2)
    y2 = np.full_like(y, 7.0)
    _C.conv2d_pool_forward(x, w, b, None, y2, *args, (2, 2), (2, 2), (0,) * 4, False)
    # (Winograd's transforms turn an inf input into NaN over its tiles: inf - inf; inf then comes
    # from the bias only)
    assert np.isnan(y).any() and (np.isinf(y).any() or (algo == "winograd-5x5" and not bias))
    np.testing.assert_array_equal(y2, y)


def test_conv2d_pool_forward_names_bad_arguments():
    x, w = randn(8, 1, 12, 12), randn(4, 1, 3, 3)
    args = ((1, 1), (1, 1, 1, 1), (1, 1), 1, (2, 2), (2, 2), (0, 0, 0, 0), False)
    with pytest.raises(ValueError, match="argument 'y' got shape"):
        _C.conv2d_pool_forward(x, w, None, None, np.zeros((8, 4, 5, 5), np.float32), *args)
    with pytest.raises(ValueError, match="argument 'z' got shape"):
        _C.conv2d_pool_forward(x, w, None, np.zeros((8, 4, 11, 12), np.float32),
                               np.zeros((8, 4, 6, 6), np.float32), *args)
    with pytest.raises(ValueError, match="kernel_size"):
        _C.conv2d_pool_forward(x, w, None, None, np.zeros((8, 4, 6, 6), np.float32),
                               *args[:4], (13, 13), (1, 1), (0, 0, 0, 0), False)


# ---- strided convs: im2col / col2im through column-phase planes ---------------------------------
# With stride_w > 1, im2col and col2im work on each channel split into its stride_w column phases
# (x[c, h, b + sw*j]): conv2d's forward and weight gradient and, through col2im, its backward-data,
# which is conv_transpose2d's forward. Shapes on both sides of the old "phases" idea (one GEMM per
# output phase, measured slower than GEMM + col2im on this machine and not kept): strides 2 and 3,
# kernels 1..5, paddings, output_padding, dilation (with dil = stride a tap set that reaches one
# column phase only), groups, batch 1 and > 1.

# (x shape, w shape of conv_transpose2d, keywords).
STRIDED_TRANSPOSE_CASES = [
    ((2, 8, 5, 6), (8, 16, 4, 4), dict(stride=2, padding=1)),                     # transposed_s2 in small
    ((1, 8, 5, 6), (8, 16, 4, 4), dict(stride=2, padding=1, output_padding=1)),   # batch 1
    ((3, 6, 4, 5), (6, 16, 5, 5), dict(stride=3, padding=2, output_padding=2)),
    ((2, 4, 6, 5), (4, 16, 2, 2), dict(stride=2)),
    ((2, 4, 6, 5), (4, 16, 3, 3), dict(stride=3, padding=(0, 1), output_padding=(1, 0))),
    ((2, 4, 5, 5), (4, 16, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(0, 2))),
    ((2, 4, 5, 6), (4, 16, 3, 3), dict(stride=(1, 2), padding=1, output_padding=(0, 1))),
    ((2, 4, 5, 4), (4, 16, 3, 3), dict(stride=2, dilation=2, padding=1)),         # taps on one phase per axis
    ((2, 4, 5, 4), (4, 16, 3, 2), dict(stride=2, dilation=3, padding=(2, 1), output_padding=1)),
    ((2, 8, 4, 5), (8, 16, 4, 3), dict(stride=2, padding=1, groups=2)),           # 2 groups of 16
    ((1, 6, 4, 4), (6, 16, 1, 1), dict(stride=2, output_padding=1)),              # 1x1
    ((2, 64, 14, 14), (64, 16, 4, 4), dict(stride=2, padding=1)),                 # a bigger one
]


@pytest.mark.parametrize("xs, ws, kw", STRIDED_TRANSPOSE_CASES)
def test_conv_transpose2d_strided(xs, ws, kw):
    x, w = randn(*xs, seed=20), randn(*ws, seed=21)
    b = randn(ws[1] * kw.get("groups", 1), seed=22)
    y = F.conv_transpose2d(x, w, b, **kw)
    assert_close(y, ref.conv_transpose2d(x, w, b, **kw), 1e-5, "y",
                 scale=magnitudes(ref.conv_transpose2d, x, w, b, **kw))
    dy = randn(*y.shape, seed=23)
    check_all(F.conv_transpose2d_backward(dy, x, w, b, **kw), ref.conv_transpose2d_backward(dy, x, w, b, **kw),
              "conv_transpose2d", magnitudes(ref.conv_transpose2d_backward, dy, x, w, b, **kw))

    def run():
        return (F.conv_transpose2d(x, w, b, **kw),) + F.conv_transpose2d_backward(dy, x, w, b, **kw)
    for a, c in zip(*threads_1_and_2(run)):
        assert np.array_equal(a, c)


# conv2d and its gradients, with rows and columns of x that no tap reaches.
STRIDED_CONV_CASES = [
    ((2, 16, 11, 10), (8, 16, 2, 2), dict(stride=3)),                 # x rows and columns 2, 5, 8 get zeros
    ((1, 16, 9, 9), (12, 16, 3, 3), dict(stride=2, padding=1)),       # resnet_s2 in small, batch 1
    ((3, 32, 9, 8), (8, 16, 5, 4), dict(stride=(3, 2), padding=((2, 1), (0, 2)), groups=2)),
    ((2, 16, 12, 12), (8, 16, 3, 3), dict(stride=2, dilation=(1, 2), padding="same")),
    ((2, 3, 30, 31), (8, 3, 11, 11), dict(stride=4, padding=(0, 2))),            # AlexNet's conv1 in small
    ((1, 4, 9, 10), (6, 4, 1, 1), dict(stride=3)),                               # 1x1 stride 3
]


@pytest.mark.parametrize("xs, ws, kw", STRIDED_CONV_CASES)
def test_conv2d_strided(xs, ws, kw):
    x, w, b = randn(*xs, seed=30), randn(*ws, seed=31), randn(ws[0], seed=32)
    args = _quad(x, w, _full_kw(kw))
    assert tuple(_C.conv2d_algorithm(x, w, *args, p) for p in PASSES) == ("gemm",) * 3
    y = F.conv2d(x, w, b, **kw)
    assert_close(y, ref.conv2d(x, w, b, **kw), 1e-5, "y", scale=magnitudes(ref.conv2d, x, w, b, **kw))
    dy = randn(*y.shape, seed=33)
    check_all(F.conv2d_backward(dy, x, w, b, **kw), ref.conv2d_backward(dy, x, w, b, **kw), "conv2d",
              magnitudes(ref.conv2d_backward, dy, x, w, b, **kw))
    one, two = threads_1_and_2(lambda: (F.conv2d(x, w, b, **kw),) + F.conv2d_backward(dy, x, w, b, **kw))
    for a, c in zip(one, two):
        assert np.array_equal(a, c)
