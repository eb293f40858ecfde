// The GEMMs the CUDA conv and linear kernels run, as index maps shared by the device kernels
// (gemm.cuh) and the host-side emulation in tests (tests/cuda_emu): plain C++ with __host__ __device__
// functions, no CUDA headers.
//
// Every problem is, per group g, C(m, col) = sum_kk A(m, kk) * B(kk, col) for m < M, col < Ng,
// kk < depth. A problem type supplies
//   a_row(g, m) / b_col(g, col)   per-thread context of one A row / B column (computed once),
//   k_at(kk) / k_next(k)          the reduction index decomposed, and stepped by one,
//   a(row, k) / b(col, k)         one element (zero where a convolution tap falls in the padding),
//   out_row(g, m) / store(...)    where C(m, col) goes (plus bias).
// Callers guarantee m < M, col < Ng and kk < depth before calling a(), b() or store().
//
// Convolutions (x is (N,C,H,W), w is (K,C/g,R,S), y is (N,K,P,Q); Cg = C/g, Kg = K/g):
//   forward          ConvGemm: m = (n,p,q), col = k in group, kk = (c,r,s)       -- implicit GEMM
//   backward data    ConvGemm per stride phase: m = (n,h,w) with h = h0 + i*stride_h, w likewise,
//                    col = c in group, kk = (k, r, s) over the taps r that hit h exactly -- no
//                    multiplications by the zeros a strided scatter would insert
//   backward weight  ConvWgrad: m = k in group, col = (c,r,s), kk = (n,p,q)
// Linear: Dense with strides (transposes are just strides).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "cuda/kernels/conv_params.h"

#if defined(__CUDACC__)
#define FASTCNN_HD __host__ __device__ __forceinline__
#else
#define FASTCNN_HD inline
#endif

namespace fastcnn::cuda::gemm {

// A reduction index kk = (a*B + b)*C + c decomposed over extents (*, B, C); B, C > 0.
struct Idx3 {
  int64_t a;
  int b, c;
};
// (64-bit division is a long software routine on the GPU: 32-bit when the values allow, as they
// nearly always do.)
FASTCNN_HD Idx3 idx3(int64_t kk, int B, int C) {
  const int64_t bc = static_cast<int64_t>(B) * C;
  Idx3 i;
  if (kk <= INT32_MAX && bc <= INT32_MAX) {
    const uint32_t k32 = static_cast<uint32_t>(kk), bc32 = static_cast<uint32_t>(bc);
    const uint32_t a = k32 / bc32, rem = k32 - a * bc32, b = rem / static_cast<uint32_t>(C);
    i.a = a;
    i.b = static_cast<int>(b);
    i.c = static_cast<int>(rem - b * static_cast<uint32_t>(C));
    return i;
  }
  i.a = kk / bc;
  const int64_t rem = kk - i.a * bc;
  i.b = static_cast<int>(rem / C);
  i.c = static_cast<int>(rem - static_cast<int64_t>(i.b) * C);
  return i;
}
FASTCNN_HD void idx3_next(Idx3& i, int B, int C) {
  if (++i.c == C) {
    i.c = 0;
    if (++i.b == B) {
      i.b = 0;
      ++i.a;
    }
  }
}

// Activation-gathering convolution GEMM (conv forward, one phase of conv backward-data).
//   rows m = (n, i, j) over (batch, Mh, Mw); cols = Ng channels of group g; kk = (c, u, v) over (Kc, nu, nv)
//   A(m, kk) = src[n, g*Kc + c, i*ah + u*auh + aoh, j*aw + v*auw + aow]   (zero outside IH x IW)
//   B(kk, col) = wt[g*wg + col*wcol + c*wc + (u0 + u*du)*S + (v0 + v*dv)]
//   C(m, col) -> dst[n, g*Ng + col, i*osh + ooh, j*osw + oow] (+ bias[g*Ng + col])
struct ConvGemm {
  int64_t M, depth;
  int Ng;
  int Mh, Mw, Kc, nu, nv;
  const float* src;
  int64_t src_c;
  int IH, IW, ah, aw, auh, auw, aoh, aow;
  const float* wt;
  int64_t wg, wcol, wc;
  int S, u0, du, v0, dv;
  float* dst;
  const float* bias;
  int64_t dst_c;
  int OH, OW, osh, osw, ooh, oow;

  struct Row {
    int64_t off;  // src offset of (n, g*Kc, 0, 0)
    int ih, iw;   // input position of tap (0, 0)
  };
  struct Col {
    int64_t off;
  };
  struct ORow {
    int64_t off;  // dst offset of (n, g*Ng, oh, ow)
  };
  using KIdx = Idx3;

  FASTCNN_HD void split_row(int64_t m, int64_t& n, int& i, int& j) const {
    const Idx3 r = idx3(m, Mh, Mw);
    n = r.a;
    i = r.b;
    j = r.c;
  }
  FASTCNN_HD Row a_row(int g, int64_t m) const {
    int64_t n;
    int i, j;
    split_row(m, n, i, j);
    return {(n * src_c + static_cast<int64_t>(g) * Kc) * IH * IW, i * ah + aoh, j * aw + aow};
  }
  FASTCNN_HD Col b_col(int g, int col) const { return {g * wg + col * wcol}; }
  FASTCNN_HD KIdx k_at(int64_t kk) const { return idx3(kk, nu, nv); }
  FASTCNN_HD void k_next(KIdx& k) const { idx3_next(k, nu, nv); }
  FASTCNN_HD float a(const Row& r, const KIdx& k) const {
    const int ih = r.ih + k.b * auh, iw = r.iw + k.c * auw;
    if (ih < 0 || ih >= IH || iw < 0 || iw >= IW) return 0.0f;
    return src[r.off + k.a * IH * IW + static_cast<int64_t>(ih) * IW + iw];
  }
  FASTCNN_HD float b(const Col& c, const KIdx& k) const {
    return wt[c.off + k.a * wc + static_cast<int64_t>(u0 + k.b * du) * S + (v0 + k.c * dv)];
  }
  FASTCNN_HD ORow out_row(int g, int64_t m) const {
    int64_t n;
    int i, j;
    split_row(m, n, i, j);
    return {((n * dst_c + static_cast<int64_t>(g) * Ng) * OH + static_cast<int64_t>(i) * osh + ooh) * OW +
            static_cast<int64_t>(j) * osw + oow};
  }
  FASTCNN_HD void store(const ORow& o, int g, int col, float v) const {
    if (bias) v += bias[static_cast<int64_t>(g) * Ng + col];
    dst[o.off + static_cast<int64_t>(col) * OH * OW] = v;
  }
};

// Convolution weight gradient.
//   rows m = k (filter of group g, Kg); cols = (c, u, v) over (Cg, R, S); kk = (n, p, q) over (N, P, Q)
//   A(m, kk) = dy[n, g*Kg + m, p, q]
//   B(kk, col) = x[n, g*Cg + c, p*sh - pt + u*dh, q*sw - pl + v*dw]   (zero outside H x W)
//   C(m, col) -> dw[g*Kg + m, c, u, v]
struct ConvWgrad {
  int64_t M, depth;
  int Ng;
  int P, Q, R, S, H, W, sh, sw, pt, pl, dh, dwd;
  int Kg, Cg;
  int64_t K, C;
  const float* dy;
  const float* x;
  float* dw;

  struct Row {
    int64_t off;
  };
  struct Col {
    int64_t off;  // x offset of (0, g*Cg + c, 0, 0)
    int hoff, woff;
  };
  struct ORow {
    int64_t off;
  };
  using KIdx = Idx3;

  FASTCNN_HD Row a_row(int g, int64_t m) const {
    return {(static_cast<int64_t>(g) * Kg + m) * P * Q};
  }
  FASTCNN_HD Col b_col(int g, int col) const {
    const int rs = R * S;
    const int c = col / rs, t = col - c * rs, u = t / S, v = t - u * S;
    return {(static_cast<int64_t>(g) * Cg + c) * H * W, u * dh - pt, v * dwd - pl};
  }
  FASTCNN_HD KIdx k_at(int64_t kk) const { return idx3(kk, P, Q); }
  FASTCNN_HD void k_next(KIdx& k) const { idx3_next(k, P, Q); }
  FASTCNN_HD float a(const Row& r, const KIdx& k) const {
    return dy[r.off + k.a * K * P * Q + static_cast<int64_t>(k.b) * Q + k.c];
  }
  FASTCNN_HD float b(const Col& c, const KIdx& k) const {
    const int ih = k.b * sh + c.hoff, iw = k.c * sw + c.woff;
    if (ih < 0 || ih >= H || iw < 0 || iw >= W) return 0.0f;
    return x[c.off + k.a * C * H * W + static_cast<int64_t>(ih) * W + iw];
  }
  FASTCNN_HD ORow out_row(int g, int64_t m) const { return {(static_cast<int64_t>(g) * Kg + m) * Ng}; }
  FASTCNN_HD void store(const ORow& o, int, int col, float v) const { dw[o.off + col] = v; }
};

// Plain strided GEMM (one group): C[m*ldc + col] = sum_kk A[m*lda_m + kk*lda_k] * B[kk*ldb_k + col*ldb_n]
// (+ bias[col]).
struct Dense {
  int64_t M, depth;
  int Ng;
  const float* A;
  int64_t lda_m, lda_k;
  const float* B;
  int64_t ldb_k, ldb_n;
  float* Cm;
  int64_t ldc;
  const float* bias;

  struct Off {
    int64_t off;
  };
  using Row = Off;
  using Col = Off;
  using ORow = Off;
  using KIdx = int64_t;

  FASTCNN_HD Row a_row(int, int64_t m) const { return {m * lda_m}; }
  FASTCNN_HD Col b_col(int, int col) const { return {col * ldb_n}; }
  FASTCNN_HD KIdx k_at(int64_t kk) const { return kk; }
  FASTCNN_HD void k_next(KIdx& k) const { ++k; }
  FASTCNN_HD float a(const Row& r, KIdx k) const { return A[r.off + k * lda_k]; }
  FASTCNN_HD float b(const Col& c, KIdx k) const { return B[c.off + k * ldb_k]; }
  FASTCNN_HD ORow out_row(int, int64_t m) const { return {m * ldc}; }
  FASTCNN_HD void store(const ORow& o, int, int col, float v) const {
    Cm[o.off + col] = bias ? v + bias[col] : v;
  }
};

// ---- tiling: which thread loads / computes what (used by the kernels and the host emulation) ----

// Staging a BK-deep slice of a tile with `rows` rows (A: BM, B: BN) by T threads: thread tid loads
// `per` = rows*BK/T consecutive reduction indices k..k+per-1 of row r. Consecutive threads take
// consecutive rows, so shared-memory stores are conflict-free and conv gathers coalesce along m.
struct Slot {
  int r, k;
};
FASTCNN_HD Slot load_slot(int tid, int rows, int per) { return {tid % rows, (tid / rows) * per}; }

// SIMT micro-tile: thread (ty, tx) owns rows micro_index(ty, i) for i < TM of a BM-row tile, in
// groups of 4 consecutive rows spaced BM/(TM/4) apart (so each group is one aligned float4 in smem).
FASTCNN_HD int micro_index(int t, int i, int tile, int micro) {
  return (i / 4) * (tile / (micro / 4)) + t * 4 + (i % 4);
}

// ---- choosing tiles and the split of the reduction ----

enum class Tile { t128x128, t128x64, t64x64, t128x32, t32x128 };
constexpr int tile_rows(Tile t) { return t == Tile::t64x64 ? 64 : t == Tile::t32x128 ? 32 : 128; }
constexpr int tile_cols(Tile t) {
  return t == Tile::t128x128 || t == Tile::t32x128 ? 128 : t == Tile::t128x32 ? 32 : 64;
}
// fp32 SIMT kernels: TM x TN outputs per thread (256 threads).
constexpr int simt_tm(Tile t) { return t == Tile::t128x128 || t == Tile::t128x64 ? 8 : 4; }
constexpr int simt_tn(Tile t) { return t == Tile::t128x128 ? 8 : 4; }
// tensor-core kernels: 8 warps as WM x WN, each FM x FN fragments of 16x16.
struct WarpLayout {
  int wm, wn, fm, fn;
};
constexpr WarpLayout wmma_layout(Tile t) {
  return t == Tile::t128x128 ? WarpLayout{2, 4, 4, 2}
         : t == Tile::t128x64 ? WarpLayout{4, 2, 2, 2}
         : t == Tile::t64x64 ? WarpLayout{2, 4, 2, 1}
         : t == Tile::t128x32 ? WarpLayout{8, 1, 1, 2}
                              : WarpLayout{1, 8, 2, 1};
}

struct Plan {
  Tile tile;
  int bm, bn, bk;
  int64_t splits;  // the reduction is cut into `splits` chunks of kchunk (a multiple of bk)
  int64_t kchunk;
};

// Blocks wanted to fill a GPU (2 per SM of a 132-SM H100/H200). A constant, not the device's count:
// the split of the reduction, and so the rounding of the result, must not depend on the device.
constexpr int64_t kTargetBlocks = 264;
constexpr int64_t kMaxSplits = 256;
constexpr int64_t kMaxWorkspaceFloats = int64_t(1) << 27;  // 512 MiB of split partial sums

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// tensor_cores: tf32/bf16 kernels (BK = 32), else the fp32 SIMT kernels (BK = 8).
inline Plan plan_gemm(int64_t M, int64_t N, int64_t depth, int64_t groups, bool tensor_cores) {
  Plan p;
  p.bk = tensor_cores ? 32 : 8;
  // the largest tile that wastes little on padding and still gives every SM a block (directly, or
  // through splitting a deep reduction)
  const bool many = ceil_div(M, 128) * ceil_div(N, 128) * groups >= kTargetBlocks / 2 || depth >= 4096;
  if (N <= 32 && M >= N) p.tile = Tile::t128x32;  // few output channels (LeNet, depthwise)
  else if (M <= 32) p.tile = Tile::t32x128;       // few rows (weight gradients of thin layers)
  else if (M <= 64) p.tile = Tile::t64x64;
  else if (N <= 64) p.tile = many ? Tile::t128x64 : Tile::t64x64;
  else p.tile = many ? Tile::t128x128 : Tile::t64x64;
  p.bm = tile_rows(p.tile);
  p.bn = tile_cols(p.tile);
  const int64_t tiles = ceil_div(M, p.bm) * ceil_div(N, p.bn) * groups;
  int64_t splits = 1;
  if (tiles < kTargetBlocks && depth > 0) {
    // each chunk keeps >= 8 k-steps so the partial sums stay cheap next to the work
    splits = std::min({ceil_div(kTargetBlocks, tiles), depth / (8 * p.bk), kMaxSplits});
    splits = std::max<int64_t>(splits, 1);
    while (splits > 1 && splits * groups * M * N > kMaxWorkspaceFloats) splits /= 2;
  }
  p.kchunk = std::max<int64_t>(ceil_div(ceil_div(depth, splits), p.bk) * p.bk, p.bk);
  p.splits = depth > 0 ? ceil_div(depth, p.kchunk) : 1;
  return p;
}

// ---- building the convolution GEMMs ----

inline ConvGemm conv_forward_gemm(const ConvParams& p, const float* x, const float* w, const float* b,
                                  float* y) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  ConvGemm g{};
  g.M = p.N * p.P * p.Q;
  g.depth = Cg * p.R * p.S;
  g.Ng = static_cast<int>(Kg);
  g.Mh = static_cast<int>(p.P);
  g.Mw = static_cast<int>(p.Q);
  g.Kc = static_cast<int>(Cg);
  g.nu = static_cast<int>(p.R);
  g.nv = static_cast<int>(p.S);
  g.src = x;
  g.src_c = p.C;
  g.IH = static_cast<int>(p.H);
  g.IW = static_cast<int>(p.W);
  g.ah = static_cast<int>(p.stride_h);
  g.aw = static_cast<int>(p.stride_w);
  g.auh = static_cast<int>(p.dil_h);
  g.auw = static_cast<int>(p.dil_w);
  g.aoh = static_cast<int>(-p.pad_top);
  g.aow = static_cast<int>(-p.pad_left);
  g.wt = w;
  g.wg = Kg * Cg * p.R * p.S;
  g.wcol = Cg * p.R * p.S;
  g.wc = p.R * p.S;
  g.S = static_cast<int>(p.S);
  g.u0 = 0;
  g.du = 1;
  g.v0 = 0;
  g.dv = 1;
  g.dst = y;
  g.bias = b;
  g.dst_c = p.K;
  g.OH = static_cast<int>(p.P);
  g.OW = static_cast<int>(p.Q);
  g.osh = 1;
  g.osw = 1;
  g.ooh = 0;
  g.oow = 0;
  return g;
}

// One dimension of a backward-data stride phase: the input positions h = first + i*stride (i < count)
// receive exactly the taps r = tap0 + t*tap_step (t < ntaps), tap r reading dy position
// src0 + i - t*src_step. (h + pad - r*dil must be a multiple of stride: r*dil = (first + pad) mod stride,
// whose solutions r repeat every stride/gcd(dil, stride).)
struct Phase {
  int first, count, tap0, ntaps, tap_step, src0, src_step;
};
inline Phase data_phase(int64_t first, int64_t size, int64_t pad, int64_t stride, int64_t dil, int64_t taps) {
  Phase ph{static_cast<int>(first), 0, 0, 0, 1, 0, 0};
  ph.count = first < size ? static_cast<int>(ceil_div(size - first, stride)) : 0;
  int64_t a = dil, b = stride;  // gcd
  while (b) {
    const int64_t t = a % b;
    a = b;
    b = t;
  }
  const int64_t period = stride / a, residue = (first + pad) % stride;
  for (int64_t r = 0; r < std::min(taps, period); ++r) {
    if ((r * dil) % stride == residue) {
      ph.tap0 = static_cast<int>(r);
      ph.ntaps = static_cast<int>(ceil_div(taps - r, period));
      ph.tap_step = static_cast<int>(period);
      ph.src0 = static_cast<int>((first + pad - r * dil) / stride);  // exact
      ph.src_step = static_cast<int>(dil / a);
      break;
    }
  }
  return ph;
}

// conv2d backward-data (dx from dy), or conv_transpose2d forward with bias b over dx's channels:
// one GEMM per stride phase that has input positions (a phase without taps still runs: it writes
// zeros, or the bias).
inline std::vector<ConvGemm> conv_backward_data_gemms(const ConvParams& p, const float* dy, const float* w,
                                                      const float* b, float* dx) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  std::vector<ConvGemm> out;
  for (int64_t h0 = 0; h0 < std::min(p.stride_h, p.H); ++h0) {
    const Phase ph = data_phase(h0, p.H, p.pad_top, p.stride_h, p.dil_h, p.R);
    for (int64_t w0 = 0; w0 < std::min(p.stride_w, p.W); ++w0) {
      const Phase pw = data_phase(w0, p.W, p.pad_left, p.stride_w, p.dil_w, p.S);
      ConvGemm g{};
      g.M = p.N * ph.count * pw.count;
      g.depth = Kg * ph.ntaps * pw.ntaps;
      g.Ng = static_cast<int>(Cg);
      g.Mh = ph.count;
      g.Mw = pw.count;
      g.Kc = static_cast<int>(Kg);
      g.nu = ph.ntaps;
      g.nv = pw.ntaps;
      g.src = dy;
      g.src_c = p.K;
      g.IH = static_cast<int>(p.P);
      g.IW = static_cast<int>(p.Q);
      g.ah = 1;
      g.aw = 1;
      g.auh = -ph.src_step;
      g.auw = -pw.src_step;
      g.aoh = ph.src0;
      g.aow = pw.src0;
      g.wt = w;
      g.wg = Kg * Cg * p.R * p.S;
      g.wcol = p.R * p.S;
      g.wc = Cg * p.R * p.S;
      g.S = static_cast<int>(p.S);
      g.u0 = ph.tap0;
      g.du = ph.tap_step;
      g.v0 = pw.tap0;
      g.dv = pw.tap_step;
      g.dst = dx;
      g.bias = b;
      g.dst_c = p.C;
      g.OH = static_cast<int>(p.H);
      g.OW = static_cast<int>(p.W);
      g.osh = static_cast<int>(p.stride_h);
      g.osw = static_cast<int>(p.stride_w);
      g.ooh = ph.first;
      g.oow = pw.first;
      if (g.M > 0) out.push_back(g);
    }
  }
  return out;
}

inline ConvWgrad conv_backward_weight_gemm(const ConvParams& p, const float* dy, const float* x, float* dw) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  ConvWgrad g{};
  g.M = Kg;
  g.depth = p.N * p.P * p.Q;
  g.Ng = static_cast<int>(Cg * p.R * p.S);
  g.P = static_cast<int>(p.P);
  g.Q = static_cast<int>(p.Q);
  g.R = static_cast<int>(p.R);
  g.S = static_cast<int>(p.S);
  g.H = static_cast<int>(p.H);
  g.W = static_cast<int>(p.W);
  g.sh = static_cast<int>(p.stride_h);
  g.sw = static_cast<int>(p.stride_w);
  g.pt = static_cast<int>(p.pad_top);
  g.pl = static_cast<int>(p.pad_left);
  g.dh = static_cast<int>(p.dil_h);
  g.dwd = static_cast<int>(p.dil_w);
  g.Kg = static_cast<int>(Kg);
  g.Cg = static_cast<int>(Cg);
  g.K = p.K;
  g.C = p.C;
  g.dy = dy;
  g.x = x;
  g.dw = dw;
  return g;
}

// linear: x is (N,C), w is (K,C), y is (N,K).
inline Dense linear_forward_gemm(const float* x, const float* w, const float* b, float* y, int64_t N,
                                 int64_t C, int64_t K) {
  return {N, C, static_cast<int>(K), x, C, 1, w, 1, C, y, K, b};  // y = x w^T + b
}
inline Dense linear_dx_gemm(const float* dy, const float* w, float* dx, int64_t N, int64_t C, int64_t K) {
  return {N, K, static_cast<int>(C), dy, K, 1, w, C, 1, dx, C, nullptr};  // dx = dy w
}
inline Dense linear_dw_gemm(const float* dy, const float* x, float* dw, int64_t N, int64_t C, int64_t K) {
  return {K, N, static_cast<int>(C), dy, 1, K, x, C, 1, dw, C, nullptr};  // dw = dy^T x
}

}  // namespace fastcnn::cuda::gemm
