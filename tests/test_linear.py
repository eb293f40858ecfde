import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastcnn
import fastcnn.functional as F
import reference as R
from reference import assert_close, numeric_grad, run_on_isa, threads_1_and_2


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)




@given(N=st.integers(1, 20), C=st.integers(0, 40), K=st.integers(1, 30), bias=st.booleans())
def test_forward_backward_match_float64(N, C, K, bias):
    rng = np.random.default_rng(N * 10000 + C * 100 + K)
    x, w, dy = rand(rng, N, C), rand(rng, K, C), rand(rng, N, K)
    b = rand(rng, K) if bias else None
    # sums whose terms may cancel (a single output of 20 terms): errors relative to the terms' size
    absb = None if b is None else abs(b)
    assert_close(F.linear(x, w, b), R.linear(x, w, b), what="y", scale=R.linear(abs(x), abs(w), absb))
    got, want = F.linear_backward(dy, x, w, b), R.linear_backward(dy, x, w, b)
    scales = R.linear_backward(abs(dy), abs(x), abs(w), absb)
    for name, g, r, s in zip(("dx", "dw", "db"), got, want, scales):
        if r is None:
            assert g is None
        else:
            assert g.dtype == np.float32
            assert_close(g, r, what=name, scale=s)


def test_reference_backward_matches_finite_differences():
    rng = np.random.default_rng(1)
    x, w, b, dy = (rng.standard_normal(s) for s in ((3, 4), (5, 4), (5,), (3, 5)))
    dx, dw, db = R.linear_backward(dy, x, w, b)
    assert_close(dx, numeric_grad(lambda v: R.linear(v, w, b), x.copy(), dy), 1e-7)
    assert_close(dw, numeric_grad(lambda v: R.linear(x, v, b), w.copy(), dy), 1e-7)
    assert_close(db, numeric_grad(lambda v: R.linear(x, w, v), b.copy(), dy), 1e-7)


def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(2)
    x, w, b, dy = rand(rng, 256, 300), rand(rng, 700, 300), rand(rng, 700), rand(rng, 256, 700)

    def run():
        return (F.linear(x, w, b),) + F.linear_backward(dy, x, w, b)

    one, two = threads_1_and_2(run)
    for a, c in zip(one, two):
        assert np.array_equal(a, c)
    assert_close(one[0], R.linear(x, w, b))
    assert_close(one[3], R.linear_backward(dy, x, w, b)[2])


# The LeNet-5 dense layers (batch 128 and 1000) and edges of the GEMM's tiles and blocks: batch not a
# multiple of 6 / 8 rows, outputs not a multiple of 16 / 32 columns (at most 8 in the last strip),
# inputs over several k-blocks, batch over one block of rows (more than 256).
DENSE_CASES = [(128, 400, 120), (128, 120, 84), (128, 84, 10), (1000, 400, 120), (7, 3, 5), (13, 257, 33),
               (300, 520, 17), (61, 90, 513)]


def check_dense_cases():
    rng = np.random.default_rng(6)
    for N, C, K in DENSE_CASES:
        x, w, b, dy = rand(rng, N, C), rand(rng, K, C), rand(rng, K), rand(rng, N, K)
        for bias in (b, None):
            y = F.linear(x, w, bias)
            absb = None if bias is None else abs(bias)
            assert_close(y, R.linear(x, w, bias), what=f"y {N, C, K}", scale=R.linear(abs(x), abs(w), absb))
            got, want = F.linear_backward(dy, x, w, bias), R.linear_backward(dy, x, w, bias)
            scales = R.linear_backward(abs(dy), abs(x), abs(w), absb)
            for name, g, r, s in zip(("dx", "dw", "db"), got, want, scales):
                if r is not None:
                    assert_close(g, r, what=f"{name} {N, C, K}", scale=s)


@pytest.mark.parametrize("isa", fastcnn.info()["built_isas"])
def test_dense_cases_on_every_isa(isa):
    run_on_isa(isa, "test_linear", "check_dense_cases", timeout=120)


@pytest.mark.parametrize("N, C, K", DENSE_CASES)
def test_dense_cases_thread_invariant(N, C, K):
    rng = np.random.default_rng(N + C + K)
    x, w, b, dy = rand(rng, N, C), rand(rng, K, C), rand(rng, K), rand(rng, N, K)
    one, two = threads_1_and_2(lambda: (F.linear(x, w, b),) + F.linear_backward(dy, x, w, b))
    for a, c in zip(one, two):
        assert np.array_equal(a, c)


# The bias is added in the GEMM's first k-block write: with one k-block (C <= 192 inputs on every
# ISA) that is one rounding of (x w^T)[n,k] + b[k], the bits of adding it to the bias-free result.
@pytest.mark.parametrize("N, C, K", [(128, 120, 84), (128, 84, 10), (7, 3, 5), (300, 192, 37), (1, 1, 1)])
def test_bias_in_the_first_write_rounds_once(N, C, K):
    rng = np.random.default_rng(7)
    x, w, b = rand(rng, N, C), rand(rng, K, C), rand(rng, K)
    assert np.array_equal(F.linear(x, w, b), F.linear(x, w) + b)


def test_empty_batch():
    rng = np.random.default_rng(3)
    w, b = rand(rng, 5, 4), rand(rng, 5)
    x = np.zeros((0, 4), np.float32)
    assert F.linear(x, w, b).shape == (0, 5)
    dx, dw, db = F.linear_backward(np.zeros((0, 5), np.float32), x, w, b)
    assert dx.shape == (0, 4)
    assert np.array_equal(dw, np.zeros((5, 4))) and np.array_equal(db, np.zeros(5))


def test_non_contiguous_and_float64_inputs():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 14))[:, ::2]          # float64, strided
    w = rng.standard_normal((7, 9)).T.copy().T[:5, :7]  # float64, Fortran-ordered slice
    b = rng.standard_normal(10)[::2]
    dy = np.asfortranarray(rng.standard_normal((6, 5)))
    assert_close(F.linear(x, w, b), R.linear(x, w, b))
    for g, r in zip(F.linear_backward(dy, x, w, b), R.linear_backward(dy, x, w, b)):
        assert_close(g, r)


def test_nan_propagates():
    x = np.ones((2, 3), np.float32)
    x[1, 2] = np.nan
    y = F.linear(x, np.ones((4, 3), np.float32))
    assert np.isnan(y[1]).all() and not np.isnan(y[0]).any()


def test_bad_inputs_name_the_argument():
    x, w, b = np.zeros((2, 3), np.float32), np.zeros((4, 3), np.float32), np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="'x'"):
        F.linear(np.zeros(3, np.float32), w)
    with pytest.raises(ValueError, match="'w'.*got shape \\(4, 2\\)"):
        F.linear(x, np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="'w'"):
        F.linear(x, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="'b'.*got shape \\(5,\\)"):
        F.linear(x, w, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="'b'"):
        F.linear(x, w, np.zeros((4, 1), np.float32))
    with pytest.raises(TypeError, match="'x'"):
        F.linear(np.array([["a", "b", "c"]]), w)
    with pytest.raises(TypeError, match="'w'"):
        F.linear(x, "weights")
    with pytest.raises(ValueError, match="'dy'"):
        F.linear_backward(np.zeros((2, 5), np.float32), x, w, b)
    with pytest.raises(ValueError, match="'b'"):
        F.linear_backward(np.zeros((2, 4), np.float32), x, w, np.zeros(3, np.float32))


@settings(max_examples=10)
@given(N=st.integers(1, 8), C=st.integers(0, 8), K=st.integers(1, 40))
def test_zero_weight_gives_exactly_the_bias(N, C, K):
    rng = np.random.default_rng(N + 10 * C + 100 * K)
    b = rand(rng, K)
    y = F.linear(rand(rng, N, C), np.zeros((K, C), np.float32), b)
    assert np.array_equal(y, np.broadcast_to(b, (N, K)))


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, w, b, dy = rand(rng, 7, 11), rand(rng, 6, 11), rand(rng, 6), rand(rng, 7, 6)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.linear(tx, tw, tb)
    ty.backward(torch.tensor(dy))
    assert_close(F.linear(x, w, b), ty.detach().numpy())
    for g, t in zip(F.linear_backward(dy, x, w, b), (tx, tw, tb)):
        assert_close(g, t.grad.numpy())
