// Winograd F(2x2, 5x5), kL = vec::kLanes samples per vector (8 with AVX2, 16 with AVX-512; see
// winograd5.h). x is (N,C,H,W), w is (K,C,5,5), y is (N,K,P,Q).
//
// Per block of kL samples (the blocks run in parallel):
//  - X8[c][i][j][kL]: x repacked with the samples interleaved, over the padded window of Hp x Wp
//    (zeros in the padding and in the lanes past N), by 8x8 transposes (8 columns of 8 samples).
//  - Tiles in pairs (NT = 2, flat over the tile rows and columns of an image): the input
//    transform of both into V[xi][c][2 kL], the 36 GEMMs M[xi] (Kp, 2 kL) = U[xi]^T . V[xi] with
//    an MR x 2 register tile, the output transform per filter into Z8 (the conv output, lanes
//    interleaved) and/or the pooled maxima into P8.
//  - Z8 and P8 back to (N,K,...) by 8x8 transposes.
// U[xi][c][k] (k padded to Kp) is the transformed filter set, computed in double on every call.
// Backward-data runs the adjoints in reverse order (dy packed, dM = A dy A^T, the GEMMs with U
// transposed, dx += B dV B^T into the padded window, unpacked with the crop); backward-weight
// transforms x and dy per run of tiles and sums dM[xi][k] V[xi][c] lane by lane.
#include "cpu/kernels/winograd5.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/kernels/winograd_transforms.h"
#include "cpu/vec/transpose.h"
#include "cpu/vec/vec.h"
#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

using vec::F32v;

constexpr int64_t kXi = 36;             // 6 x 6 transform-domain points
constexpr int64_t kL = vec::kLanes;     // samples per block: the lanes of a vector (8 or 16)
// GEMM register tile: MR rows (filters or channels) x NT tiles of kL lanes; 8 x 2 with the 32
// vector registers of AVX-512, 4 x 2 with AVX2's 16
constexpr int64_t MR = kL == 16 ? 8 : 4;
constexpr int64_t NT = 2, NR = NT * kL;
constexpr int64_t kWeightChunks = 8;    // the weight gradient's batch sum: fixed chunks

// G (6x5) of the filter transform, applied in double: row j < 5 is a_j^k / prod_{l != j}(a_j - a_l)
// for the points a = 0, 1, -1, 2, -2; row 5 (infinity) picks the last tap.
constexpr double G[6][5] = {{1.0 / 4, 0, 0, 0, 0},
                            {-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
                            {-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6},
                            {1.0 / 24, 2.0 / 24, 4.0 / 24, 8.0 / 24, 16.0 / 24},
                            {1.0 / 24, -2.0 / 24, 4.0 / 24, -8.0 / 24, 16.0 / 24},
                            {0, 0, 0, 0, 1}};

template <int Slot>
float* workspace(int64_t size) {
  static thread_local std::vector<float> ws;
  if ((int64_t)ws.size() < size) ws.resize(size);
  return ws.data();
}

inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

struct Geometry {
  int64_t TH, TW, tiles;  // tile rows and columns of an image, tiles per image
  int64_t Hp, Wp;         // the padded input window: 2*TH + 4 rows, 2*TW + 4 columns
  int64_t Kp, Cp;         // K and C rounded up to MR
  int64_t blocks;         // blocks of kL samples
  // floats from one point xi to the next in a tile pair's V (Cp x NR) and M (Kp x NR): one cache
  // line more than the data, so that the 36 planes do not map to a few cache sets
  int64_t vxs, mxs;
};

Geometry geometry(const Conv2dParams& p) {
  Geometry g;
  g.TH = (p.P + 1) / 2;
  g.TW = (p.Q + 1) / 2;
  g.tiles = g.TH * g.TW;
  g.Hp = 2 * g.TH + 4;
  g.Wp = 2 * g.TW + 4;
  g.Kp = round_up(p.K, MR);
  g.Cp = round_up(p.C, MR);
  g.blocks = (p.N + kL - 1) / kL;
  g.vxs = g.Cp * NR + 16;
  g.mxs = g.Kp * NR + 16;
  return g;
}

// ---- samples-in-lanes packing ----------------------------------------------------------------
// By 8x8 transposes: 8 columns of 8 samples at a time (kL / 8 sample groups per vector).

// dst[((c*Hd + top + h)*Wd + left + w)*kL + l] = src[n0 + l, c, h, w] for h < H, w < W (lanes
// past N: 0); the rest of dst (C x Hd x Wd vectors) zero. Needs top + H <= Hd, left + W <= Wd.
void pack_lanes(const float* src, int64_t N, int64_t n0, int64_t C, int64_t H, int64_t W,
                int64_t top, int64_t left, int64_t Hd, int64_t Wd, float* dst) {
  std::memset(dst, 0, sizeof(float) * C * Hd * Wd * kL);
  const int64_t HW = H * W;
  float* zeros = workspace<9>(W);  // the rows of the lanes past N
  std::fill(zeros, zeros + W, 0.f);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h) {
      const float* rows[kL];
      for (int64_t l = 0; l < kL; ++l)
        rows[l] = n0 + l < N ? src + ((n0 + l) * C + c) * HW + h * W : zeros;
      float* d = dst + ((c * Hd + top + h) * Wd + left) * kL;
      if (W < 8) {
        for (int64_t j = 0; j < W; ++j)
          for (int64_t l = 0; l < kL; ++l) d[j * kL + l] = rows[l][j];
        continue;
      }
      for (int64_t j = 0;; j += 8) {  // the last 8 columns shifted back to end at W
        const int64_t j0 = std::min(j, W - 8);
        for (int64_t l0 = 0; l0 < kL; l0 += 8) {
          vec::F32x8 r[8], t[8];
          for (int64_t l = 0; l < 8; ++l) r[l] = vec::load8(rows[l0 + l] + j0);
          vec::transpose8(r, t);
          for (int e = 0; e < 8; ++e) vec::store8(d + (j0 + e) * kL + l0, t[e]);
        }
        if (j0 + 8 >= W) break;
      }
    }
}

// dst[n0 + l, c, h, w] = src[((c*Hs + top + h)*Ws + left + w)*kL + l] (+ bias[c]) for the lanes
// with n0 + l < N, h < H, w < W: the inverse of pack_lanes.
void unpack_lanes(const float* src, int64_t C, int64_t Hs, int64_t Ws, int64_t top, int64_t left,
                  int64_t H, int64_t W, const float* bias, int64_t N, int64_t n0, float* dst) {
  const int64_t HW = H * W, lanes = std::min(kL, N - n0);
  for (int64_t c = 0; c < C; ++c) {
    const vec::F32x8 bc = vec::splat8(bias ? bias[c] : 0.f);
    for (int64_t h = 0; h < H; ++h) {
      const float* s = src + ((c * Hs + top + h) * Ws + left) * kL;
      float* d = dst + (n0 * C + c) * HW + h * W;
      if (W < 8) {
        for (int64_t l = 0; l < lanes; ++l)
          for (int64_t j = 0; j < W; ++j) d[l * C * HW + j] = s[j * kL + l] + bc[0];
        continue;
      }
      for (int64_t j = 0;; j += 8) {
        const int64_t j0 = std::min(j, W - 8);
        for (int64_t l0 = 0; l0 < lanes; l0 += 8) {
          vec::F32x8 r[8], t[8];
          for (int e = 0; e < 8; ++e) r[e] = vec::load8(s + (j0 + e) * kL + l0);
          vec::transpose8(r, t);
          for (int64_t l = 0; l < std::min<int64_t>(8, lanes - l0); ++l)
            vec::store8(d + (l0 + l) * C * HW + j0, t[l] + bc);
        }
        if (j0 + 8 >= W) break;
      }
    }
  }
}

// ---- transforms (one vector per tile and point: kL samples) -----------------------------------

// d = B t for a column of 6 values: the adjoint of winograd_common::input_1d.
inline void input_adjoint_1d(F32v t0, F32v t1, F32v t2, F32v t3, F32v t4, F32v t5, F32v* d,
                             int64_t ds) {
  const F32v two = vec::splatv(2.f), four = vec::splatv(4.f), five = vec::splatv(5.f);
  const F32v p = t1 + t2, q = t2 - t1, r = t3 + t4, s = t3 - t4;
  d[0] = four * t0;
  d[ds] = four * (q + t5) - two * s;
  d[2 * ds] = -(five * t0 + four * p + r);
  d[3 * ds] = two * s - q - five * t5;
  d[4 * ds] = t0 + p + r;
  d[5 * ds] = t5;
}

// (o0, o1) = A^T m for a column of 6 values.
inline void output_1d(F32v m0, F32v m1, F32v m2, F32v m3, F32v m4, F32v m5, F32v& o0,
                      F32v& o1) {
  o0 = m0 + (m1 + m2) + (m3 + m4);
  o1 = (m1 - m2) + vec::splatv(2.f) * (m3 - m4) + m5;
}

// m = A (o0, o1): the adjoint of output_1d.
inline void output_adjoint_1d(F32v o0, F32v o1, F32v* m, int64_t ms) {
  const F32v t = o1 + o1;
  m[0] = o0;
  m[ms] = o0 + o1;
  m[2 * ms] = o0 - o1;
  m[3 * ms] = o0 + t;
  m[4 * ms] = o0 - t;
  m[5 * ms] = o1;
}

// V[xi*xs + c*ld] = (B^T d B)[xi] (kL lanes) for c < C, d the 6x6 window of X8 at (2*ty, 2*tx).
void transform_tile_input(const float* X8, const Geometry& g, int64_t C, int64_t ty, int64_t tx,
                          float* V, int64_t ld, int64_t xs) {
  for (int64_t c = 0; c < C; ++c) {
    const float* base = X8 + ((c * g.Hp + 2 * ty) * g.Wp + 2 * tx) * kL;
    F32v d[kXi];
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 6; ++j) d[6 * i + j] = vec::loadv(base + (i * g.Wp + j) * kL);
    winograd_common::input_tile(d);  // V = B^T d B
    for (int64_t xi = 0; xi < kXi; ++xi) vec::storev(V + xi * xs + c * ld, d[xi]);
  }
}

// dM[xi*xs + k*ld] = (A dy A^T)[xi] (kL lanes) for k < K, dy the 2x2 block of DY8 (K, 2TH, 2TW)
// at (2*ty, 2*tx).
void transform_tile_grad_output(const float* DY8, const Geometry& g, int64_t K, int64_t ty,
                                int64_t tx, float* dM, int64_t ld, int64_t xs) {
  const int64_t W2 = 2 * g.TW;
  for (int64_t k = 0; k < K; ++k) {
    const float* base = DY8 + ((k * 2 * g.TH + 2 * ty) * W2 + 2 * tx) * kL;
    F32v h[12], m[kXi];  // h[6a + j]: row a of dy, through A along the columns
    for (int a = 0; a < 2; ++a)
      output_adjoint_1d(vec::loadv(base + a * W2 * kL), vec::loadv(base + (a * W2 + 1) * kL),
                        h + 6 * a, 1);
    for (int j = 0; j < 6; ++j) output_adjoint_1d(h[j], h[6 + j], m + j, 6);
    for (int64_t xi = 0; xi < kXi; ++xi) vec::storev(dM + xi * xs + k * ld, m[xi]);
  }
}

// Out[xi*oxs + r*NR + e] = sum_{j < J} A[(xi*J + j)*Rp + r] * B[xi*bxs + j*NR + e] for r < Rp
// (a multiple of MR), e < NR: the 36 transform-domain GEMMs of a tile pair, summed in j order.
void xi_gemm(int64_t J, int64_t Rp, const float* A, const float* B, int64_t bxs, float* Out,
             int64_t oxs) {
  for (int64_t xi = 0; xi < kXi; ++xi) {
    const float* b = B + xi * bxs;
    for (int64_t r0 = 0; r0 < Rp; r0 += MR) {
      const float* a = A + xi * J * Rp + r0;
      F32v acc[MR][NT];
      for (int64_t i = 0; i < MR; ++i)
        for (int64_t t = 0; t < NT; ++t) acc[i][t] = vec::splatv(0.f);
      for (int64_t j = 0; j < J; ++j) {
        F32v bj[NT];
        for (int64_t t = 0; t < NT; ++t) bj[t] = vec::loadv(b + j * NR + t * kL);
        for (int64_t i = 0; i < MR; ++i) {
          const F32v ai = vec::splatv(a[j * Rp + i]);
          for (int64_t t = 0; t < NT; ++t) acc[i][t] += ai * bj[t];
        }
      }
      float* o = Out + xi * oxs + r0 * NR;
      for (int64_t i = 0; i < MR; ++i)
        for (int64_t t = 0; t < NT; ++t) vec::storev(o + i * NR + t * kL, acc[i][t]);
    }
  }
}

// U[(xi*C + c)*Rp + k] = (G g G^T)[xi] of the filter (k, c) (5x5, row-major), k < K; rows up to
// Rp zero. With transposed = true the roles swap: U[(xi*K + k)*Rp + c] (the backward-data GEMM
// sums over k and gives channels).
void transform_filters(const float* w, int64_t K, int64_t C, int64_t Rp, bool transposed,
                       float* U) {
  const int64_t J = transposed ? K : C;
  std::fill(U, U + kXi * J * Rp, 0.f);
  parallel_for(0, K * C, kParallelGrain / 256, [&](int64_t i0, int64_t i1) {
    for (int64_t kc = i0; kc < i1; ++kc) {
      const int64_t k = kc / C, c = kc % C;
      double u[kXi];
      winograd_common::filter_transform(G, w + kc * 25, u);
      for (int64_t xi = 0; xi < kXi; ++xi)
        U[transposed ? (xi * K + k) * Rp + c : (xi * C + c) * Rp + k] = static_cast<float>(u[xi]);
    }
  });
}

}  // namespace

// Where it pays, measured against the algorithms the shapes took before (direct "filters" /
// "wide", GEMM; 2 threads, median of 40 calls; ms for forward, backward-weight, backward-data):
//  - AVX-512 (16 lanes), LeNet's conv2, 128x6x14x14 -> 16: 0.30 / - / 0.43 -> 0.21 / - / 0.22;
//    Inception's 5x5 branches, 32x16x28x28 -> 32 and 32x32x14x14 -> 64, pad 2: forward 2.4-2.5
//    -> 0.9-1.0, backward-data 2.1-2.3 -> 1.1-1.6; 64x8x24x24 -> 16: 0.67 / 0.77 -> 0.37 / 0.45.
//  - The weight gradient (its transforms of x and dy, and lane accumulators for every point,
//    filter and channel that outgrow L2 at 16 lanes) lost to the 16-lane direct kernels on all of
//    those (1.4 vs 2.3, 2.3 vs 2.3, 0.40 vs 0.80), and with 8 lanes (AVX2 objects on the same
//    CPU) won only from 32 channels (2.5 vs 3.3 at 32 -> 64; 2.6 vs 2.4 at 16 -> 32, 0.89 vs 0.65
//    at 8 -> 16): it is taken with 8 lanes and 32 channels only.
// Few channels: a tile pair's V and M stay in L1/L2 up to 32 channels and 64 filters (larger sets
// not measured); one input channel (LeNet's conv1) keeps its direct lane kernel, whose work per
// output the transforms would not undercut.
bool winograd5_applies(const Conv2dParams& p, bool weight_gradient) {
  if (p.R != 5 || p.S != 5 || p.stride_h != 1 || p.stride_w != 1 || p.dil_h != 1 || p.dil_w != 1 ||
      p.groups != 1 || p.N < 8 || p.P <= 0 || p.Q <= 0 || p.pad_top < 0 || p.pad_left < 0)
    return false;
  // the window 2*TH + 4 must hold the padded input rows read (pad_bottom >= 0)
  if (p.H + p.pad_top > p.P + 4 + (p.P & 1) || p.W + p.pad_left > p.Q + 4 + (p.Q & 1)) return false;
  if (weight_gradient) return kL == 8 && p.C == 32 && p.K <= 64;
  return p.C >= 4 && p.C <= 32 && p.K <= 64;
}

// y (N,K,P,Q) or null; pooled (N,K,P/2,Q/2) or null: the 2x2 stride-2 max pool of y (P, Q even).
void winograd5_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                       float* y, float* pooled) {
  const Geometry g = geometry(p);
  const int64_t C = p.C, K = p.K, Kp = g.Kp, TH = g.TH, TW = g.TW;
  float* U = workspace<0>(kXi * C * Kp);
  transform_filters(w, K, C, Kp, false, U);
  parallel_for(0, g.blocks, 0, [&](int64_t b0, int64_t b1) {
    float* X8 = workspace<1>(C * g.Hp * g.Wp * kL);
    float* V = workspace<2>(kXi * g.vxs);
    float* M = workspace<3>(kXi * g.mxs);
    float* Z8 = y ? workspace<4>(K * 4 * g.tiles * kL) : nullptr;
    float* P8 = pooled ? workspace<5>(K * g.tiles * kL) : nullptr;
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n0 = blk * kL;
      pack_lanes(x, p.N, n0, C, p.H, p.W, p.pad_top, p.pad_left, g.Hp, g.Wp, X8);
      for (int64_t t0 = 0; t0 < g.tiles; t0 += NT) {
        const int64_t nt = std::min(NT, g.tiles - t0);
        for (int64_t s = 0; s < NT; ++s) {  // a missing second tile repeats the first
          const int64_t t = t0 + std::min(s, nt - 1);
          transform_tile_input(X8, g, C, t / TW, t % TW, V + s * kL, NR, g.vxs);
        }
        xi_gemm(C, Kp, U, V, g.vxs, M, g.mxs);
        for (int64_t k = 0; k < K; ++k) {
          const F32v bk = vec::splatv(b ? b[k] : 0.f);
          for (int64_t s = 0; s < nt; ++s) {
            const int64_t t = t0 + s, ty = t / TW, tx = t % TW;
            F32v m[kXi], r[12], o[4];
            for (int64_t xi = 0; xi < kXi; ++xi) m[xi] = vec::loadv(M + xi * g.mxs + k * NR + s * kL);
            for (int j = 0; j < 6; ++j)  // columns: r = A^T m
              output_1d(m[j], m[6 + j], m[12 + j], m[18 + j], m[24 + j], m[30 + j], r[j], r[6 + j]);
            for (int a = 0; a < 2; ++a) {  // rows: o = r A + bias
              output_1d(r[6 * a], r[6 * a + 1], r[6 * a + 2], r[6 * a + 3], r[6 * a + 4],
                        r[6 * a + 5], o[2 * a], o[2 * a + 1]);
              o[2 * a] += bk;
              o[2 * a + 1] += bk;
            }
            if (Z8)
              for (int a = 0; a < 2; ++a)
                for (int c = 0; c < 2; ++c)
                  vec::storev(Z8 + ((k * 2 * TH + 2 * ty + a) * 2 * TW + 2 * tx + c) * kL, o[2 * a + c]);
            if (P8) {
              // max_pool2d's choice: the later element when greater or NaN
              auto takes = [](F32v v, F32v m) { return (v > m) | (v != v); };
              const F32v top = takes(o[1], o[0]) ? o[1] : o[0], bottom = takes(o[3], o[2]) ? o[3] : o[2];
              vec::storev(P8 + ((k * TH + ty) * TW + tx) * kL, takes(bottom, top) ? bottom : top);
            }
          }
        }
      }
      if (y) unpack_lanes(Z8, K, 2 * TH, 2 * TW, 0, 0, p.P, p.Q, nullptr, p.N, n0, y);
      if (pooled) unpack_lanes(P8, K, TH, TW, 0, 0, TH, TW, nullptr, p.N, n0, pooled);
    }
  });
}

// dy is (N,K,P,Q), w is (K,C,5,5), b is (C,) or null, dx is (N,C,H,W).
void winograd5_backward_data(const Conv2dParams& p, const float* dy, const float* w, const float* b,
                             float* dx) {
  const Geometry g = geometry(p);
  const int64_t C = p.C, K = p.K, Cp = g.Cp, TW = g.TW;
  float* U = workspace<0>(kXi * K * Cp);
  transform_filters(w, K, C, Cp, true, U);
  parallel_for(0, g.blocks, 0, [&](int64_t b0, int64_t b1) {
    float* DY8 = workspace<1>(K * 4 * g.tiles * kL);
    float* dM = workspace<3>(kXi * g.mxs);
    float* dV = workspace<2>(kXi * g.vxs);
    float* DX8 = workspace<4>(C * g.Hp * g.Wp * kL);
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n0 = blk * kL;
      pack_lanes(dy, p.N, n0, K, p.P, p.Q, 0, 0, 2 * g.TH, 2 * TW, DY8);
      std::memset(DX8, 0, sizeof(float) * C * g.Hp * g.Wp * kL);
      for (int64_t t0 = 0; t0 < g.tiles; t0 += NT) {
        const int64_t nt = std::min(NT, g.tiles - t0);
        for (int64_t s = 0; s < NT; ++s) {
          const int64_t t = t0 + std::min(s, nt - 1);
          transform_tile_grad_output(DY8, g, K, t / TW, t % TW, dM + s * kL, NR, g.mxs);
        }
        xi_gemm(K, Cp, U, dM, g.mxs, dV, g.vxs);
        for (int64_t s = 0; s < nt; ++s) {
          const int64_t t = t0 + s, ty = t / TW, tx = t % TW;
          for (int64_t c = 0; c < C; ++c) {
            F32v v[kXi], r[kXi];
            for (int64_t xi = 0; xi < kXi; ++xi) v[xi] = vec::loadv(dV + xi * g.vxs + c * NR + s * kL);
            for (int i = 0; i < 6; ++i)  // rows: r = v B^T
              input_adjoint_1d(v[6 * i], v[6 * i + 1], v[6 * i + 2], v[6 * i + 3], v[6 * i + 4],
                               v[6 * i + 5], r + 6 * i, 1);
            for (int j = 0; j < 6; ++j)  // columns: d = B r
              input_adjoint_1d(r[j], r[6 + j], r[12 + j], r[18 + j], r[24 + j], r[30 + j], v + j, 6);
            float* base = DX8 + ((c * g.Hp + 2 * ty) * g.Wp + 2 * tx) * kL;
            for (int i = 0; i < 6; ++i)
              for (int j = 0; j < 6; ++j) {
                float* at = base + (i * g.Wp + j) * kL;
                vec::storev(at, vec::loadv(at) + v[6 * i + j]);
              }
          }
        }
      }
      unpack_lanes(DX8, C, g.Hp, g.Wp, p.pad_top, p.pad_left, p.H, p.W, b, p.N, n0, dx);
    }
  });
}

// dy is (N,K,P,Q), x is (N,C,H,W), dw is (K,C,5,5).
// dU[xi][k][c] = sum over samples and tiles of dM[xi][k] V[xi][c]. Per chunk of sample blocks,
// lane-wise sums in dUc[xi][k][c][kL]: per block, the tiles in runs of up to kRunTiles (their V and
// dM in L2), each run added with a register tile of 4 filters x 3 channels (channels padded to 3,
// filters to MR, with zero rows); then the chunks and the lanes are summed in order.
void winograd5_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw) {
  constexpr int64_t kRunTiles = 12, KB = 4, CB = 3;
  const Geometry g = geometry(p);
  const int64_t C = p.C, K = p.K, Kp = g.Kp, Cb = round_up(C, CB), TW = g.TW;
  // V and dM tile-major: a tile's transforms are written as one contiguous run
  const int64_t run = std::min(kRunTiles, g.tiles);
  const int64_t vxw = Cb * kL + 16, mxw = Kp * kL + 16, vtile = kXi * vxw, mtile = kXi * mxw;
  const int64_t chunks = std::min(kWeightChunks, g.blocks), dusize = kXi * Kp * Cb * kL;
  float* dUc = workspace<0>(chunks * dusize);
  parallel_for(0, chunks, 0, [&](int64_t c0, int64_t c1) {
    float* X8 = workspace<1>(C * g.Hp * g.Wp * kL);
    float* V = workspace<2>(run * vtile);
    float* dM = workspace<3>(run * mtile);
    float* DY8 = workspace<4>(K * 4 * g.tiles * kL);
    std::fill(V, V + run * vtile, 0.f);    // channels past C stay zero
    std::fill(dM, dM + run * mtile, 0.f);  // filters past K stay zero
    for (int64_t ch = c0; ch < c1; ++ch) {
      float* acc_at = dUc + ch * dusize;
      std::fill(acc_at, acc_at + dusize, 0.f);
      for (int64_t blk = ch * g.blocks / chunks; blk < (ch + 1) * g.blocks / chunks; ++blk) {
        const int64_t n0 = blk * kL;
        pack_lanes(x, p.N, n0, C, p.H, p.W, p.pad_top, p.pad_left, g.Hp, g.Wp, X8);
        pack_lanes(dy, p.N, n0, K, p.P, p.Q, 0, 0, 2 * g.TH, 2 * TW, DY8);  // lanes past N: dy = 0
        for (int64_t t0 = 0; t0 < g.tiles; t0 += run) {
          const int64_t nt = std::min(run, g.tiles - t0);
          for (int64_t s = 0; s < nt; ++s) {
            const int64_t t = t0 + s;
            transform_tile_input(X8, g, C, t / TW, t % TW, V + s * vtile, kL, vxw);
            transform_tile_grad_output(DY8, g, K, t / TW, t % TW, dM + s * mtile, kL, mxw);
          }
          for (int64_t xi = 0; xi < kXi; ++xi)
            for (int64_t k0 = 0; k0 < Kp; k0 += KB)
              for (int64_t cb = 0; cb < Cb; cb += CB) {
                F32v acc[KB][CB];
                float* at = acc_at + ((xi * Kp + k0) * Cb + cb) * kL;
                for (int i = 0; i < KB; ++i)
                  for (int j = 0; j < CB; ++j) acc[i][j] = vec::loadv(at + (i * Cb + j) * kL);
                const float* mrow = dM + xi * mxw + k0 * kL;
                const float* vrow = V + xi * vxw + cb * kL;
                for (int64_t s = 0; s < nt; ++s) {
                  F32v mk[KB], vc[CB];
                  for (int i = 0; i < KB; ++i) mk[i] = vec::loadv(mrow + s * mtile + i * kL);
                  for (int j = 0; j < CB; ++j) vc[j] = vec::loadv(vrow + s * vtile + j * kL);
                  for (int i = 0; i < KB; ++i)
                    for (int j = 0; j < CB; ++j) acc[i][j] += mk[i] * vc[j];
                }
                for (int i = 0; i < KB; ++i)
                  for (int j = 0; j < CB; ++j) vec::storev(at + (i * Cb + j) * kL, acc[i][j]);
              }
        }
      }
    }
  });
  // the chunks summed in order into chunk 0 (elementwise, vectorized), then per (k, c) the lanes
  // in order (in double) and dw = G^T dU G
  parallel_for(0, dusize, kParallelGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t ch = 1; ch < chunks; ++ch)
      for (int64_t i = i0; i < i1; ++i) dUc[i] += dUc[ch * dusize + i];
  });
  parallel_for(0, K * C, kParallelGrain / 1024, [&](int64_t i0, int64_t i1) {
    for (int64_t kc = i0; kc < i1; ++kc) {
      const int64_t k = kc / C, c = kc % C;
      double du[kXi];
      for (int64_t xi = 0; xi < kXi; ++xi) {
        const float* lanes = dUc + ((xi * Kp + k) * Cb + c) * kL;
        double s = 0;
        for (int64_t l = 0; l < kL; ++l) s += lanes[l];
        du[xi] = s;
      }
      double dg[25];
      winograd_common::filter_transform_adjoint(G, du, dg);
      for (int e = 0; e < 25; ++e) dw[kc * 25 + e] = static_cast<float>(dg[e]);
    }
  });
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
