// Portable packed SGEMM (plain C++ that the compiler vectorizes for the ISA it is built for).
// A is (M,K) or its transpose, B is (K,N) or its transpose, C is (M,N); see sgemm.h.
#include "cpu/gemm/sgemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/vec/vec.h"
#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

constexpr int64_t MR = 6, NR = 16;              // register tile
constexpr int64_t MC = 96, KC = 256, NC = 2048;  // cache blocks: A block in L2, B panel in L3

inline float load_a(bool t, const float* A, int64_t lda, int64_t i, int64_t k) {
  return t ? A[k * lda + i] : A[i * lda + k];
}
inline float load_b(bool t, const float* B, int64_t ldb, int64_t k, int64_t j) {
  return t ? B[j * ldb + k] : B[k * ldb + j];
}

// Packs op(A)[i0:i0+mc, p0:p0+kc] into MR-row strips, k-major within a strip, zero-padded.
void pack_a(bool t, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
            float* dst) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int64_t mr = std::min(MR, mc - ir);
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t i = 0; i < mr; ++i) dst[i] = load_a(t, A, lda, i0 + ir + i, p0 + k);
      for (int64_t i = mr; i < MR; ++i) dst[i] = 0.f;
      dst += MR;
    }
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] into NR-column strips, k-major within a strip, zero-padded.
void pack_b(bool t, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
            float* dst) {
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t nr = std::min(NR, nc - jr);
    for (int64_t k = 0; k < kc; ++k) {
      if (!t && nr == NR) {
        std::memcpy(dst, B + (p0 + k) * ldb + j0 + jr, NR * sizeof(float));
      } else {
        for (int64_t j = 0; j < nr; ++j) dst[j] = load_b(t, B, ldb, p0 + k, j0 + jr + j);
        for (int64_t j = nr; j < NR; ++j) dst[j] = 0.f;
      }
      dst += NR;
    }
  }
}

// C[0:mr, 0:nr] = alpha * a*b + (first ? beta*C : C), a is MR x kc packed, b is kc x NR packed.
// The MR x NR accumulator tile lives in registers (12 F32x8 = 12 YMM with AVX2).
void micro_kernel(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int64_t mr,
                  int64_t nr, float alpha, float beta, bool first) {
  static_assert(NR == 16, "the microkernel holds two F32x8 per row");
  using vec::F32x8;
  F32x8 acc[MR][2];
  for (int64_t i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = vec::splat8(0.f);
  for (int64_t k = 0; k < kc; ++k) {
    const F32x8 b0 = vec::load8(b + k * NR), b1 = vec::load8(b + k * NR + 8);
    const float* ak = a + k * MR;
    for (int64_t i = 0; i < MR; ++i) {
      const F32x8 ai = vec::splat8(ak[i]);
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  const F32x8 va = vec::splat8(alpha), vb = vec::splat8(beta);
  for (int64_t i = 0; i < mr; ++i) {
    float* c = C + i * ldc;
    F32x8 r0 = va * acc[i][0], r1 = va * acc[i][1];
    if (nr == NR) {
      if (!first) {
        r0 += vec::load8(c);
        r1 += vec::load8(c + 8);
      } else if (beta != 0.f) {
        r0 += vb * vec::load8(c);
        r1 += vb * vec::load8(c + 8);
      }
      vec::store8(c, r0);
      vec::store8(c + 8, r1);
    } else {
      float tmp[NR];
      vec::store8(tmp, r0);
      vec::store8(tmp + 8, r1);
      for (int64_t j = 0; j < nr; ++j) {
        const float prev = !first ? c[j] : (beta != 0.f ? beta * c[j] : 0.f);
        c[j] = tmp[j] + prev;
      }
    }
  }
}

// Per-thread packing buffers, kept between calls (no allocation in the steady state).
struct PackBuffers {
  std::vector<float> a, b;
};
PackBuffers& pack_buffers() {
  static thread_local PackBuffers bufs;
  return bufs;
}

// One (ic, jc) tile of C over all of K, in fixed k order.
void gemm_tile(bool ta, bool tb, int64_t i0, int64_t mc, int64_t j0, int64_t nc, int64_t K,
               float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
               float* C, int64_t ldc) {
  PackBuffers& buf = pack_buffers();
  const int64_t mc_pad = (mc + MR - 1) / MR * MR, nc_pad = (nc + NR - 1) / NR * NR;
  if ((int64_t)buf.a.size() < mc_pad * KC) buf.a.resize(mc_pad * KC);
  if ((int64_t)buf.b.size() < nc_pad * KC) buf.b.resize(nc_pad * KC);
  for (int64_t p0 = 0; p0 < K; p0 += KC) {
    const int64_t kc = std::min(KC, K - p0);
    const bool first = p0 == 0;
    pack_b(tb, B, ldb, p0, kc, j0, nc, buf.b.data());
    pack_a(ta, A, lda, i0, mc, p0, kc, buf.a.data());
    for (int64_t jr = 0; jr < nc; jr += NR) {
      const int64_t nr = std::min(NR, nc - jr);
      for (int64_t ir = 0; ir < mc; ir += MR) {
        const int64_t mr = std::min(MR, mc - ir);
        micro_kernel(kc, buf.a.data() + ir * kc, buf.b.data() + jr * kc,
                     C + (i0 + ir) * ldc + j0 + jr, ldc, mr, nr, alpha, beta, first);
      }
    }
  }
}

void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
}

void gemm_impl(bool parallel, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const int64_t tiles_m = (M + MC - 1) / MC, tiles_n = (N + NC - 1) / NC;
  const int64_t tiles = tiles_m * tiles_n;
  auto run = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i0 = (t % tiles_m) * MC, j0 = (t / tiles_m) * NC;
      gemm_tile(ta, tb, i0, std::min(MC, M - i0), j0, std::min(NC, N - j0), K, alpha, A, lda, B,
                ldb, beta, C, ldc);
    }
  };
  const int64_t flops = M * N * K;
  if (parallel && tiles > 1 && flops > (1 << 18))
    parallel_for(0, tiles, 0, run);
  else
    run(0, tiles);
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl(true, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc) {
  gemm_impl(false, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
