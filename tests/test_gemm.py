
import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastcnn
from fastcnn import _C
from reference import assert_close, run_on_isa


def run(a, b, ta, tb, alpha=1.0, beta=0.0, c=None):
    M = a.shape[1] if ta else a.shape[0]
    N = b.shape[0] if tb else b.shape[1]
    c = np.zeros((M, N), np.float32) if c is None else c.copy()
    _C.sgemm(a, b, c, ta, tb, alpha, beta)
    return c


@given(M=st.integers(1, 40), N=st.integers(1, 40), K=st.integers(0, 300), ta=st.booleans(), tb=st.booleans(),
       beta=st.sampled_from([0.0, 1.0, -0.5]))
def test_sgemm_matches_float64(M, N, K, ta, tb, beta):
    rng = np.random.default_rng(M * 1000 + N * 10 + K)
    A = rng.standard_normal((M, K)).astype(np.float32)
    B = rng.standard_normal((K, N)).astype(np.float32)
    C = rng.standard_normal((M, N)).astype(np.float32)
    a = np.ascontiguousarray(A.T) if ta else A
    b = np.ascontiguousarray(B.T) if tb else B
    got = run(a, b, ta, tb, 0.5, beta, C)
    want = 0.5 * A.astype(np.float64) @ B.astype(np.float64) + beta * C
    # Relative to the magnitudes summed, not the result: a 1x1 result can cancel to near zero.
    scale = 0.5 * np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64)) + abs(beta) * np.abs(C)
    assert np.linalg.norm(got - want) <= 1e-5 * np.linalg.norm(scale)


# Wide C (threads split its columns) and tall C (threads split its rows); K spans several cache blocks.
@pytest.mark.parametrize("M, N, K", [(300, 2500, 700), (1000, 150, 530)])
def test_sgemm_large_and_thread_invariant(M, N, K):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((M, K)).astype(np.float32)
    B = rng.standard_normal((K, N)).astype(np.float32)
    old = fastcnn.get_num_threads()
    try:
        fastcnn.set_num_threads(1)
        c1 = run(A, B, False, False)
        fastcnn.set_num_threads(2)
        c2 = run(A, B, False, False)
    finally:
        fastcnn.set_num_threads(old)
    assert np.array_equal(c1, c2)
    assert_close(c1, A.astype(np.float64) @ B.astype(np.float64), 1e-5)


# Edges of every ISA's register tile (6x16, 8x32) and cache blocks, both transposes, beta.
ISA_CASES = [(1, 1, 1), (7, 33, 5), (13, 47, 257), (64, 3136, 576), (96, 100, 363), (9, 70, 1000)]


def check_isa_cases():
    rng = np.random.default_rng(1)
    for M, N, K in ISA_CASES:
        for ta, tb, beta in ((False, False, 0.0), (True, False, 1.0), (False, True, -0.5), (True, True, 0.0)):
            A = rng.standard_normal((M, K)).astype(np.float32)
            B = rng.standard_normal((K, N)).astype(np.float32)
            C = rng.standard_normal((M, N)).astype(np.float32)
            got = run(np.ascontiguousarray(A.T) if ta else A, np.ascontiguousarray(B.T) if tb else B, ta, tb,
                      1.5, beta, C)
            want = 1.5 * A.astype(np.float64) @ B.astype(np.float64) + beta * C
            scale = 1.5 * np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64)) + abs(beta) * np.abs(C)
            assert np.linalg.norm(got - want) <= 1e-5 * np.linalg.norm(scale), (M, N, K, ta, tb, beta)


@pytest.mark.parametrize("isa", fastcnn.info()["built_isas"])
def test_sgemm_on_every_isa(isa):
    run_on_isa(isa, "test_gemm", "check_isa_cases", timeout=120)


def test_sgemm_bad_shapes():
    with pytest.raises(ValueError, match="argument 'b'"):
        run(np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32), False, False)
