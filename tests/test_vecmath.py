"""fastcnn::vec float32 math (csrc/cpu/vec/math.h) against float64 numpy over the float range.

The functions are reached through the test-only _C._vec_math(name, x, y). Bounds are max relative
error for normal results; results in the denormal range must be within one denormal step, and
results that overflow / underflow in float32 must be exactly inf / 0 (within one step).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastcnn
import fastcnn.functional as F
from fastcnn import _C

TINY = np.float32(2.0**-149)  # smallest denormal: the step in the denormal range

# name -> (float64 reference, max relative error); measured maxima are 0.82e-7, 1.15e-7, 1.8e-7, 1.73e-7
FUNCS = {
    "exp": (np.exp, 1.5e-7),
    "expm1": (np.expm1, 2e-7),
    "tanh": (np.tanh, 2e-7),
    "sigmoid": (lambda x: np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x)))),
                2.5e-7),
}
NAMES = list(FUNCS)


def vec_math(name, x):
    x = np.ascontiguousarray(x, np.float32)
    y = np.empty_like(x)
    _C._vec_math(name, x, y)
    return y


def reference(name, x):
    with np.errstate(over="ignore", invalid="ignore"):
        return FUNCS[name][0](x.astype(np.float64))


def check(name, x):
    """Asserts the error bounds on x; returns the max relative error over normal results."""
    y, r = vec_math(name, x), reference(name, x)
    with np.errstate(over="ignore"):
        r32 = r.astype(np.float32)
    nan = np.isnan(r)
    assert np.array_equal(np.isnan(y), nan), x[np.isnan(y) != nan][:5]
    inf = np.isinf(r32)
    assert np.array_equal(y[inf], r32[inf]), x[inf][y[inf] != r32[inf]][:5]
    fin = ~nan & ~inf
    y, r, xs = y[fin].astype(np.float64), r[fin], x[fin]
    err = np.abs(y - r)
    normal = np.abs(r) >= np.finfo(np.float32).tiny
    rel = err[normal] / np.abs(r[normal])
    bound = FUNCS[name][1]
    assert rel.size == 0 or rel.max() <= bound, (xs[normal][rel.argmax()], rel.max())
    assert (err[~normal] <= TINY).all(), xs[~normal][err[~normal].argmax()]
    return rel.max() if rel.size else 0.0


@pytest.mark.parametrize("name", NAMES)
def test_dense_sweep_of_minus_100_to_100(name):
    check(name, np.linspace(-100, 100, 4_000_001, dtype=np.float32))


@pytest.mark.parametrize("name", NAMES)
def test_tiny_magnitudes_and_denormals(name):
    mag = np.logspace(-45.5, 0.5, 1_000_000).astype(np.float32)
    check(name, np.concatenate([mag, -mag]))


@pytest.mark.parametrize("name", NAMES)
def test_every_exponent(name):
    """Bit patterns 0 .. 2^32 with an odd stride: every exponent and sign, NaNs and infinities."""
    bits = np.arange(0, 2**32, 1021, dtype=np.uint64).astype(np.uint32)
    check(name, bits.view(np.float32))


@pytest.mark.parametrize("name", NAMES)
def test_edges(name):
    f32 = np.finfo(np.float32)
    edges = [88.72283, 88.72284, 88.7, 89.0, -87.33654, -87.34, -103.27893, -103.97208, -103.98, -104.0,
             -17.9, -18.0, -18.1, 0.625, -0.625, 0.6249999, 0.34657359, -0.34657359, 9.0, 10.0, 44.0,
             f32.max, -f32.max, f32.tiny, -f32.tiny, 2.0**-30, -(2.0**-30)]
    x = np.array(edges, np.float32)
    with np.errstate(over="ignore"):
        check(name, np.concatenate([x, np.nextafter(x, np.inf), np.nextafter(x, -np.inf)]))


def test_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, TINY, -TINY], np.float32)
    want = {
        "exp": [np.nan, np.inf, 0.0, 1.0, 1.0, 1.0, 1.0],
        "expm1": [np.nan, np.inf, -1.0, 0.0, -0.0, TINY, -TINY],
        "tanh": [np.nan, 1.0, -1.0, 0.0, -0.0, TINY, -TINY],
        "sigmoid": [np.nan, 1.0, 0.0, 0.5, 0.5, 0.5, 0.5],
    }
    for name, w in want.items():
        y, w = vec_math(name, x), np.array(w, np.float32)
        assert np.array_equal(y, w, equal_nan=True), (name, y)
        assert np.array_equal(np.signbit(y[1:]), np.signbit(w[1:])), (name, y)  # -0 stays -0


@pytest.mark.parametrize("name", NAMES)
def test_vector_body_and_tail_agree(name):
    """Element values do not depend on where they fall in the vectorized loop (body or tail)."""
    x = np.random.default_rng(0).uniform(-30, 30, 1001).astype(np.float32)
    y = vec_math(name, x)
    for start in range(1, 9):
        assert np.array_equal(vec_math(name, x[start:]), y[start:])
    assert np.array_equal(np.concatenate([vec_math(name, x[i:i + 1]) for i in range(40)]), y[:40])


@given(st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), min_size=1, max_size=50))
@settings(max_examples=40)
def test_arbitrary_floats(values):
    x = np.array(values, np.float32)
    for name in NAMES:
        check(name, x)


def test_unknown_name_is_rejected():
    with pytest.raises(ValueError, match="'name'"):
        vec_math("log", np.zeros(3, np.float32))


def test_activations_saturate_without_nan():
    x = np.array([-np.inf, -200, -100, -88.8, 0, 88.8, 100, 200, np.inf, np.nan], np.float32)
    with np.errstate(over="ignore"):
        assert np.array_equal(F.sigmoid(x), vec_math("sigmoid", x), equal_nan=True)
    assert np.array_equal(F.sigmoid(x)[[0, 1, 7, 8]], [0, 0, 1, 1])
    assert np.array_equal(F.tanh(x)[[0, 1, 7, 8]], [-1, -1, 1, 1])
    assert np.array_equal(F.elu(x)[[0, 1, 7, 8]], [-1, -1, 200, np.inf])
    for fn in (F.sigmoid, F.tanh, F.elu):
        y = fn(x)
        assert np.isnan(y[-1]) and not np.isnan(y[:-1]).any()
        dx = getattr(F, fn.__name__ + "_backward")(np.ones_like(x), x)[0]
        assert np.isnan(dx[-1]) and not np.isnan(dx[:-1]).any()
