
import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastcnn
from fastcnn import _C
from reference import assert_close, run_on_isa, threads_1_and_2


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
# N = 196 and 36 end in a strip of 4 columns (with AVX-512: micro_kernel_cols over 4 tiles of rows,
# 300 and 1000 rows leaving partial groups); K = 250 is one block with the AVX-512 tiling.
@pytest.mark.parametrize("M, N, K", [(300, 2500, 700), (1000, 150, 530), (300, 196, 700), (1000, 36, 530),
                                     (260, 196, 250)])
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


# Edges of every ISA's register tile (6x16, 8x32) and cache blocks, both transposes, beta; problems
# small enough (N, K <= 512) for A to be read in place when not transposed, with A in one block
# (M <= 256) and in several (300, 530).
ISA_CASES = [(1, 1, 1), (7, 33, 5), (13, 47, 257), (64, 3136, 576), (96, 100, 363), (9, 70, 1000),
             (128, 120, 400), (300, 37, 270), (530, 600, 130)]


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


# op(A) = A is read in place (no packing) when C has at most 512 columns and K is at most 512, and
# op(B) = B's whole strips too when A is also one block (M <= 256); A^T and B^T are always packed. With alpha = 1 and beta 0 or
# 1 (every caller in fastcnn) the four ways give the same bits (same products, same order); other
# alpha / beta may round differently between them, but never with the thread count. Edge rows (M not a
# multiple of 6 or 8), narrow last strips (N % 16 <= 8), K over several k-blocks, A in one block or
# several (M = 300, 530: rows split between threads), a row stride of B that is a multiple of 64, K
# over 512 (packed).
@pytest.mark.parametrize("M, N, K", [(128, 120, 400), (128, 84, 120), (128, 10, 84), (5, 3, 7), (1, 40, 33),
                                     (131, 513, 65), (300, 37, 270), (530, 120, 400), (64, 512, 1000),
                                     (120, 128, 130)])
def test_sgemm_operands_in_place_same_bits_as_packed(M, N, K):
    rng = np.random.default_rng(M + 7 * N + 31 * K)
    A = rng.standard_normal((M, K)).astype(np.float32)
    B = rng.standard_normal((K, N)).astype(np.float32)
    C = rng.standard_normal((M, N)).astype(np.float32)
    ops = [(A, B, False, False), (np.ascontiguousarray(A.T), B, True, False),
           (A, np.ascontiguousarray(B.T), False, True), (np.ascontiguousarray(A.T), np.ascontiguousarray(B.T), True, True)]
    want64 = A.astype(np.float64) @ B.astype(np.float64)
    scale64 = np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64))
    for alpha, beta in ((1.0, 0.0), (1.0, 1.0), (0.75, -0.5)):
        results = []
        for a, b, ta, tb in ops:
            one, two = threads_1_and_2(lambda: run(a, b, ta, tb, alpha, beta, C))
            assert np.array_equal(one, two), (M, N, K, ta, tb, alpha, beta)
            want, scale = alpha * want64 + beta * C, abs(alpha) * scale64 + abs(beta) * np.abs(C)
            assert np.linalg.norm(one - want) <= 1e-5 * np.linalg.norm(scale), (M, N, K, ta, tb, alpha, beta)
            results.append(one)
        if alpha == 1.0:
            for got in results[1:]:
                assert np.array_equal(got, results[0]), (M, N, K, alpha, beta)


def test_sgemm_bad_shapes():
    with pytest.raises(ValueError, match="argument 'b'"):
        run(np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32), False, False)
