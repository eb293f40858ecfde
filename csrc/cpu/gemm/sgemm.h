// Single-precision GEMM shared by convolution, linear and friends.
//
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
//   op(A) = A (row-major, lda >= K) or A^T (A stored K x M, lda >= M); likewise for B.
//
// Cache-blocked and packed (BLIS loop order: jc -> pc -> ic -> microkernel), with a register tile
// per ISA (6x16 YMM on avx2, 8x32 ZMM on avx512). Each element of C is accumulated over K in the
// same order whatever the thread count, so results are bit-identical with 1 or many threads and
// between sgemm and sgemm_serial. sgemm() gives each OpenMP thread a slice of C's columns (or rows)
// unless called from inside a parallel region; sgemm_serial() never spawns threads (for use inside
// per-sample parallel loops). sgemm_bias() is sgemm with alpha = 1 and, instead of beta * C, a bias
// per column added in the first k-block's write (C[i,j] = op(A)op(B)[i,j] + bias[j], bias has N
// values): the same bits as seeding C with the bias and beta = 1, without the seeding pass.
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_GEMM_KERNELS                                                                      \
  void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,            \
             const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,      \
             int64_t ldc);                                                                        \
  void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,     \
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, \
                    int64_t ldc);                                                                 \
  void sgemm_bias(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,    \
                  int64_t lda, const float* B, int64_t ldb, const float* bias, float* C,          \
                  int64_t ldc);

FASTCNN_DECLARE_KERNELS(FASTCNN_GEMM_KERNELS)
