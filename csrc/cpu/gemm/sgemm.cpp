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

// Register tile MR x NR: NV vectors of vec::kLanes floats per row, MR*NV accumulators.
//  - avx512: 8 x 32, 16 ZMM accumulators + 2 ZMM of B (of 32); A's values are broadcast from memory.
//  - avx2 and baseline: 6 x 16, 12 YMM accumulators + 2 of B + 1 broadcast (of 16).
// Cache blocks: a kc x NR micro-panel of B stays in L1 (Zen 5: 48 KB) while the MC x kc block of
// A (in L2, 1 MB; 270 KB at most) streams past it; the kc x NC panel of B is packed once for all
// blocks of A and lives in L3 - or, with one block of A, a few strips at a time in L2 (gemm_block).
// Measured on Zen 5 (AVX2): the block sizes matter little (MC 96..288, KC 192..512, NC 512..4096
// within 5%); the packing cost is what separates it from OpenBLAS on the conv shapes.
constexpr int64_t NV = 2, NR = NV * vec::kLanes;
constexpr bool kZmm = vec::kLanes == 16;  // the avx512 tiling (and FASTCNN_LANES16 test builds)
constexpr int64_t MR = kZmm ? 8 : 6, MC = kZmm ? 256 : 264, KC = kZmm ? 192 : 256, NC = 4096;
static_assert(MC % MR == 0 && NC % NR == 0, "cache blocks hold whole register tiles");

inline float load_a(bool t, const float* A, int64_t lda, int64_t i, int64_t k) {
  return t ? A[k * lda + i] : A[i * lda + k];
}
inline float load_b(bool t, const float* B, int64_t ldb, int64_t k, int64_t j) {
  return t ? B[j * ldb + k] : B[k * ldb + j];
}

// Packs op(A)[i0:i0+mc, p0:p0+kc] into MR-row strips, k-major within a strip, zero-padded.
// Whole strips copy MR values per k with constant trip counts (no per-element branching).
void pack_a(bool t, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
            float* dst) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int64_t mr = std::min(MR, mc - ir);
    if (mr == MR && t) {
      for (int64_t k = 0; k < kc; ++k, dst += MR)
        std::memcpy(dst, A + (p0 + k) * lda + i0 + ir, MR * sizeof(float));
    } else if (mr == MR) {
      const float* src = A + (i0 + ir) * lda + p0;
      for (int64_t k = 0; k < kc; ++k, dst += MR)
        for (int64_t i = 0; i < MR; ++i) dst[i] = src[i * lda + k];
    } else {
      for (int64_t k = 0; k < kc; ++k, dst += MR) {
        for (int64_t i = 0; i < mr; ++i) dst[i] = load_a(t, A, lda, i0 + ir + i, p0 + k);
        for (int64_t i = mr; i < MR; ++i) dst[i] = 0.f;
      }
    }
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] into NR-column strips, k-major within a strip, zero-padded.
// B not transposed: whole strips go kStripGroup at a time, so that each row of B is read in runs
// of kStripGroup * NR floats (fewer pages and cache lines touched per byte than strip by strip).
constexpr int64_t kStripGroup = 4;

// dst[c * ldd + r] = src[r * ld + c] for an 8 x 8 block, through registers: the shuffles are the
// unpack / shufps / 128-bit-lane steps of the usual AVX transpose.
void transpose8x8(const float* src, int64_t ld, float* dst, int64_t ldd) {
  using vec::F32x8;
  typedef int I32x8 __attribute__((vector_size(32)));
  F32x8 r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = vec::load8(src + i * ld);
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shuffle(r[i], r[i + 1], I32x8{0, 8, 1, 9, 4, 12, 5, 13});
    t[i + 1] = __builtin_shuffle(r[i], r[i + 1], I32x8{2, 10, 3, 11, 6, 14, 7, 15});
  }
  for (int h = 0; h < 8; h += 4) {
    u[h] = __builtin_shuffle(t[h], t[h + 2], I32x8{0, 1, 8, 9, 4, 5, 12, 13});
    u[h + 1] = __builtin_shuffle(t[h], t[h + 2], I32x8{2, 3, 10, 11, 6, 7, 14, 15});
    u[h + 2] = __builtin_shuffle(t[h + 1], t[h + 3], I32x8{0, 1, 8, 9, 4, 5, 12, 13});
    u[h + 3] = __builtin_shuffle(t[h + 1], t[h + 3], I32x8{2, 3, 10, 11, 6, 7, 14, 15});
  }
  for (int c = 0; c < 4; ++c) {
    vec::store8(dst + c * ldd, __builtin_shuffle(u[c], u[c + 4], I32x8{0, 1, 2, 3, 8, 9, 10, 11}));
    vec::store8(dst + (c + 4) * ldd, __builtin_shuffle(u[c], u[c + 4], I32x8{4, 5, 6, 7, 12, 13, 14, 15}));
  }
}

void pack_b(bool t, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
            float* dst) {
  int64_t jr = 0;
  if (!t) {
    const int64_t whole = nc / NR * NR;
    for (; jr < whole; jr += kStripGroup * NR) {
      const int64_t strips = std::min(kStripGroup, (whole - jr) / NR);
      const float* src = B + p0 * ldb + j0 + jr;
      float* d = dst + jr * kc;
      for (int64_t k = 0; k < kc; ++k, src += ldb) {
        __builtin_prefetch(src + 4 * ldb);
        __builtin_prefetch(src + 4 * ldb + strips * NR - 1);
        for (int64_t s = 0; s < strips; ++s)
          std::memcpy(d + (s * kc + k) * NR, src + s * NR, NR * sizeof(float));
      }
    }
    jr = whole;
  } else {
    // B transposed (stored N x K): whole strips and whole 8-blocks of k as 8 x 8 transposes
    const int64_t whole = nc / NR * NR, k8 = kc / 8 * 8;
    for (; jr < whole; jr += NR) {
      const float* src = B + (j0 + jr) * ldb + p0;
      float* d = dst + jr * kc;
      for (int64_t k = 0; k < k8; k += 8)
        for (int64_t j = 0; j < NR; j += 8) transpose8x8(src + j * ldb + k, ldb, d + k * NR + j, NR);
      for (int64_t k = k8; k < kc; ++k)
        for (int64_t j = 0; j < NR; ++j) d[k * NR + j] = src[j * ldb + k];
    }
  }
  for (; jr < nc; jr += NR) {
    const int64_t nr = std::min(NR, nc - jr);
    float* d = dst + jr * kc;
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t j = 0; j < nr; ++j) d[j] = load_b(t, B, ldb, p0 + k, j0 + jr + j);
      for (int64_t j = nr; j < NR; ++j) d[j] = 0.f;
      d += NR;
    }
  }
}

// C[0:mr, 0:nr] = alpha * a*b + (first ? bias or beta*C : C). b is kc x NR, packed (row k at
// b + k * NR) or, kInPlaceB, op(B)'s rows read in place (row k at b + k * ldb; whole strips only). a is either
// packed (MR x kc, k-major: element (i,k) at a[k * MR + i]; lda == 0) or op(A)'s rows read in place
// (kRowsA: (i,k) at a[i * lda + k]; rows past mr repeat the last row, their sums are discarded).
// bias (the tile's columns, or null) replaces beta*C in the first k-block: fl(acc + bias[j]), the
// value that seeding C with the bias and beta = 1 gave. The MR x (NVK * kLanes) accumulator tile
// lives in registers: NVK = NV, or 1 for a last strip of C at most one vector wide (each lane's
// arithmetic is the same either way, and the same whether A is packed or not; a last strip of at
// most 8 columns with packed A and MR = 8 goes to micro_kernel_cols instead, same arithmetic).
template <int64_t NVK, bool kRowsA, bool kInPlaceB>
void micro_kernel(int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb, float* C,
                  int64_t ldc, int64_t mr, int64_t nr, float alpha, float beta, bool first,
                  const float* bias) {
  using vec::F32v;
  constexpr int64_t L = vec::kLanes, NV = NVK, NT = NVK * L;  // NT: the columns computed
  const int64_t bk_stride = kInPlaceB ? ldb : NR;
  for (int64_t i = 0; i < mr; ++i) {  // C's tile is read and written after the k loop
    __builtin_prefetch(C + i * ldc, 1);
    __builtin_prefetch(C + i * ldc + NT - 1, 1);
  }
  F32v acc[MR][NV];
  for (int64_t i = 0; i < MR; ++i)
    for (int64_t v = 0; v < NV; ++v) acc[i][v] = vec::splatv(0.f);
  if constexpr (kRowsA) {
    const float* ar[MR];
    for (int64_t i = 0; i < MR; ++i) ar[i] = a + std::min(i, mr - 1) * lda;
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k) {
      F32v bk[NV];
      for (int64_t v = 0; v < NV; ++v) bk[v] = vec::loadv(b + k * bk_stride + v * L);
      for (int64_t i = 0; i < MR; ++i) {
        const F32v ai = vec::splatv(ar[i][k]);
        for (int64_t v = 0; v < NV; ++v) acc[i][v] += ai * bk[v];
      }
    }
  } else {
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k) {
      F32v bk[NV];
      for (int64_t v = 0; v < NV; ++v) bk[v] = vec::loadv(b + k * bk_stride + v * L);
      const float* ak = a + k * MR;
      for (int64_t i = 0; i < MR; ++i) {
        const F32v ai = vec::splatv(ak[i]);
        for (int64_t v = 0; v < NV; ++v) acc[i][v] += ai * bk[v];
      }
    }
  }
  // C = alpha * acc + (first ? bias or beta * C : C). Whole tiles and edge tiles may round
  // differently (the compiler may fuse the whole tiles' multiply-add), but a tile's extent never
  // depends on the thread count: slices start at multiples of MR / NR.
  const F32v va = vec::splatv(alpha), vb = vec::splatv(beta);
  if (mr == MR && nr == NT) {  // constant trip counts: the accumulators stay in registers
    for (int64_t i = 0; i < MR; ++i) {
      float* c = C + i * ldc;
      for (int64_t v = 0; v < NV; ++v) {
        F32v r = va * acc[i][v];
        if (!first) {
          r += vec::loadv(c + v * L);
        } else if (bias) {
          r += vec::loadv(bias + v * L);
        } else if (beta != 0.f) {
          r += vb * vec::loadv(c + v * L);
        }
        vec::storev(c + v * L, r);
      }
    }
    return;
  }
  float tile[MR * NT];
  for (int64_t i = 0; i < MR; ++i)
    for (int64_t v = 0; v < NV; ++v) vec::storev(tile + i * NT + v * L, va * acc[i][v]);
  for (int64_t i = 0; i < mr; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < nr; ++j) {
      const float prev = !first ? c[j] : bias ? bias[j] : (beta != 0.f ? beta * c[j] : 0.f);
      c[j] = tile[i * NT + j] + prev;
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

// K is summed in blocks of equal size (at most KC, a multiple of 8): no short last block. The
// blocks depend on K only, so every element of C is summed in the same order whatever the split.
// With the AVX-512 tiling a K up to 256 is one block (its packed B strip, 256 x 32 floats, still
// fits Zen 5's 48 KB L1): two blocks would read and write all of C once more (vgg_c3_2's
// backward-data GEMM, 2304 x 3136 x 256: 0.89x -> 1.01x OpenBLAS on one thread).
int64_t k_block(int64_t K) {
  if (kZmm && K <= 256) return (K + 7) / 8 * 8;
  const int64_t blocks = (K + KC - 1) / KC;
  return std::min(KC, ((K + blocks - 1) / blocks + 7) / 8 * 8);
}

// A last strip of C at most NCOL <= 8 columns wide, packed A and B, MR == 8: P tiles of 8 rows at
// once, vectorized over rows (A's packed column k of a tile is one F32x8) instead of columns, so
// that a 4-column tail (resnet_s2's N = 196 = 6 x 32 + 4) costs 4 multiply-adds per k and tile,
// not the 8 of micro_kernel<1> over 16 lanes (which took 8% of that GEMM's time for 2% of its
// columns); P tiles give P x NCOL independent sums to cover the multiply-add latency. a: the
// first tile's packed panel, the next ones every MR * kc floats; rows: C's rows (up to P * MR;
// panels past them repeat the first, their sums discarded). Each element's arithmetic is
// micro_kernel's (the products summed over k in order, then alpha * acc + prev): the same bits.
template <int NCOL, int P>
void micro_kernel_cols(int64_t kc, const float* a, const float* b, float* C, int64_t ldc,
                       int64_t rows, int64_t nr, float alpha, float beta, bool first,
                       const float* bias) {
  using vec::F32x8;
  const float* ap[P];
  for (int p = 0; p < P; ++p) ap[p] = p * MR < rows ? a + p * MR * kc : a;
  F32x8 acc[P][NCOL];
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < NCOL; ++j) acc[p][j] = vec::splat8(0.f);
  for (int64_t k = 0; k < kc; ++k) {
    F32x8 ak[P];
    for (int p = 0; p < P; ++p) ak[p] = vec::load8(ap[p] + k * MR);
    for (int j = 0; j < NCOL; ++j) {
      const F32x8 bj = vec::splat8(b[k * NR + j]);
      for (int p = 0; p < P; ++p) acc[p][j] += ak[p] * bj;
    }
  }
  const F32x8 va = vec::splat8(alpha);
  for (int p = 0; p < P && p * MR < rows; ++p) {
    float tile[NCOL][8];  // tile[j][i]: column j, row i of tile p
    for (int j = 0; j < NCOL; ++j) vec::store8(tile[j], va * acc[p][j]);
    for (int64_t i = 0; i < std::min<int64_t>(MR, rows - p * MR); ++i) {
      float* c = C + (p * MR + i) * ldc;
      for (int64_t j = 0; j < nr; ++j) {
        const float prev = !first ? c[j] : bias ? bias[j] : (beta != 0.f ? beta * c[j] : 0.f);
        c[j] = tile[j][i] + prev;
      }
    }
  }
}

// Every MR x NR tile of C[0:mc, 0:nc]. a: packed (mc x kc; lda == 0) or op(A)'s rows in place
// (lda > 0). b: packed (kc x nc; ldb == 0) or op(B)'s rows in place (ldb > 0; nc whole strips).
// bias: C's first column's bias, or null.
template <bool kRowsA, bool kInPlaceB>
void macro_tiles(int64_t kc, int64_t mc, int64_t nc, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float* C, int64_t ldc, float alpha, float beta, bool first,
                 const float* bias) {
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t nr = std::min(NR, nc - jr);
    auto* kernel = micro_kernel<NV, kRowsA, kInPlaceB>;
    if constexpr (!kInPlaceB) {
      if (nr <= vec::kLanes) kernel = micro_kernel<1, kRowsA, false>;
      if constexpr (!kRowsA && MR == 8) {
        if (nr <= 8) {  // a narrow last strip: 4 tiles of rows at a time (micro_kernel_cols)
          const float* b_j = b + jr * kc;
          const float* bias_j = bias ? bias + jr : nullptr;
          for (int64_t ir = 0; ir < mc; ir += 4 * MR) {
            const int64_t rows = std::min(4 * MR, mc - ir);
            if (nr <= 4)
              micro_kernel_cols<4, 4>(kc, a + ir * kc, b_j, C + ir * ldc + jr, ldc, rows, nr, alpha,
                                      beta, first, bias_j);
            else
              micro_kernel_cols<8, 4>(kc, a + ir * kc, b_j, C + ir * ldc + jr, ldc, rows, nr, alpha,
                                      beta, first, bias_j);
          }
          continue;
        }
      }
    }
    const float* b_j = kInPlaceB ? b + jr : b + jr * kc;
    const float* bias_j = bias ? bias + jr : nullptr;
    for (int64_t ir = 0; ir < mc; ir += MR)
      kernel(kc, kRowsA ? a + ir * lda : a + ir * kc, lda, b_j, ldb, C + ir * ldc + jr, ldc,
             std::min(MR, mc - ir), nr, alpha, beta, first, bias_j);
  }
}

void macro_kernel(int64_t kc, int64_t mc, int64_t nc, const float* a, int64_t lda, const float* b,
                  int64_t ldb, float* C, int64_t ldc, float alpha, float beta, bool first,
                  const float* bias) {
  if (lda > 0 && ldb > 0)
    macro_tiles<true, true>(kc, mc, nc, a, lda, b, ldb, C, ldc, alpha, beta, first, bias);
  else if (lda > 0)
    macro_tiles<true, false>(kc, mc, nc, a, lda, b, ldb, C, ldc, alpha, beta, first, bias);
  else if (ldb > 0)
    macro_tiles<false, true>(kc, mc, nc, a, lda, b, ldb, C, ldc, alpha, beta, first, bias);
  else
    macro_tiles<false, false>(kc, mc, nc, a, lda, b, ldb, C, ldc, alpha, beta, first, bias);
}

// C[i0:i0+m, j0:j0+n] on the calling thread, BLIS loop order: for each kc x nc panel of B (packed
// once), for each mc x kc block of A (packed, or read in place when direct_a), every MR x NR tile.
// direct_b (op(B) = B, row-major): with one block of A, B's whole strips are read in place.
// When A is a single block (m <= MC; the conv GEMMs: M = filters), B is used once: it is packed
// kStripGroup strips at a time and used at once, from L2, instead of a whole panel written out to L3
// and read back.
void gemm_block(bool ta, bool tb, int64_t i0, int64_t m, int64_t j0, int64_t n, int64_t K,
                float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                float* C, int64_t ldc, bool direct_a, bool direct_b, const float* bias) {
  PackBuffers& buf = pack_buffers();
  const int64_t kb = k_block(K);
  const bool one_block = m <= MC;
  const int64_t nc_step = one_block ? kStripGroup * NR : NC;
  const int64_t mc_max = std::min(MC, (m + MR - 1) / MR * MR);
  const int64_t nc_max = std::min(nc_step, (n + NR - 1) / NR * NR);
  if (!direct_a && (int64_t)buf.a.size() < mc_max * kb) buf.a.resize(mc_max * kb);
  if ((int64_t)buf.b.size() < nc_max * kb) buf.b.resize(nc_max * kb);
  // a block of A starting at row i, column p: packed into buf.a, or op(A) = A itself
  auto a_block = [&](int64_t i, int64_t mc, int64_t p0, int64_t kc) {
    if (direct_a) return A + i * lda + p0;
    pack_a(ta, A, lda, i, mc, p0, kc, buf.a.data());
    return static_cast<const float*>(buf.a.data());
  };
  const int64_t a_ld = direct_a ? lda : 0;
  if (one_block) {
    for (int64_t p0 = 0; p0 < K; p0 += kb) {
      const int64_t kc = std::min(kb, K - p0);
      const float* a = a_block(i0, m, p0, kc);
      for (int64_t jc = 0; jc < n; jc += nc_step) {
        const int64_t nc = std::min(nc_step, n - jc);
        // B in place: its whole strips straight from op(B)'s rows, the last part strip packed
        const int64_t in_place = direct_b ? nc / NR * NR : 0;
        if (in_place > 0)
          macro_kernel(kc, m, in_place, a, a_ld, B + p0 * ldb + j0 + jc, ldb, C + i0 * ldc + j0 + jc,
                       ldc, alpha, beta, p0 == 0, bias ? bias + j0 + jc : nullptr);
        if (in_place == nc) continue;
        pack_b(tb, B, ldb, p0, kc, j0 + jc + in_place, nc - in_place, buf.b.data());
        macro_kernel(kc, m, nc - in_place, a, a_ld, buf.b.data(), 0,
                     C + i0 * ldc + j0 + jc + in_place, ldc, alpha, beta, p0 == 0,
                     bias ? bias + j0 + jc + in_place : nullptr);
      }
    }
    return;
  }
  for (int64_t jc = 0; jc < n; jc += NC) {
    const int64_t nc = std::min(NC, n - jc);
    for (int64_t p0 = 0; p0 < K; p0 += kb) {
      const int64_t kc = std::min(kb, K - p0);
      pack_b(tb, B, ldb, p0, kc, j0 + jc, nc, buf.b.data());
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = std::min(MC, m - ic);
        macro_kernel(kc, mc, nc, a_block(i0 + ic, mc, p0, kc), a_ld, buf.b.data(), 0,
                     C + (i0 + ic) * ldc + j0 + jc, ldc, alpha, beta, p0 == 0,
                     bias ? bias + j0 + jc : nullptr);
      }
    }
  }
}

// C = beta * C, or C = bias in every row: the product of an empty sum (K = 0).
void fill_c(int64_t M, int64_t N, float beta, const float* bias, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      C[i * ldc + j] = bias ? bias[j] : beta == 0.f ? 0.f : beta * C[i * ldc + j];
}

// Small problems (C at most kSmall columns, K at most kSmall: the dense layers, N = 120 outputs or
// 400 inputs, K = 400 inputs, 120 outputs or the batch of 128) read op(A) = A (row-major) in place
// instead of packing it: packing gathers MR rows value by value, once per k-block for all of C's
// columns, and cost 10% of linear_forward (128 x 400 -> 120). Likewise op(B) = B (row-major) when
// A is one block (M <= MC): its whole strips are read in place (packing them was 6% of
// linear_backward), unless its row stride is a multiple of 64 floats: a strip's kc rows would then
// share a few L1 sets and evict one another. Larger problems keep packing: it is amortized over
// many columns, and A read in place along a long K measured 6% slower (alexnet_c1 bwd_weight of
// bench_gemm.py: K = 3025). Either way each element's arithmetic is the same (same bits).
constexpr int64_t kSmall = 512;

void gemm_impl(bool parallel, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc, const float* bias) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    fill_c(M, N, beta, bias, C, ldc);
    return;
  }
  // Threads take equal slices of C's columns (each packs its own part of B, all of A) or, when C
  // is taller than wide, of its rows (each packs its part of A, all of B): whole tiles, no shared
  // buffers, no barriers. The slicing never changes an element's arithmetic: direct_a and
  // direct_b are chosen from the whole problem's shape, not the slice's (direct_b only when every
  // slice is one block of A), so an element goes through the same micro_kernel instantiation
  // whatever the thread count. (Instantiations may fuse alpha * acc + C differently: the same bits
  // across them only when alpha = 1 and beta is 0 or 1, as in every caller here.)
  // With A read in place and in one block (the dense layers at batch <= MC), a column slice costs
  // nothing that another slice repeats, so C's columns are cut into up to kSlicesPerThread slices
  // per thread that the threads claim as they come: a thread the OS deschedules for a while (a
  // loaded machine) delays one small slice, not half of the product.
  constexpr int64_t kSlicesPerThread = 4;
  const bool small = N <= kSmall && K <= kSmall;
  const bool direct_a = !ta && small;
  const bool direct_b = !tb && small && M <= MC && ldb % 64 != 0;
  const int64_t threads = parallel && M * N * K > (1 << 20) ? get_num_threads() : 1;
  const bool fine = direct_a && M <= MC && threads > 1;
  const bool by_cols = fine || N >= M;
  const int64_t unit = by_cols ? NR : MR, units = ((by_cols ? N : M) + unit - 1) / unit;
  const int64_t parts =
      std::max<int64_t>(1, std::min(fine ? kSlicesPerThread * threads : threads, units));
  auto run = [&](int64_t part0, int64_t part1) {
    for (int64_t t = part0; t < part1; ++t) {
      const int64_t lo = t * units / parts * unit, hi = (t + 1) * units / parts * unit;
      if (by_cols) {
        const int64_t j1 = std::min(hi, N);
        gemm_block(ta, tb, 0, M, lo, j1 - lo, K, alpha, A, lda, B, ldb, beta, C, ldc, direct_a,
                   direct_b, bias);
      } else {
        const int64_t i1 = std::min(hi, M);
        gemm_block(ta, tb, lo, i1 - lo, 0, N, K, alpha, A, lda, B, ldb, beta, C, ldc, direct_a,
                   direct_b, bias);
      }
    }
  };
  if (parts > 1)
    parallel_for(0, parts, 0, run);
  else
    run(0, 1);
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl(true, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr);
}

void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc) {
  gemm_impl(false, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr);
}

void sgemm_bias(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
                int64_t lda, const float* B, int64_t ldb, const float* bias, float* C,
                int64_t ldc) {
  gemm_impl(true, trans_a, trans_b, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc, bias);
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
