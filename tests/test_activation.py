import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastcnn
import fastcnn.functional as F
import reference.activation as R
from reference import assert_close, numeric_grad, run_on_isa, with_threads

shapes = st.lists(st.integers(1, 6), min_size=0, max_size=4).map(tuple)


def away_from_zero(shape, seed=0, scale=2.0):
    """Random values with |x| >= 0.01 (no relu kinks within finite-difference reach)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.01, scale, shape) * rng.choice([-1.0, 1.0], shape)
    return np.asarray(x, np.float32)


ELEMENTWISE = [  # (name, fastcnn forward, fastcnn backward, reference forward, reference backward, kwargs)
    ("relu", F.relu, F.relu_backward, R.relu, R.relu_backward, {}),
    ("leaky_relu", F.leaky_relu, F.leaky_relu_backward, R.leaky_relu, R.leaky_relu_backward, {"alpha": 0.2}),
    ("leaky_relu_default", F.leaky_relu, F.leaky_relu_backward, R.leaky_relu, R.leaky_relu_backward, {}),
    ("elu", F.elu, F.elu_backward, R.elu, R.elu_backward, {"alpha": 0.7}),
    ("sigmoid", F.sigmoid, F.sigmoid_backward, R.sigmoid, R.sigmoid_backward, {}),
    ("tanh", F.tanh, F.tanh_backward, R.tanh, R.tanh_backward, {}),
]
ELEMENTWISE_IDS = [c[0] for c in ELEMENTWISE]


@pytest.mark.parametrize("case", ELEMENTWISE, ids=ELEMENTWISE_IDS)
@given(shape=shapes)
@settings(max_examples=15)
def test_elementwise_matches_reference(case, shape):
    _, fwd, bwd, rfwd, rbwd, kw = case
    x = away_from_zero(shape, seed=len(shape), scale=6.0)
    dy = away_from_zero(shape, seed=7)
    y = fwd(x, **kw)
    assert y.shape == x.shape and y.dtype == np.float32
    assert_close(y, rfwd(x, **kw))
    assert_close(bwd(dy, x, **kw)[0], rbwd(dy, x, **kw)[0])


@pytest.mark.parametrize("case", ELEMENTWISE, ids=ELEMENTWISE_IDS)
def test_elementwise_reference_gradients(case):
    _, _, _, rfwd, rbwd, kw = case
    x = away_from_zero((3, 4), seed=1).astype(np.float64)
    dy = away_from_zero((3, 4), seed=2).astype(np.float64)
    assert_close(rbwd(dy, x, **kw)[0], numeric_grad(lambda t: rfwd(t, **kw), x.copy(), dy), 1e-6)


@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=4).map(tuple), shared=st.booleans())
@settings(max_examples=25)
def test_prelu_matches_reference(shape, shared):
    x = away_from_zero(shape, seed=sum(shape))
    alpha = np.linspace(0.05, 0.5, 1 if shared else shape[1]).astype(np.float32)
    dy = away_from_zero(shape, seed=3)
    assert_close(F.prelu(x, alpha), R.prelu(x, alpha))
    dx, dalpha = F.prelu_backward(dy, x, alpha)
    rdx, rdalpha = R.prelu_backward(dy, x, alpha)
    assert dalpha.shape == alpha.shape
    assert_close(dx, rdx)
    assert_close(dalpha, rdalpha)


def test_prelu_reference_gradients():
    x = away_from_zero((2, 3, 4), seed=4).astype(np.float64)
    dy = away_from_zero((2, 3, 4), seed=5).astype(np.float64)
    for alpha in (np.array([0.1, 0.2, 0.3]), np.array([0.25])):
        dx, dalpha = R.prelu_backward(dy, x, alpha)
        assert_close(dx, numeric_grad(lambda t: R.prelu(t, alpha), x.copy(), dy), 1e-6)
        assert_close(dalpha, numeric_grad(lambda a: R.prelu(x, a), alpha.copy(), dy), 1e-6)


def test_prelu_large_dalpha_is_accurate():
    x = away_from_zero((3, 2, 300, 300), seed=6)
    dy = away_from_zero(x.shape, seed=7)
    for alpha in (np.array([0.1, 0.2], np.float32), np.array([0.3], np.float32)):
        assert_close(F.prelu_backward(dy, x, alpha)[1], R.prelu_backward(dy, x, alpha)[1], 1e-6)


@st.composite
def softmax_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=1, max_size=4)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return shape, axis


@given(softmax_cases(), st.sampled_from([1.0, 30.0]))
@settings(max_examples=30)
def test_softmax_matches_reference(case, scale):
    shape, axis = case
    rng = np.random.default_rng(len(shape) * 10 + axis)
    x = (rng.standard_normal(shape) * scale + 500).astype(np.float32)  # large: needs the max shift
    dy = rng.standard_normal(shape).astype(np.float32)
    y = F.softmax(x, axis)
    assert_close(y, R.softmax(x, axis))
    assert_close(F.softmax_backward(dy, x, axis)[0], R.softmax_backward(dy, x, axis)[0])
    assert_close(F.log_softmax(x, axis), R.log_softmax(x, axis))
    assert_close(F.log_softmax_backward(dy, x, axis)[0], R.log_softmax_backward(dy, x, axis)[0])


@pytest.mark.parametrize("shape, axis", [((2, 1000), 1), ((2, 50, 300), 1), ((3, 700, 2), -2), ((4, 5), 0)])
def test_softmax_wide_rows_and_blocks(shape, axis):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    assert_close(F.softmax(x, axis), R.softmax(x, axis))
    assert_close(F.softmax_backward(dy, x, axis)[0], R.softmax_backward(dy, x, axis)[0])
    assert_close(F.log_softmax(x, axis), R.log_softmax(x, axis))
    assert_close(F.log_softmax_backward(dy, x, axis)[0], R.log_softmax_backward(dy, x, axis)[0])


def test_softmax_reference_gradients():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 4, 3))
    dy = rng.standard_normal((2, 4, 3))
    for axis in (1, -1, 0):
        assert_close(R.softmax_backward(dy, x, axis)[0], numeric_grad(lambda t: R.softmax(t, axis), x.copy(), dy), 1e-6)
        assert_close(R.log_softmax_backward(dy, x, axis)[0],
                     numeric_grad(lambda t: R.log_softmax(t, axis), x.copy(), dy), 1e-6)


def test_dropout():
    x = np.random.default_rng(0).standard_normal((1000, 1000)).astype(np.float32)
    for p in (0.1, 0.5, 0.9):
        y, mask = F.dropout(x, p, True, seed=123)
        assert mask.dtype == np.uint8 and mask.shape == x.shape and set(np.unique(mask)) <= {0, 1}
        assert abs(mask.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / x.size)
        assert_close(y, R.dropout_with_mask(x, mask, p))
        dy = x[::-1].copy()
        assert_close(F.dropout_backward(dy, mask, p)[0], R.dropout_backward(dy, mask, p)[0])
        assert_close(F.dropout_backward(dy, mask.astype(bool), p)[0], R.dropout_backward(dy, mask, p)[0])
    y1, m1 = F.dropout(x, 0.5, True, seed=7)
    y2, m2 = F.dropout(x, 0.5, True, seed=7)
    y3, m3 = F.dropout(x, 0.5, True, seed=8)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(m1, m2)
    assert (m1 != m3).mean() > 0.4
    y, mask = F.dropout(x, 0.0, True, seed=1)
    assert mask.all() and np.array_equal(y, x)
    y, mask = F.dropout(x, 0.5, False)
    assert mask is None and np.array_equal(y, x) and y is not x
    assert np.array_equal(F.dropout_backward(x, None, 0.5)[0], x)


def test_dropout_and_rrelu_follow_fastcnn_seed():
    x = np.ones((100, 100), np.float32) * -1
    fastcnn.seed(42)
    a = F.dropout(x, 0.5)[1], F.rrelu(x, training=True)[1]
    fastcnn.seed(42)
    b = F.dropout(x, 0.5)[1], F.rrelu(x, training=True)[1]
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_dropout_propagates_nan_and_inf():
    x = np.array([np.nan, np.inf, 1.0] * 100, np.float32)
    y, mask = F.dropout(x, 0.5, True, seed=3)
    kept = mask == 1
    assert np.isnan(y[0::3][kept[0::3]]).all() and np.isinf(y[1::3][kept[1::3]]).all()
    assert np.isnan(y[1::3][~kept[1::3]]).all()  # inf * 0, as in PyTorch


def test_rrelu():
    x = away_from_zero((400, 500), seed=9)
    lower, upper = 0.1, 0.3
    y, slope = F.rrelu(x, lower, upper, training=True, seed=5)
    assert slope.dtype == np.float32 and slope.shape == x.shape
    neg = x < 0
    assert (slope[~neg] == 1).all()
    assert (slope[neg] >= lower).all() and (slope[neg] <= upper).all()
    assert abs(slope[neg].mean() - 0.2) < 0.002 and slope[neg].std() > 0.05
    assert_close(y, R.rrelu_with_slope(x, slope))
    dy = away_from_zero(x.shape, seed=10)
    assert_close(F.rrelu_backward(dy, slope)[0], R.rrelu_backward(dy, slope)[0])
    np.testing.assert_array_equal(F.rrelu(x, lower, upper, True, seed=5)[1], slope)
    assert (F.rrelu(x, lower, upper, True, seed=6)[1][neg] != slope[neg]).mean() > 0.9
    y, slope = F.rrelu(x, lower, upper)
    assert_close(y, R.rrelu(x, lower, upper))
    assert np.allclose(slope[neg], 0.2) and (slope[~neg] == 1).all()


def test_nan_propagates():
    x = np.array([np.nan, -1.0, 2.0, 0.0], np.float32)
    y = F.relu(x)
    assert np.isnan(y[0]) and list(y[1:]) == [0.0, 2.0, 0.0]
    assert np.array_equal(F.relu_backward(np.ones(4), x)[0][1:], [0.0, 1.0, 0.0])  # 0 at x == 0
    for fn in (F.leaky_relu, F.elu, F.sigmoid, F.tanh):
        assert np.isnan(fn(x)[0])
    assert np.isnan(F.prelu(x.reshape(1, 4), [0.1])[0, 0])
    assert np.isnan(F.softmax(x.reshape(2, 2), axis=1)[0]).all()
    assert not np.isnan(F.softmax(x.reshape(2, 2), axis=1)[1]).any()


def test_saturation_is_finite():
    x = np.array([-1000.0, -80.0, 0.0, 80.0, 1000.0], np.float32)
    np.testing.assert_allclose(F.sigmoid(x), R.sigmoid(x), rtol=1e-6, atol=0)
    np.testing.assert_allclose(F.sigmoid_backward(np.ones(5), x)[0], R.sigmoid_backward(np.ones(5), x)[0],
                               rtol=1e-5, atol=1e-40)
    assert np.isfinite(F.log_softmax(x.reshape(1, 5))).all()
    assert np.array_equal(F.softmax(x.reshape(1, 5)), [[0, 0, 0, 0, 1]])


def test_threads_give_identical_results():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 16, 32, 32)).astype(np.float32)  # 131072 elements
    dy = rng.standard_normal(x.shape).astype(np.float32)
    alpha = np.linspace(0.1, 0.3, 16).astype(np.float32)
    results = []
    old = fastcnn.get_num_threads()
    try:
        for threads in (1, 2):
            fastcnn.set_num_threads(threads)
            out = [F.relu(x), F.relu_backward(dy, x)[0], F.leaky_relu(x), F.leaky_relu_backward(dy, x)[0],
                   F.elu(x), F.elu_backward(dy, x)[0], F.sigmoid(x), F.sigmoid_backward(dy, x)[0],
                   F.tanh(x), F.tanh_backward(dy, x)[0], F.prelu(x, alpha), *F.prelu_backward(dy, x, alpha),
                   *F.prelu_backward(dy, x, alpha[:1]), *F.rrelu(x, training=True, seed=3),
                   *F.dropout(x, 0.3, True, seed=4), F.dropout_backward(dy, F.dropout(x, 0.3, True, 4)[1], 0.3)[0]]
            for axis in (1, -1, 0):
                out += [F.softmax(x, axis), F.softmax_backward(dy, x, axis)[0],
                        F.log_softmax(x, axis), F.log_softmax_backward(dy, x, axis)[0]]
            results.append(out)
    finally:
        fastcnn.set_num_threads(old)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# ---- outputs large enough for streaming stores (csrc/cpu/vec/stream.h) ----------------------------
STREAM_MIN_ELEMENTS = (32 << 20) // 4  # kStreamMinBytes / sizeof(float)

# name, kernel call (x, dy, out) writing into out, float32 numpy definition (bit-exact) or None
STREAMED = [
    ("relu", lambda x, dy, out: F.relu(x, out=out),
     lambda x, dy: np.where((x > 0) | np.isnan(x), x, np.float32(0))),
    ("relu_backward", lambda x, dy, out: F.relu_backward(dy, x, out=(out,)),
     lambda x, dy: np.where(x <= 0, np.float32(0), dy)),
    ("leaky_relu", lambda x, dy, out: F.leaky_relu(x, 0.2, out=out),
     lambda x, dy: np.where(x > 0, x, x * np.float32(0.2))),
    ("leaky_relu_backward", lambda x, dy, out: F.leaky_relu_backward(dy, x, 0.2, out=(out,)),
     lambda x, dy: np.where(x > 0, dy, dy * np.float32(0.2))),
]


def check_large_outputs():
    """Outputs above the streaming-store threshold, for an odd length and x and y starting at several
    offsets within a 64-byte line (views into larger buffers), with 1 and 2 threads: bit-identical to
    the same kernel run on pieces below the threshold (normal stores) and, where the op is exact, to
    numpy's float32 definition; elements of the buffer outside y are left alone."""
    n = STREAM_MIN_ELEMENTS + 37
    rng = np.random.default_rng(21)
    xbuf = rng.standard_normal(n + 16).astype(np.float32)
    special = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0]
    xbuf[rng.integers(0, xbuf.size, 6000)] = np.resize(np.array(special, np.float32), 6000)
    xbuf[:64] = np.resize(np.array(special, np.float32), 64)  # the unaligned heads, too
    dybuf = rng.standard_normal(n + 16).astype(np.float32)
    ybuf = np.empty(n + 32, np.float32)
    pieces = np.array_split(np.arange(n), 3)  # each below the threshold
    assert pieces[0].size * 4 < 32 << 20
    for name, kernel, exact in STREAMED:
        for ox, oy in ((0, 0), (1, 5), (7, 3), (15, 12)):  # offsets in floats: x and y in different phases
            x, dy = xbuf[ox:ox + n], dybuf[ox:ox + n]
            want = np.empty(n, np.float32)
            for p in pieces:
                kernel(x[p[0]:p[-1] + 1], dy[p[0]:p[-1] + 1], want[p[0]:p[-1] + 1])
            if exact is not None:
                np.testing.assert_array_equal(want.view(np.uint32), exact(x, dy).view(np.uint32), err_msg=name)
            for threads in (1, 2):
                ybuf.fill(7.0)  # y's pages in memory: the streaming path (a new array takes normal stores)
                y = ybuf[oy:oy + n]
                with_threads(threads, lambda: kernel(x, dy, y))
                what = f"{name} x offset {ox} y offset {oy} threads {threads}"
                np.testing.assert_array_equal(y.view(np.uint32), want.view(np.uint32), err_msg=what)
                assert (ybuf[:oy] == 7.0).all() and (ybuf[oy + n:] == 7.0).all(), what
    x = xbuf[1:n + 1]
    np.testing.assert_array_equal(F.relu(x), np.maximum(x, np.float32(0)))  # NaN stays NaN, as numpy's


def test_large_outputs():
    check_large_outputs()


@pytest.mark.parametrize("isa", fastcnn.info()["built_isas"])
def test_large_outputs_on_every_isa(isa):
    run_on_isa(isa, "test_activation", "check_large_outputs")


def test_empty_and_scalar_inputs():
    x = np.zeros((0, 3, 4), np.float32)
    for fn in (F.relu, F.sigmoid, F.tanh, F.softmax, F.log_softmax):
        assert fn(x).shape == x.shape
    assert F.softmax_backward(x, x, axis=1)[0].shape == x.shape
    dx, dalpha = F.prelu_backward(x, x, np.ones(3))
    assert dx.shape == x.shape and np.array_equal(dalpha, np.zeros(3))
    y, mask = F.dropout(x, 0.5, True, seed=1)
    assert y.shape == mask.shape == x.shape
    assert F.rrelu(x, training=True)[1].shape == x.shape
    assert F.softmax(np.zeros((2, 0, 3)), axis=1).shape == (2, 0, 3)


def test_non_contiguous_and_float64_input():
    base = away_from_zero((6, 8, 10), seed=12).astype(np.float64)
    x = base[::2, :, ::3]
    assert not x.flags.c_contiguous
    dy = np.ones(x.shape)
    assert_close(F.relu(x), R.relu(x))
    assert_close(F.tanh_backward(dy, x)[0], R.tanh_backward(dy, x)[0])
    assert_close(F.softmax(x, axis=-1), R.softmax(x, axis=-1))
    assert_close(F.prelu(x, np.full(8, 0.25)), R.prelu(x, np.full(8, 0.25)))
    assert_close(F.dropout_backward(dy[:, ::-1], np.ones(x.shape, bool), 0.5)[0], 2 * dy)
    assert_close(F.relu(x.tolist()), R.relu(x))


@pytest.mark.parametrize("call, exc, name", [
    (lambda x: F.relu(np.array(["a"])), TypeError, "x"),
    (lambda x: F.relu_backward(x[0], x), ValueError, "dy"),
    (lambda x: F.sigmoid_backward(x.T, x), ValueError, "dy"),
    (lambda x: F.leaky_relu(x, "0.1"), TypeError, "alpha"),
    (lambda x: F.elu(x, float("nan")), ValueError, "alpha"),
    (lambda x: F.prelu(x[0, 0], [0.1]), ValueError, "x"),
    (lambda x: F.prelu(x, np.ones(2)), ValueError, "alpha"),
    (lambda x: F.prelu(x, np.ones((3, 1))), ValueError, "alpha"),
    (lambda x: F.prelu_backward(x[:1], x, np.ones(3)), ValueError, "dy"),
    (lambda x: F.softmax(x, 3), ValueError, "axis"),
    (lambda x: F.log_softmax(x, -4), ValueError, "axis"),
    (lambda x: F.softmax(x, 1.0), TypeError, "axis"),
    (lambda x: F.softmax_backward(x[:, :1], x), ValueError, "dy"),
    (lambda x: F.log_softmax_backward(x, x, axis=5), ValueError, "axis"),
    (lambda x: F.dropout(x, 1.0, True), ValueError, "p"),
    (lambda x: F.dropout(x, -0.1, True), ValueError, "p"),
    (lambda x: F.dropout(x, 0.5, "yes"), TypeError, "training"),
    (lambda x: F.dropout(x, 0.5, True, seed=-1), ValueError, "seed"),
    (lambda x: F.dropout(x, 0.5, True, seed=1.5), TypeError, "seed"),
    (lambda x: F.dropout_backward(x, np.ones((2, 3), np.uint8), 0.5), ValueError, "dy"),
    (lambda x: F.dropout_backward(x, np.array(["a"] * 24).reshape(x.shape), 0.5), TypeError, "mask"),
    (lambda x: F.dropout_backward(x, np.ones(x.shape, np.uint8), 1.5), ValueError, "p"),
    (lambda x: F.rrelu(x, 0.5, 0.2), ValueError, "upper"),
    (lambda x: F.rrelu(x, -0.1, 0.2), ValueError, "lower"),
    (lambda x: F.rrelu(x, 0.1, 1.5), ValueError, "upper"),
    (lambda x: F.rrelu_backward(x[0], np.ones(x.shape)), ValueError, "dy"),
])
def test_bad_inputs_name_the_argument(call, exc, name):
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(exc, match=f"'{name}'"):
        call(x)


def test_c_front_end_checks():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="'p'"):
        fastcnn._C.dropout_forward(x, np.empty_like(x), np.empty(x.shape, np.uint8), 1.0, 0)
    with pytest.raises(ValueError, match="'mask'"):
        fastcnn._C.dropout_forward(x, np.empty_like(x), np.empty(x.shape, np.float32), 0.5, 0)
    with pytest.raises(ValueError, match="'alpha'"):
        fastcnn._C.prelu_forward(x, np.ones(2, np.float32), np.empty_like(x))
    with pytest.raises(ValueError, match="'axis'"):
        fastcnn._C.softmax_forward(x, np.empty_like(x), 2)
