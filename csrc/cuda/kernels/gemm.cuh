// The GEMM core of the CUDA conv and linear kernels: one tiled kernel per precision, templated on the
// problem (gemm_problems.h), so a convolution is an implicit GEMM (operands gathered straight from
// the activations while staging tiles, no im2col buffer).
//
//   fp32  gemm_simt: BK = 8, 256 threads, double-buffered shared memory (one barrier per k-step),
//         register micro-tiles read from smem as float4: 128x128 (8x8 per thread), 128x64 (8x4),
//         64x64 / 128x32 / 32x128 (4x4).
//   tf32, bf16  gemm_wmma: tensor cores via nvcuda::wmma (m16n16k8 tf32 / m16n16k16 bf16, fp32
//         accumulate), BK = 32, 8 warps, operands converted while staging into smem; the same five
//         block tiles, next slice prefetched into registers during the MMAs.
// The reduction may be split into chunks (plan_gemm) for problems with few tiles: each chunk writes
// its partial C to a workspace and split_sum adds them in chunk order, so results never depend on
// scheduling (no float atomics).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <memory>
#include <type_traits>

#include "cuda/device_array.h"
#include "cuda/kernels/gemm_problems.h"
#include "fastcnn/common.h"

namespace fastcnn::cuda::gemm {

constexpr int kThreads = 256;

// Block z indexes (group - g_base) * splits + split. ws is null unless the reduction is split;
// then chunk `split` of group g writes its partial C to ws[split*groups*M*Ng + (g*M + m)*Ng + col].
template <int BM, int BN, int TM, int TN, class Prob>
__global__ void __launch_bounds__(kThreads, 1)
gemm_simt(const Prob p, float* __restrict__ ws, int64_t kchunk, int splits, int g_base, int groups) {
  constexpr int BK = 8;
  constexpr int A_PER = BM * BK / kThreads, B_PER = BN * BK / kThreads;
  constexpr int TX = BN / TN;  // threads along N
  static_assert((BM / TM) * (BN / TN) == kThreads && TM % 4 == 0 && TN % 4 == 0, "micro-tile");
  static_assert(kThreads % BM == 0 && kThreads % BN == 0 && A_PER >= 1 && B_PER >= 1, "load slots");
  __shared__ __align__(16) float As[2][BK][BM];
  __shared__ __align__(16) float Bs[2][BK][BN];
  static_assert(sizeof(As) + sizeof(Bs) <= 48 * 1024, "static shared memory is limited to 48 KB");

  const int tid = threadIdx.x;
  const int split = static_cast<int>(blockIdx.z) % splits;
  const int g = g_base + static_cast<int>(blockIdx.z) / splits;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int n0 = static_cast<int>(blockIdx.y) * BN;
  const int64_t kbeg = split * kchunk;
  const int64_t kend = kbeg + kchunk < p.depth ? kbeg + kchunk : p.depth;
  const int64_t ktiles = kend > kbeg ? (kend - kbeg + BK - 1) / BK : 0;

  const Slot sa = load_slot(tid, BM, A_PER), sb = load_slot(tid, BN, B_PER);
  const bool a_ok = m0 + sa.r < p.M, b_ok = n0 + sb.r < p.Ng;
  const typename Prob::Row arow = p.a_row(g, a_ok ? m0 + sa.r : 0);
  const typename Prob::Col bcol = p.b_col(g, b_ok ? n0 + sb.r : 0);
  float ra[A_PER], rb[B_PER];
  auto load = [&](int64_t k0) {
    typename Prob::KIdx ka = p.k_at(k0 + sa.k);
#pragma unroll
    for (int e = 0; e < A_PER; ++e) {
      ra[e] = a_ok && k0 + sa.k + e < kend ? p.a(arow, ka) : 0.0f;
      p.k_next(ka);
    }
    typename Prob::KIdx kb = p.k_at(k0 + sb.k);
#pragma unroll
    for (int e = 0; e < B_PER; ++e) {
      rb[e] = b_ok && k0 + sb.k + e < kend ? p.b(bcol, kb) : 0.0f;
      p.k_next(kb);
    }
  };
  auto stage = [&](int buf) {
#pragma unroll
    for (int e = 0; e < A_PER; ++e) As[buf][sa.k + e][sa.r] = ra[e];
#pragma unroll
    for (int e = 0; e < B_PER; ++e) Bs[buf][sb.k + e][sb.r] = rb[e];
  };

  const int tx = tid % TX, ty = tid / TX;
  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  if (ktiles > 0) {
    load(kbeg);
    stage(0);
  }
  __syncthreads();
  int buf = 0;
  for (int64_t t = 0; t < ktiles; ++t) {
    const bool more = t + 1 < ktiles;
    if (more) load(kbeg + (t + 1) * BK);  // global loads in flight during the FMAs below
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float a[TM], b[TN];
#pragma unroll
      for (int h = 0; h < TM / 4; ++h) {
        const float4 v = *reinterpret_cast<const float4*>(&As[buf][k][micro_index(ty, 4 * h, BM, TM)]);
        a[4 * h] = v.x, a[4 * h + 1] = v.y, a[4 * h + 2] = v.z, a[4 * h + 3] = v.w;
      }
#pragma unroll
      for (int h = 0; h < TN / 4; ++h) {
        const float4 v = *reinterpret_cast<const float4*>(&Bs[buf][k][micro_index(tx, 4 * h, BN, TN)]);
        b[4 * h] = v.x, b[4 * h + 1] = v.y, b[4 * h + 2] = v.z, b[4 * h + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (more) stage(buf ^ 1);  // the other buffer: everyone finished reading it before the last barrier
    __syncthreads();
    buf ^= 1;
  }

  const int64_t slice = static_cast<int64_t>(groups) * p.M * p.Ng;
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t m = m0 + micro_index(ty, i, BM, TM);
    if (m >= p.M) continue;
    if (ws) {
      float* row = ws + split * slice + (static_cast<int64_t>(g) * p.M + m) * p.Ng;
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int col = n0 + micro_index(tx, j, BN, TN);
        if (col < p.Ng) row[col] = acc[i][j];
      }
    } else {
      const typename Prob::ORow orow = p.out_row(g, m);
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int col = n0 + micro_index(tx, j, BN, TN);
        if (col < p.Ng) p.store(orow, g, col, acc[i][j]);
      }
    }
  }
}

template <class Elem>
struct WmmaTraits;
template <>
struct WmmaTraits<float> {  // tf32
  static constexpr int kStep = 8;
  using FragElem = nvcuda::wmma::precision::tf32;
  __device__ static float convert(float v) { return nvcuda::wmma::__float_to_tf32(v); }
};
template <>
struct WmmaTraits<__nv_bfloat16> {
  static constexpr int kStep = 16;
  using FragElem = __nv_bfloat16;
  __device__ static __nv_bfloat16 convert(float v) { return __float2bfloat16_rn(v); }
};

// Warps WM x WN, each FM x FN fragments of 16x16: BM = WM*FM*16, BN = WN*FN*16. Shared memory holds
// A column-major (As[k][m], so matrix_a col_major) and B row-major (Bs[k][n]), rows padded by 8
// elements; both keep every fragment pointer 32-byte aligned. Same grid and ws contract as gemm_simt.
template <class Elem, int WM, int WN, int FM, int FN, class Prob>
__global__ void __launch_bounds__(kThreads, 1)
gemm_wmma(const Prob p, float* __restrict__ ws, int64_t kchunk, int splits, int g_base, int groups) {
  namespace wmma = nvcuda::wmma;
  using Tr = WmmaTraits<Elem>;
  constexpr int BM = WM * FM * 16, BN = WN * FN * 16, BK = 32, KS = Tr::kStep;
  constexpr int LDA = BM + 8, LDB = BN + 8;
  constexpr int A_PER = BM * BK / kThreads, B_PER = BN * BK / kThreads;
  static_assert(WM * WN * 32 == kThreads, "8 warps");
  static_assert(kThreads % BM == 0 && kThreads % BN == 0, "load slots");
  constexpr int kTileBytes = (BK * LDA + BK * LDB) * static_cast<int>(sizeof(Elem));
  constexpr int kScratchBytes = (kThreads / 32) * 256 * static_cast<int>(sizeof(float));
  __shared__ __align__(128) unsigned char smem[kTileBytes > kScratchBytes ? kTileBytes : kScratchBytes];
  // load/store_matrix_sync need 32-byte aligned pointers and a leading dimension of a multiple of 16
  // bytes: every fragment starts at a multiple of KS rows and 16 columns of As/Bs (Bs right after As).
  static_assert(sizeof(smem) <= 48 * 1024, "static shared memory is limited to 48 KB");
  static_assert((LDA * sizeof(Elem)) % 16 == 0 && (LDB * sizeof(Elem)) % 16 == 0, "wmma ldm");
  static_assert((KS * LDA * sizeof(Elem)) % 32 == 0 && (KS * LDB * sizeof(Elem)) % 32 == 0 &&
                    (16 * sizeof(Elem)) % 32 == 0 && (BK * LDA * sizeof(Elem)) % 32 == 0,
                "wmma fragment pointers 32-byte aligned");
  Elem* As = reinterpret_cast<Elem*>(smem);
  Elem* Bs = As + BK * LDA;

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // tf32/bf16 tensor cores need sm_80+; the launcher never picks this kernel below that
#else
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / WN, wn = warp % WN;
  const int split = static_cast<int>(blockIdx.z) % splits;
  const int g = g_base + static_cast<int>(blockIdx.z) / splits;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int n0 = static_cast<int>(blockIdx.y) * BN;
  const int64_t kbeg = split * kchunk;
  const int64_t kend = kbeg + kchunk < p.depth ? kbeg + kchunk : p.depth;
  const int64_t ktiles = kend > kbeg ? (kend - kbeg + BK - 1) / BK : 0;

  const Slot sa = load_slot(tid, BM, A_PER), sb = load_slot(tid, BN, B_PER);
  const bool a_ok = m0 + sa.r < p.M, b_ok = n0 + sb.r < p.Ng;
  const typename Prob::Row arow = p.a_row(g, a_ok ? m0 + sa.r : 0);
  const typename Prob::Col bcol = p.b_col(g, b_ok ? n0 + sb.r : 0);
  float ra[A_PER], rb[B_PER];
  auto load = [&](int64_t k0) {
    typename Prob::KIdx ka = p.k_at(k0 + sa.k);
#pragma unroll
    for (int e = 0; e < A_PER; ++e) {
      ra[e] = a_ok && k0 + sa.k + e < kend ? p.a(arow, ka) : 0.0f;
      p.k_next(ka);
    }
    typename Prob::KIdx kb = p.k_at(k0 + sb.k);
#pragma unroll
    for (int e = 0; e < B_PER; ++e) {
      rb[e] = b_ok && k0 + sb.k + e < kend ? p.b(bcol, kb) : 0.0f;
      p.k_next(kb);
    }
  };

  wmma::fragment<wmma::accumulator, 16, 16, KS, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  if (ktiles > 0) load(kbeg);
  for (int64_t t = 0; t < ktiles; ++t) {
#pragma unroll
    for (int e = 0; e < A_PER; ++e) As[(sa.k + e) * LDA + sa.r] = Tr::convert(ra[e]);
#pragma unroll
    for (int e = 0; e < B_PER; ++e) Bs[(sb.k + e) * LDB + sb.r] = Tr::convert(rb[e]);
    __syncthreads();
    if (t + 1 < ktiles) load(kbeg + (t + 1) * BK);
#pragma unroll
    for (int ks = 0; ks < BK; ks += KS) {
      wmma::fragment<wmma::matrix_a, 16, 16, KS, typename Tr::FragElem, wmma::col_major> fa[FM];
      wmma::fragment<wmma::matrix_b, 16, 16, KS, typename Tr::FragElem, wmma::row_major> fb[FN];
#pragma unroll
      for (int i = 0; i < FM; ++i) wmma::load_matrix_sync(fa[i], As + ks * LDA + (wm * FM + i) * 16, LDA);
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::load_matrix_sync(fb[j], Bs + ks * LDB + (wn * FN + j) * 16, LDB);
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();  // smem is restaged (or reused as scratch) next
  }

  // Each warp writes its fragments through a 16x16 column-major scratch: lane l handles row l%16 and
  // columns l/16 + 2t, so a warp's stores run along m (contiguous in a conv's output).
  float* scratch = reinterpret_cast<float*>(smem) + warp * 256;
  const int64_t slice = static_cast<int64_t>(groups) * p.M * p.Ng;
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::store_matrix_sync(scratch, acc[i][j], 16, wmma::mem_col_major);
      __syncwarp();
      const int r = lane % 16;
      const int64_t m = m0 + (wm * FM + i) * 16 + r;
      const int cbase = n0 + (wn * FN + j) * 16;
      if (m < p.M && ws) {
        float* row = ws + split * slice + (static_cast<int64_t>(g) * p.M + m) * p.Ng;
#pragma unroll
        for (int t = 0; t < 8; ++t) {
          const int c = lane / 16 + 2 * t;
          if (cbase + c < p.Ng) row[cbase + c] = scratch[c * 16 + r];
        }
      } else if (m < p.M) {
        const typename Prob::ORow orow = p.out_row(g, m);
#pragma unroll
        for (int t = 0; t < 8; ++t) {
          const int c = lane / 16 + 2 * t;
          if (cbase + c < p.Ng) p.store(orow, g, cbase + c, scratch[c * 16 + r]);
        }
      }
      __syncwarp();
    }
#endif
}

// C = the chunks' partial sums added in chunk order (deterministic), through the problem's store.
template <class Prob>
__global__ void __launch_bounds__(kThreads) split_sum(const Prob p, const float* __restrict__ ws, int splits, int groups) {
  const int64_t total = static_cast<int64_t>(groups) * p.M * p.Ng;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s = 0.0f;
    for (int c = 0; c < splits; ++c) s += ws[c * total + i];
    const int64_t gm = i / p.Ng, m = gm % p.M;
    const int col = static_cast<int>(i - gm * p.Ng), g = static_cast<int>(gm / p.M);
    p.store(p.out_row(g, m), g, col, s);
  }
}

template <class Prob>
void launch_tiles(void (*kernel)(Prob, float*, int64_t, int, int, int), const Prob& p, const Plan& plan,
                  int groups, float* ws, cudaStream_t s, const char* name) {
  const int64_t gx = ceil_div(p.M, plan.bm), gy = ceil_div(p.Ng, plan.bn);
  FASTCNN_CHECK(gx <= 0x7fffffff && gy <= 65535, name, ": problem too large for the CUDA kernels (",
                p.M, " x ", p.Ng, " GEMM)");
  const int splits = static_cast<int>(plan.splits);
  const int gchunk = 65535 / splits;  // gridDim.z <= 65535
  for (int g0 = 0; g0 < groups; g0 += gchunk) {
    const int gz = groups - g0 < gchunk ? groups - g0 : gchunk;
    kernel<<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(gz * splits)),
             kThreads, 0, s>>>(p, ws, plan.kchunk, splits, g0, groups);
    check_launch(name);
  }
}

// The kernel of tile T at precision prec (the shapes of gemm_problems.h's tile tables).
template <Tile T, class Prob>
void launch_tile(Precision prec, const Prob& p, const Plan& plan, int groups, float* ws, cudaStream_t s,
                 const char* name) {
  constexpr int BM = tile_rows(T), BN = tile_cols(T);
  constexpr WarpLayout L = wmma_layout(T);
  static_assert(L.wm * L.fm * 16 == BM && L.wn * L.fn * 16 == BN, "warp layout covers the tile");
  if (prec == Precision::fp32)
    launch_tiles(gemm_simt<BM, BN, simt_tm(T), simt_tn(T), Prob>, p, plan, groups, ws, s, name);
  else if (prec == Precision::tf32)
    launch_tiles(gemm_wmma<float, L.wm, L.wn, L.fm, L.fn, Prob>, p, plan, groups, ws, s, name);
  else
    launch_tiles(gemm_wmma<__nv_bfloat16, L.wm, L.wn, L.fm, L.fn, Prob>, p, plan, groups, ws, s, name);
}

// Runs problem p for `groups` groups at the current precision on stream s. Never synchronizes; a
// split reduction's workspace comes from the caching allocator and returns to it stream-ordered.
template <class Prob>
void run_gemm(const Prob& p, int64_t groups, cudaStream_t s, const char* name) {
  if (p.M <= 0 || p.Ng <= 0 || groups <= 0) return;
  FASTCNN_CHECK(groups <= 0x7fffffff, name, ": too many groups for the CUDA kernels");
  const Precision prec = precision();
  const bool tensor = prec != Precision::fp32;
  const Plan plan = plan_gemm(p.M, p.Ng, p.depth, groups, tensor);
  const int G = static_cast<int>(groups);
  std::unique_ptr<DeviceArray> workspace;
  float* ws = nullptr;
  if (plan.splits > 1) {
    workspace = std::make_unique<DeviceArray>(std::vector<int64_t>{plan.splits * groups * p.M * p.Ng},
                                              DType::float32);
    ws = workspace->ptr<float>();
  }
  switch (plan.tile) {
    case Tile::t128x128: launch_tile<Tile::t128x128>(prec, p, plan, G, ws, s, name); break;
    case Tile::t128x64: launch_tile<Tile::t128x64>(prec, p, plan, G, ws, s, name); break;
    case Tile::t64x64: launch_tile<Tile::t64x64>(prec, p, plan, G, ws, s, name); break;
    case Tile::t128x32: launch_tile<Tile::t128x32>(prec, p, plan, G, ws, s, name); break;
    case Tile::t32x128: launch_tile<Tile::t32x128>(prec, p, plan, G, ws, s, name); break;
  }
  if (ws) {
    const int64_t total = groups * p.M * p.Ng;
    const int64_t blocks = std::min<int64_t>(ceil_div(total, kThreads), 8192);
    split_sum<Prob><<<static_cast<unsigned>(blocks), kThreads, 0, s>>>(p, ws, static_cast<int>(plan.splits), G);
    check_launch("split_sum");
  }
}

}  // namespace fastcnn::cuda::gemm
