"""Host-side check of the CUDA kernels' per-element math, without a GPU.

csrc/cuda/kernels/elementwise_math.h and pool_math.h hold what each CUDA thread computes for one
element (activation formulas, the rrelu/dropout random stream, optimizer updates, the pooling
window rules and the gather form of the pooling backward). Here they are compiled with plain g++
into a small library (tests/cuda_ops_math_driver.cpp, loaded with ctypes) and compared with the CPU
kernels through fastcnn.functional and with the float64 references: the random masks and slopes
must be bit-identical to the CPU's for a seed, and so must the pooling results (same window scan
and summation order)."""
from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastcnn
import fastcnn.functional as F
import reference.activation as RA
import reference.pool as RP
from reference import assert_close

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to build the math driver")

F32P = ctypes.POINTER(ctypes.c_float)
I64 = ctypes.c_int64
RELU, LEAKY, ELU, SIGMOID, TANH = range(5)


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    so = tmp_path_factory.mktemp("cuda_math") / "libcuda_ops_math.so"
    subprocess.run(["g++", "-std=c++17", "-O2", "-shared", "-fPIC", f"-I{ROOT / 'csrc'}",
                    str(ROOT / "tests" / "cuda_ops_math_driver.cpp"), "-o", str(so)], check=True)
    return ctypes.CDLL(str(so))


def ptr(a):
    return None if a is None else a.ctypes.data_as(ctypes.c_void_p)


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def special_values(n, seed=0):
    """Normal values with NaN, +-inf, +-0, tiny and huge ones mixed in."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    extra = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, 88.0, -88.0, 20.0, -20.0],
                     dtype=np.float32)
    x[:extra.size] = extra
    return x


def run_forward(lib, op, x, alpha=0.0):
    y = np.empty_like(x)
    lib.act_forward(ctypes.c_int(op), ptr(x), ptr(y), I64(x.size), ctypes.c_float(alpha))
    return y


def run_backward(lib, op, dy, x, alpha=0.0):
    dx = np.empty_like(x)
    lib.act_backward(ctypes.c_int(op), ptr(dy), ptr(x), ptr(dx), I64(x.size), ctypes.c_float(alpha))
    return dx


# ---- activations ------------------------------------------------------------------------------------

@pytest.mark.parametrize("op,fwd,bwd,alpha", [
    (RELU, lambda x, a: F.relu(x), lambda dy, x, a: F.relu_backward(dy, x)[0], 0.0),
    (LEAKY, F.leaky_relu, lambda dy, x, a: F.leaky_relu_backward(dy, x, a)[0], 0.1),
])
def test_piecewise_linear_bit_identical_to_cpu(lib, op, fwd, bwd, alpha):
    x = special_values(1000)
    dy = special_values(1000, seed=1)[::-1].copy()
    np.testing.assert_array_equal(run_forward(lib, op, x, alpha), fwd(x, alpha))
    np.testing.assert_array_equal(run_backward(lib, op, dy, x, alpha), bwd(dy, x, alpha))


@pytest.mark.parametrize("op,fwd,bwd,ref,ref_bwd,alpha", [
    (ELU, F.elu, lambda dy, x, a: F.elu_backward(dy, x, a)[0], RA.elu, RA.elu_backward, 0.7),
    (SIGMOID, lambda x, a: F.sigmoid(x), lambda dy, x, a: F.sigmoid_backward(dy, x)[0],
     lambda x, a: RA.sigmoid(x), lambda dy, x, a: RA.sigmoid_backward(dy, x), 0.0),
    (TANH, lambda x, a: F.tanh(x), lambda dy, x, a: F.tanh_backward(dy, x)[0],
     lambda x, a: RA.tanh(x), lambda dy, x, a: RA.tanh_backward(dy, x), 0.0),
])
def test_smooth_activations(lib, op, fwd, bwd, ref, ref_bwd, alpha):
    x = special_values(2000)
    dy = np.random.default_rng(2).standard_normal(x.size).astype(np.float32)
    y, dx = run_forward(lib, op, x, alpha), run_backward(lib, op, dy, x, alpha)
    # the CPU's vec::math and libm differ by an ulp or two; NaN/inf land in the same places
    np.testing.assert_allclose(y, fwd(x, alpha), rtol=2e-6, atol=1e-37)
    np.testing.assert_allclose(dx, bwd(dy, x, alpha), rtol=4e-6, atol=1e-37)
    finite = np.isfinite(x)
    with np.errstate(all="ignore"):
        assert_close(y[finite], ref(x[finite].astype(np.float64), alpha), what="y")
        assert_close(dx[finite], ref_bwd(dy[finite].astype(np.float64), x[finite].astype(np.float64), alpha)[0],
                     what="dx")


@pytest.mark.parametrize("shape,shared", [((3, 5, 7), False), ((2, 4), False), ((2, 3, 4, 5), True)])
def test_prelu_matches_cpu(lib, shape, shared):
    rng = np.random.default_rng(3)
    x = f32(rng.standard_normal(shape))
    x.flat[0] = np.nan
    dy = f32(rng.standard_normal(shape))
    C = shape[1]
    alpha = f32(rng.uniform(0, 0.5, 1 if shared else C))
    N, S = shape[0], int(np.prod(shape[2:]))
    y = np.empty_like(x)
    lib.prelu(ptr(x), ptr(alpha), ptr(y), I64(N), I64(C), I64(S), ctypes.c_int(shared))
    np.testing.assert_array_equal(y, F.prelu(x, alpha))
    dx, dalpha = np.empty_like(x), np.empty_like(alpha)
    x.flat[0] = 0.5
    lib.prelu_backward(ptr(dy), ptr(x), ptr(alpha), ptr(dx), ptr(dalpha), I64(N), I64(C), I64(S),
                       ctypes.c_int(shared))
    want_dx, want_dalpha = F.prelu_backward(dy, x, alpha)
    np.testing.assert_array_equal(dx, want_dx)
    np.testing.assert_allclose(dalpha, want_dalpha, rtol=1e-6)


# ---- the random stream: the CPU's masks and slopes, bit for bit ----------------------------------

@pytest.mark.parametrize("n,p,seed", [(1, 0.5, 0), (1000, 0.5, 1), (4099, 0.1, 2**64 - 1), (777, 0.9, 12345)])
def test_dropout_mask_equals_cpu(lib, n, p, seed):
    x = special_values(n, seed=n) if n >= 13 else np.ones(n, np.float32)
    y, mask = np.empty_like(x), np.empty(n, np.uint8)
    lib.dropout(ptr(x), ptr(y), ptr(mask), I64(n), ctypes.c_float(p), ctypes.c_uint64(seed))
    want_y, want_mask = F.dropout(x, p, True, seed)
    np.testing.assert_array_equal(mask, want_mask)
    np.testing.assert_array_equal(y, want_y)
    dy = np.random.default_rng(4).standard_normal(n).astype(np.float32)
    dx = np.empty_like(dy)
    lib.dropout_backward(ptr(dy), ptr(mask), ptr(dx), I64(n), ctypes.c_float(p))
    np.testing.assert_array_equal(dx, F.dropout_backward(dy, want_mask, p)[0])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("seed", [0, 7, 2**63 + 5])
def test_rrelu_slopes_equal_cpu(lib, training, seed):
    x = special_values(3001, seed=5)
    y, slope = np.empty_like(x), np.empty_like(x)
    lib.rrelu(ptr(x), ptr(y), ptr(slope), I64(x.size), ctypes.c_float(0.1), ctypes.c_float(0.3),
              ctypes.c_int(training), ctypes.c_uint64(seed))
    want_y, want_slope = F.rrelu(x, 0.1, 0.3, training, seed)
    if fastcnn.info()["isa"] == "baseline":  # the CPU's no-FMA build rounds lower + u*range twice
        np.testing.assert_allclose(slope, want_slope, rtol=2.5e-7)
        return
    np.testing.assert_array_equal(slope, want_slope)
    np.testing.assert_array_equal(y, want_y)


# ---- optimizers --------------------------------------------------------------------------------------

def _state(n, seed):
    rng = np.random.default_rng(seed)
    return [f32(rng.standard_normal(n)) for _ in range(4)]


@pytest.mark.parametrize("momentum,nesterov,wd", [(0.0, False, 0.0), (0.9, False, 1e-2), (0.9, True, 0.0)])
def test_sgd_matches_cpu(lib, momentum, nesterov, wd):
    p, g, v, _ = _state(257, 6)
    p2, v2 = p.copy(), v.copy()
    for _ in range(3):
        lib.sgd(ptr(p), ptr(g), ptr(v) if momentum else None, I64(p.size), ctypes.c_double(0.05),
                ctypes.c_double(momentum), ctypes.c_int(nesterov), ctypes.c_double(wd))
        F.sgd_step(p2, g, v2 if momentum else None, 0.05, momentum, nesterov, wd)
    np.testing.assert_allclose(p, p2, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(v, v2, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("wd,decoupled", [(0.0, False), (0.01, False), (0.01, True)])
def test_adam_matches_cpu(lib, wd, decoupled):
    p, g, _, _ = _state(300, 7)
    m, v = np.zeros_like(p), np.zeros_like(p)
    p2, m2, v2 = p.copy(), m.copy(), v.copy()
    for step in range(1, 4):
        lib.adam(ptr(p), ptr(g), ptr(m), ptr(v), I64(p.size), I64(step), ctypes.c_double(1e-2),
                 ctypes.c_double(0.9), ctypes.c_double(0.999), ctypes.c_double(1e-8), ctypes.c_double(wd),
                 ctypes.c_int(decoupled))
        F.adam_step(p2, g, m2, v2, step, 1e-2, 0.9, 0.999, 1e-8, wd, decoupled)
    for got, want in ((p, p2), (m, m2), (v, v2)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_rmsprop_matches_cpu(lib):
    p, g, _, _ = _state(131, 8)
    sq = np.zeros_like(p)
    p2, sq2 = p.copy(), sq.copy()
    for _ in range(3):
        lib.rmsprop(ptr(p), ptr(g), ptr(sq), I64(p.size), ctypes.c_double(1e-2), ctypes.c_double(0.99),
                    ctypes.c_double(1e-8))
        F.rmsprop_step(p2, g, sq2, 1e-2, 0.99, 1e-8)
    np.testing.assert_allclose(p, p2, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sq, sq2, rtol=1e-6, atol=1e-12)


# ---- pooling: window rules and the gather backward ------------------------------------------------

def pool_geometry(shape, k, s, padding, ceil_mode):
    s = k if s is None else s
    pads = RP.pool_pads(padding, shape[2:], k, s)
    P, Q = (RP.pool_output_size(n, kk, ss, a, b, ceil_mode) for n, kk, ss, (a, b) in zip(shape[2:], k, s, pads))
    return np.array([*shape, P, Q, *k, *s, pads[0][0], pads[0][1], pads[1][0], pads[1][1]], np.int64), (P, Q)


def run_pool(lib, is_max, x, dy, geom, yshape, cip):
    y = np.empty(yshape, np.float32)
    lib.pool_forward(ctypes.c_int(is_max), ptr(x), ptr(y), ptr(geom), ctypes.c_int(cip))
    dx = np.empty_like(x)
    lib.pool_backward(ctypes.c_int(is_max), ptr(dy), ptr(x), ptr(dx), ptr(geom), ctypes.c_int(cip))
    tiled = np.full_like(x, np.nan)
    if lib.pool_backward_tiled(ctypes.c_int(is_max), ptr(dy), ptr(x), ptr(tiled), ptr(geom), ctypes.c_int(cip)):
        np.testing.assert_array_equal(tiled, dx)  # the one-thread-per-window path: same values
    return y, dx


def check_pool(lib, x, k, s, padding, ceil_mode, cip):
    geom, (P, Q) = pool_geometry(x.shape, k, s, padding, ceil_mode)
    if min(P, Q) < 1:
        return
    yshape = x.shape[:2] + (P, Q)
    dy = f32(np.random.default_rng(9).standard_normal(yshape))
    y, dx = run_pool(lib, 1, x, dy, geom, yshape, cip)
    # same window scan, same summation order as the CPU kernels: equal bit for bit
    np.testing.assert_array_equal(y, F.max_pool2d(x, k, s, padding, ceil_mode))
    np.testing.assert_array_equal(dx, F.max_pool2d_backward(dy, x, k, s, padding, ceil_mode)[0])
    if not np.isnan(x).any():
        assert_close(dx, RP.max_pool2d_backward(dy, x, k, s, padding, ceil_mode)[0], what="max dx")
    y, dx = run_pool(lib, 0, x, dy, geom, yshape, cip)
    np.testing.assert_array_equal(y, F.avg_pool2d(x, k, s, padding, ceil_mode, cip))
    np.testing.assert_array_equal(dx, F.avg_pool2d_backward(dy, x, k, s, padding, ceil_mode, cip)[0])
    assert_close(dx, RP.avg_pool2d_backward(dy, x, k, s, padding, ceil_mode, cip)[0], what="avg dx")


@pytest.mark.parametrize("shape,k,s,padding,ceil_mode,cip", [
    ((2, 3, 8, 8), (2, 2), None, 0, False, True),           # LeNet: windows tile x
    ((1, 2, 9, 6), (3, 2), None, 0, True, False),           # tiles x, non-square
    ((1, 2, 13, 13), (3, 3), (2, 2), 0, False, True),       # AlexNet: overlapping windows
    ((1, 2, 7, 9), (3, 3), (1, 1), 1, False, False),        # GoogLeNet branch, padded
    ((1, 1, 7, 7), (3, 3), (2, 2), 1, True, True),          # ceil_mode with a clipped last window
    ((2, 2, 5, 6), (2, 3), (2, 1), ((1, 0), (0, 1)), True, False),  # asymmetric padding
    ((1, 1, 9, 5), (4, 2), (3, 2), "same", False, True),
])
def test_pool_ties_and_geometry(lib, shape, k, s, padding, ceil_mode, cip):
    rng = np.random.default_rng(10)
    ties = f32(rng.integers(0, 3, shape))  # many equal maxima: the first in scan order wins
    check_pool(lib, ties, k, s, padding, ceil_mode, cip)
    with_nan = f32(rng.standard_normal(shape))
    with_nan.flat[:: 7] = np.nan  # a NaN anywhere in a window wins (the last one scanned)
    with_nan.flat[3] = -np.inf
    check_pool(lib, with_nan, k, s, padding, ceil_mode, cip)


@settings(max_examples=30, deadline=None)
@given(k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       s=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
       hw=st.tuples(st.integers(1, 9), st.integers(1, 9)), pads=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       ceil_mode=st.booleans(), cip=st.booleans())
def test_pool_random_geometry(lib, k, s, hw, pads, ceil_mode, cip):
    padding = (min(pads[0], k[0] // 2), min(pads[1], k[1] // 2))
    x = f32(np.random.default_rng(sum(hw)).standard_normal((2, 2) + hw))
    check_pool(lib, x, k, s, padding, ceil_mode, cip)


@pytest.mark.parametrize("k,s,pad,out", [(3, 2, 1, 5), (2, 2, 0, 4), (3, 1, 1, 9), (4, 3, 2, 4), (1, 3, 0, 3)])
def test_covering_outputs_brute_force(lib, k, s, pad, out):
    lo_hi = np.empty(2, np.int64)
    for i in range(out * s + k):
        lib.covering_outputs(I64(i), I64(k), I64(s), I64(pad), I64(out), ptr(lo_hi))
        want = [o for o in range(out) if o * s - pad <= i < o * s - pad + k]
        got = list(range(lo_hi[0], lo_hi[1]))
        assert got == want, (i, got, want)
