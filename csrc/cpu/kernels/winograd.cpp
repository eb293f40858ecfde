// Winograd F(4x4, 3x3) (see winograd.h). x is (N,C,H,W), w is (K,C,3,3), y is (N,K,P,Q).
//
// Forward (and backward-data, the forward of a flipped problem): the tiles of the whole batch are
// numbered (n, tile row, tile column) and processed in blocks of `strips` x 16 tiles (up to 64),
// one block at a time per thread, so that a block's transformed data stays in cache: input
// transform into V, 36 GEMMs into M, output transform into y.
//  - V[xi][strip][c][16]: the GEMMs' B operand, already in the packed layout of the microkernel
//    (16 tiles per strip, channel-major), so no packing pass.
//  - U[xi][kstrip][c][6]: the transformed filters packed as the A operand (6 filters per strip,
//    zero rows past K); computed on every call, before the parallel loop (a few MFLOP).
//  - M[xi][strip][k][16]: the GEMMs' output, read back by the output transform.
// The transforms are vectorized over 8 tiles (one vector lane per tile), the 6x6 windows turned
// into lanes by 8x8 transposes.
// Backward-weight: see winograd_backward_weight.
#include "cpu/kernels/winograd.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/gemm/sgemm.h"
#include "cpu/kernels/winograd_transforms.h"
#include "cpu/vec/transpose.h"
#include "cpu/vec/vec.h"
#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

using vec::F32x8;
typedef int32_t I32x8 __attribute__((vector_size(32)));

constexpr int64_t kXi = 36;           // 6 x 6 transform-domain points
constexpr int64_t MR = 6, NR = 16;    // GEMM register tile: 6 filters x 16 tiles
constexpr int64_t kMaxStrips = 4;     // tiles per block: up to 64
constexpr int64_t kMaxGroups = 16;    // 8-tile lane groups in one transform call

// The filter transform's G (6x3), applied in double.
constexpr double G[6][3] = {{1.0 / 4, 0, 0},          {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                            {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                            {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};


template <int Slot>
float* workspace(int64_t size) {
  static thread_local std::vector<float> ws;
  if ((int64_t)ws.size() < size) ws.resize(size);
  return ws.data();
}

struct Geometry {
  int64_t TH, TW, per_image, tiles;  // tile rows and columns of one image; tiles of the batch
  int64_t Kp;                        // K rounded up to MR
  int64_t strips, blocks;            // strips of NR tiles per block; blocks of the batch
  int64_t v_stride, m_stride;        // floats from one xi to the next in V and M
};

Geometry geometry(const Conv2dParams& p) {
  Geometry g;
  g.TH = (p.P + 3) / 4;
  g.TW = (p.Q + 3) / 4;
  g.per_image = g.TH * g.TW;
  g.tiles = p.N * g.per_image;
  g.Kp = (p.K + MR - 1) / MR * MR;
  // Enough blocks for every thread (the blocking never changes the results, only the speed).
  const int64_t all_strips = (g.tiles + NR - 1) / NR;
  g.strips = std::max<int64_t>(1, std::min(kMaxStrips, all_strips / get_num_threads()));
  g.blocks = (all_strips + g.strips - 1) / g.strips;
  // One cache line more than the data, so that the 36 planes do not all map to the same cache set
  // (a power-of-two stride made the transforms 2x slower).
  g.v_stride = g.strips * p.C * NR + 16;
  g.m_stride = g.strips * g.Kp * NR + 16;
  return g;
}

// ---- transforms -------------------------------------------------------------------------------

// o = A^T m for a column of 6 values.
inline void output_1d(F32x8 m0, F32x8 m1, F32x8 m2, F32x8 m3, F32x8 m4, F32x8 m5, F32x8* o,
                      int64_t os) {
  const F32x8 two = vec::splat8(2.f), four = vec::splat8(4.f), eight = vec::splat8(8.f);
  const F32x8 a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
  o[0] = m0 + a + c;
  o[os] = b + two * d;
  o[2 * os] = a + four * c;
  o[3 * os] = b + eight * d + m5;
}

// U[xi][k / MR][c][k % MR] = (G g G^T)[xi] for the filter g = filter(k, c) (3x3, row-major),
// computed in double; rows k in [K, Kp) are zero.
template <typename Filter>
void transform_filters(int64_t K, int64_t C, int64_t Kp, const Filter& filter, float* U) {
  const int64_t kstrips = Kp / MR;
  // About 400 flops per filter: small sets stay on one thread.
  parallel_for(0, kstrips, kParallelGrain / (MR * C * kXi), [&](int64_t s0, int64_t s1) {
    for (int64_t ks = s0; ks < s1; ++ks)
      for (int64_t c = 0; c < C; ++c) {
        double u[kXi][MR] = {};  // the strip's MR filters, written as one row of MR per xi
        for (int64_t kk = 0; kk < MR && ks * MR + kk < K; ++kk) {
          double ug[kXi];
          winograd_common::filter_transform(G, filter(ks * MR + kk, c), ug);
          for (int64_t xi = 0; xi < kXi; ++xi) u[xi][kk] = ug[xi];
        }
        for (int64_t xi = 0; xi < kXi; ++xi)
          for (int64_t kk = 0; kk < MR; ++kk)
            U[((xi * kstrips + ks) * C + c) * MR + kk] = static_cast<float>(u[xi][kk]);
      }
  });
}

// Where the 8 tiles [t, t+8) of a block lie; lanes past the batch's tiles are marked invalid.
struct Lanes {
  int64_t n[8], oy[8], ox[8];
  bool valid[8];
};

Lanes lanes_of(const Geometry& g, int64_t t, int64_t pad_top, int64_t pad_left) {
  Lanes L;
  for (int l = 0; l < 8; ++l) {
    const int64_t tile = t + l;
    L.valid[l] = tile < g.tiles;
    const int64_t n = L.valid[l] ? tile / g.per_image : 0, r = tile % g.per_image;
    L.n[l] = n;
    L.oy[l] = (r / g.TW) * 4 - pad_top;
    L.ox[l] = (r % g.TW) * 4 - pad_left;
  }
  return L;
}

using vec::transpose8;

// row[ox + j] for j < 6 inside [0, W), else 0 (j = 6, 7 too), for W >= 8: one load from inside the
// row, shifted into place and masked.
inline F32x8 load_edge_row(const float* row, int64_t ox, int64_t W) {
  const I32x8 iota = {0, 1, 2, 3, 4, 5, 6, 7};
  const int64_t base = std::min(std::max<int64_t>(ox, 0), W - 8);
  const I32x8 col = iota + static_cast<int32_t>(ox);
  const I32x8 keep = (col >= 0) & (col < static_cast<int32_t>(W)) & (iota < 6);
  const I32x8 from = (iota + static_cast<int32_t>(ox - base)) & 7;
  const F32x8 v = __builtin_shuffle(vec::load8(row + base), from);
  return reinterpret_cast<F32x8>(reinterpret_cast<I32x8>(v) & keep);
}

// V[xi][strip][c][NR] for the block's tiles [t0, t0 + nt): the 6x6 window at (oy, ox) of each tile
// (zeros outside x), transformed. Each window row is read as 8 floats (6 used): one vector load
// when they lie inside x, else a shifted and masked load (or a zero-padded copy, for W < 8); an 8x8 transpose puts one tile in each lane.
// The value for tile t (in [0, nt)), channel c and point xi lands at
// V[xi * v_stride + (t / NR) * strip_stride + c * c_stride + t % NR].
void transform_input(const Conv2dParams& p, const Geometry& g, const float* x, int64_t t0,
                     int64_t nt, float* V, int64_t v_stride, int64_t strip_stride,
                     int64_t c_stride) {
  const int64_t C = p.C, H = p.H, W = p.W, HW = H * W;
  const int64_t groups = (nt + NR - 1) / NR * NR / 8;
  alignas(32) float edge[6][8][8];  // the window rows of the lanes that are not inside
  Lanes lanes[kMaxGroups];
  bool inside[kMaxGroups][8], all_inside[kMaxGroups];
  for (int64_t gi = 0; gi < groups; ++gi) {
    const Lanes& L = lanes[gi] = lanes_of(g, t0 + 8 * gi, p.pad_top, p.pad_left);
    all_inside[gi] = true;
    for (int l = 0; l < 8; ++l) {
      inside[gi][l] =
          L.valid[l] && L.oy[l] >= 0 && L.oy[l] + 6 <= H && L.ox[l] >= 0 && L.ox[l] + 8 <= W;
      all_inside[gi] = all_inside[gi] && inside[gi][l];
    }
  }
  // Channel by channel, so that the tiles' rows of one plane are read together.
  for (int64_t c = 0; c < C; ++c)
    for (int64_t gi = 0; gi < groups; ++gi) {
      const Lanes& L = lanes[gi];
      float* v_at = V + (gi * 8 / NR) * strip_stride + gi * 8 % NR;
      if (c + 1 < C) {  // the next channel's rows, from L3 or memory: a plane stride defeats the
                        // hardware prefetcher
        for (int l : {0, 4, 7})
          for (int i = 0; i < 6; ++i) {
            const int64_t iy = std::min(std::max<int64_t>(L.oy[l] + i, 0), H - 1);
            const int64_t ix = std::min(std::max<int64_t>(L.ox[l] + (l == 7 ? 7 : 0), 0), W - 1);
            __builtin_prefetch(x + (L.n[l] * C + c + 1) * HW + iy * W + ix);
          }
      }
      F32x8 d[kXi + 2];  // d[6i .. 6i+7]: row i's 8 columns (the last 2 overwritten)
      for (int i = 0; i < 6; ++i) {
        F32x8 rows[8];
        for (int l = 0; l < 8; ++l) {
          const float* plane = x + (L.n[l] * C + c) * HW;
          if (all_inside[gi] || inside[gi][l]) {
            rows[l] = vec::load8(plane + (L.oy[l] + i) * W + L.ox[l]);
            continue;
          }
          const int64_t iy = L.oy[l] + i;
          const bool row_ok = L.valid[l] && iy >= 0 && iy < H;
          if (W >= 8) {
            rows[l] = row_ok ? load_edge_row(plane + iy * W, L.ox[l], W) : vec::splat8(0.f);
            continue;
          }
          for (int j = 0; j < 8; ++j) {
            const int64_t ix = L.ox[l] + j;
            edge[i][l][j] = row_ok && j < 6 && ix >= 0 && ix < W ? plane[iy * W + ix] : 0.f;
          }
          rows[l] = vec::load8(edge[i][l]);
        }
        transpose8(rows, d + 6 * i);
      }
      winograd_common::input_tile(d);  // V = B^T d B
      for (int64_t xi = 0; xi < kXi; ++xi) vec::store8(v_at + xi * v_stride + c * c_stride, d[xi]);
    }
}

// y[n, k, 4*ty + a, 4*tx + b] = (A^T M A)[a][b] + bias[k] for the block's tiles, inside (P, Q).
// Two 8x8 transposes give each lane's 4x4 outputs as 4 rows of 4 floats.
void transform_output(const Conv2dParams& p, const Geometry& g, const float* M, const float* bias,
                      int64_t t0, int64_t nt, float* y) {
  const int64_t K = p.K, P = p.P, Q = p.Q, PQ = P * Q, Kp = g.Kp;
  const int64_t groups = (nt + 7) / 8;
  Lanes lanes[kMaxGroups];
  int64_t rows[kMaxGroups][8], cols[kMaxGroups][8];
  for (int64_t gi = 0; gi < groups; ++gi) {
    const Lanes& L = lanes[gi] = lanes_of(g, t0 + 8 * gi, 0, 0);
    for (int l = 0; l < 8; ++l) {
      rows[gi][l] = L.valid[l] ? std::min<int64_t>(4, P - L.oy[l]) : 0;
      cols[gi][l] = std::min<int64_t>(4, Q - L.ox[l]);
    }
  }
  for (int64_t k = 0; k < K; ++k)
    for (int64_t gi = 0; gi < groups; ++gi) {
      const Lanes& L = lanes[gi];
      const float* m_at = M + (gi * 8 / NR) * Kp * NR + gi * 8 % NR;
      if (k + 1 < K) {  // the next channel's output rows, for writing
        for (int l : {0, 4, 7})
          for (int a = 0; a < 4; ++a) {
            const int64_t iy = std::min(L.oy[l] + a, P - 1);
            const int64_t ix = std::min(L.ox[l] + (l == 7 ? 3 : 0), Q - 1);
            __builtin_prefetch(y + (L.n[l] * K + k + 1) * PQ + iy * Q + ix, 1);
          }
      }
      F32x8 m[kXi], r[24], o[16], tr[16];
      for (int64_t xi = 0; xi < kXi; ++xi) m[xi] = vec::load8(m_at + xi * g.m_stride + k * NR);
      for (int j = 0; j < 6; ++j)  // columns: r = A^T m
        output_1d(m[j], m[6 + j], m[12 + j], m[18 + j], m[24 + j], m[30 + j], r + j, 6);
      const F32x8 bk = vec::splat8(bias ? bias[k] : 0.f);
      for (int a = 0; a < 4; ++a) {  // rows: o = r A + bias
        output_1d(r[6 * a], r[6 * a + 1], r[6 * a + 2], r[6 * a + 3], r[6 * a + 4], r[6 * a + 5],
                  o + 4 * a, 1);
        for (int b = 0; b < 4; ++b) o[4 * a + b] += bk;
      }
      transpose8(o, tr);      // tr[l]: lane l's output rows 0 and 1
      transpose8(o + 8, tr + 8);  // tr[8 + l]: rows 2 and 3
      for (int l = 0; l < 8; ++l) {
        float* dst = y + (L.n[l] * K + k) * PQ + L.oy[l] * Q + L.ox[l];
        alignas(32) float lane[16];
        vec::store8(lane, tr[l]);
        vec::store8(lane + 8, tr[8 + l]);
        if (rows[gi][l] == 4 && cols[gi][l] == 4) {
          for (int a = 0; a < 4; ++a) std::memcpy(dst + a * Q, lane + 4 * a, 4 * sizeof(float));
          continue;
        }
        for (int64_t a = 0; a < rows[gi][l]; ++a)
          for (int64_t b = 0; b < cols[gi][l]; ++b) dst[a * Q + b] = lane[a * 4 + b];
      }
    }
}

// ---- the transform-domain GEMMs ---------------------------------------------------------------

// c[0:MR, 0:NR] = a (kc x MR packed) . b (kc x NR packed), summed over kc in order; 12 vector
// accumulators.
inline void micro_kernel(int64_t kc, const float* a, const float* b, float* c) {
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
  for (int64_t i = 0; i < MR; ++i) {
    vec::store8(c + i * NR, acc[i][0]);
    vec::store8(c + i * NR + 8, acc[i][1]);
  }
}

// M[xi][s] (Kp, NR) = U[xi] (Kp, C) . V[xi][s] (C, NR) for the block's first `used` strips. A strip
// of V (C x 16) stays in L1 while all of U[xi] streams past it from L2.
void block_gemm(int64_t C, const Geometry& g, int64_t used, const float* U, const float* V,
                float* M) {
  const int64_t Kp = g.Kp, kstrips = Kp / MR;
  for (int64_t xi = 0; xi < kXi; ++xi)
    for (int64_t s = 0; s < used; ++s) {
      const float* b = V + xi * g.v_stride + s * C * NR;
      float* m = M + xi * g.m_stride + s * Kp * NR;
      for (int64_t ks = 0; ks < kstrips; ++ks)
        micro_kernel(C, U + (xi * kstrips + ks) * C * MR, b, m + ks * MR * NR);
    }
}

// y = the conv of x with the transformed filters U, + bias.
void winograd_run(const Conv2dParams& p, const float* x, const float* U, const float* bias,
                  float* y) {
  const Geometry g = geometry(p);
  const int64_t block_tiles = g.strips * NR;
  parallel_for(0, g.blocks, 0, [&](int64_t b0, int64_t b1) {
    float* V = workspace<0>(kXi * g.v_stride);
    float* M = workspace<1>(kXi * g.m_stride);
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t t0 = blk * block_tiles, nt = std::min(block_tiles, g.tiles - t0);
      transform_input(p, g, x, t0, nt, V, g.v_stride, p.C * NR, NR);
      block_gemm(p.C, g, (nt + NR - 1) / NR, U, V, M);
      transform_output(p, g, M, bias, t0, nt, y);
    }
  });
}

// ---- weight gradient -----------------------------------------------------------------------

// m = A dy for a column of 4 values (the adjoint of output_1d).
inline void grad_output_1d(F32x8 d0, F32x8 d1, F32x8 d2, F32x8 d3, F32x8* m, int64_t ms) {
  const F32x8 two = vec::splat8(2.f), four = vec::splat8(4.f), eight = vec::splat8(8.f);
  const F32x8 e = d0 + four * d2, o = two * d1 + eight * d3;
  m[0] = d0;
  m[ms] = (d0 + d2) + (d1 + d3);
  m[2 * ms] = (d0 + d2) - (d1 + d3);
  m[3 * ms] = e + o;
  m[4 * ms] = e - o;
  m[5 * ms] = d3;
}

// dM[xi * m_stride + k * T + t] = (A dy_tile A^T)[xi] for the tiles t in [0, nt) from t0: the 4x4
// output gradients of each tile (zeros past P, Q), through the adjoint of the output transform.
void transform_grad_output(const Conv2dParams& p, const Geometry& g, const float* dy, int64_t t0,
                           int64_t nt, float* dM, int64_t m_stride, int64_t T) {
  const int64_t K = p.K, P = p.P, Q = p.Q, PQ = P * Q;
  alignas(32) float buf[16][8];
  for (int64_t l8 = 0; l8 < (nt + 7) / 8 * 8; l8 += 8) {
    const Lanes L = lanes_of(g, t0 + l8, 0, 0);
    int64_t rows[8], cols[8];
    for (int l = 0; l < 8; ++l) {
      rows[l] = L.valid[l] && l8 + l < nt ? std::min<int64_t>(4, P - L.oy[l]) : 0;
      cols[l] = std::min<int64_t>(4, Q - L.ox[l]);
    }
    for (int64_t k = 0; k < K; ++k) {
      for (int l = 0; l < 8; ++l) {
        const float* src = dy + (L.n[l] * K + k) * PQ + L.oy[l] * Q + L.ox[l];
        for (int64_t a = 0; a < 4; ++a)
          for (int64_t b = 0; b < 4; ++b)
            buf[a * 4 + b][l] = a < rows[l] && b < cols[l] ? src[a * Q + b] : 0.f;
      }
      F32x8 d[16], r[24], m[kXi];
      for (int e = 0; e < 16; ++e) d[e] = vec::load8(buf[e]);
      for (int b = 0; b < 4; ++b)  // columns: r = A d
        grad_output_1d(d[b], d[4 + b], d[8 + b], d[12 + b], r + b, 4);
      for (int i = 0; i < 6; ++i)  // rows: m = r A^T
        grad_output_1d(r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3], m + 6 * i, 1);
      for (int64_t xi = 0; xi < kXi; ++xi) vec::store8(dM + xi * m_stride + k * T + l8, m[xi]);
    }
  }
}

}  // namespace

// 3x3, stride 1, dilation 1, one group: the shapes Winograd computes; and where it pays (measured
// against the direct and GEMM kernels, one thread, CPU time; see benchmarks/README.md).
// Forward and backward-data: from 16 input channels and 16 filters and 16 tiles it won on every
// shape tried (16 to 256 channels, 7x7 to 224x224 images; 1.3x to 4x faster); on 4 tiles (one 7x7
// image) it took twice the time. The weight gradient has no
// packed-layout shortcut (its GEMMs pack both operands on every block) and sums over the tiles:
// it lost below 48 channels (16 and 32 at 28x28 and 56x56: 1.2x to 1.8x slower) and on few tiles
// (7x7 images, 16 and 32 tiles: 1.5x to 2.3x slower), and won from 48 channels and 256 tiles.
bool winograd_applies(const Conv2dParams& p, bool weight_gradient) {
  if (p.R != 3 || p.S != 3 || p.stride_h != 1 || p.stride_w != 1 || p.dil_h != 1 || p.dil_w != 1 ||
      p.groups != 1 || p.N <= 0 || p.P <= 0 || p.Q <= 0)
    return false;
  const int64_t tiles = p.N * ((p.P + 3) / 4) * ((p.Q + 3) / 4);
  if (!weight_gradient) return p.C >= 16 && p.K >= 16 && tiles >= 16;
  return p.C >= 48 && p.K >= 48 && tiles >= 256;
}

// x is (N,C,H,W), w is (K,C,3,3), b is (K,) or null, y is (N,K,P,Q).
void winograd_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                      float* y) {
  const int64_t Kp = (p.K + MR - 1) / MR * MR;
  float* U = workspace<2>(kXi * Kp * p.C);
  transform_filters(p.K, p.C, Kp, [&](int64_t k, int64_t c) { return w + (k * p.C + c) * 9; }, U);
  winograd_run(p, x, U, b, y);
}

// Tiles per block of the weight gradient: V and dM of a block take about 16 MB (few blocks: each
// costs two parallel regions, and those cost whole time slices on a loaded machine). A function of
// the shape only: the sums over tiles run block by block, so the blocking must not depend on the
// thread count.
int64_t weight_block_tiles(const Conv2dParams& p) {
  const int64_t t = (int64_t{16} << 20) / (kXi * (p.C + p.K) * 4) / NR * NR;
  return std::min<int64_t>(1024, std::max<int64_t>(128, t));
}

// dy is (N,K,P,Q), x is (N,C,H,W), dw is (K,C,3,3).
// dU[xi] (K, C) = sum over tiles of dM[xi] (K, tiles) . V[xi]^T (tiles, C), dM = A dy A^T, V = B^T d B;
// then dw = G^T dU G. The tiles run in blocks of weight_block_tiles(), in order: per block, the transforms
// in parallel over tiles, then the 36 GEMMs in parallel over xi (each adds the block to its dU[xi]),
// so every sum runs in the same order whatever the thread count.
void winograd_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw) {
  const int64_t C = p.C, K = p.K, T = weight_block_tiles(p);
  Geometry g = geometry(p);
  const int64_t v_stride = C * T + 16, m_stride = K * T + 16;  // + a line: see geometry()
  float* V = workspace<0>(kXi * v_stride);
  float* dM = workspace<1>(kXi * m_stride);
  float* dU = workspace<2>(kXi * K * C);
  for (int64_t t0 = 0; t0 < g.tiles; t0 += T) {
    const int64_t nt = std::min(T, g.tiles - t0), strips = (nt + NR - 1) / NR;
    parallel_for(0, strips, 0, [&](int64_t s0, int64_t s1) {
      for (int64_t a = s0 * NR; a < std::min(s1 * NR, nt); a += 8 * kMaxGroups) {
        const int64_t n = std::min({a + 8 * kMaxGroups, s1 * NR, nt}) - a;
        transform_input(p, g, x, t0 + a, n, V + a, v_stride, NR, T);
        transform_grad_output(p, g, dy, t0 + a, n, dM + a, m_stride, T);
      }
    });
    parallel_for(0, kXi, 0, [&](int64_t x0, int64_t x1) {
      for (int64_t xi = x0; xi < x1; ++xi)
        sgemm_serial(false, true, K, C, nt, 1.f, dM + xi * m_stride, T, V + xi * v_stride, T,
                     t0 == 0 ? 0.f : 1.f, dU + xi * K * C, C);
    });
  }
  parallel_for(0, K * C, kParallelGrain / kXi, [&](int64_t i0, int64_t i1) {
    for (int64_t kc = i0; kc < i1; ++kc) {
      double du[kXi], dg[9];
      for (int64_t xi = 0; xi < kXi; ++xi) du[xi] = dU[xi * K * C + kc];
      winograd_common::filter_transform_adjoint(G, du, dg);
      for (int e = 0; e < 9; ++e) dw[kc * 9 + e] = static_cast<float>(dg[e]);
    }
  });
}

// dy is (N,K,P,Q), w is (K,C,3,3), b is (C,) or null, dx is (N,C,H,W): the forward conv of dy with
// w rotated by 180 degrees and its channel axes swapped, padding 2 - pad (negative: a crop).
void winograd_backward_data(const Conv2dParams& p, const float* dy, const float* w, const float* b,
                            float* dx) {
  const Conv2dParams q{p.N, p.K, p.P, p.Q, p.C, 3, 3, p.H, p.W, 1, 1, 2 - p.pad_top,
                       2 - p.pad_left, 1, 1, 1};
  const int64_t Kp = (q.K + MR - 1) / MR * MR;
  float* U = workspace<2>(kXi * Kp * q.C);
  float* flipped = workspace<3>(9 * q.K * q.C);
  // flipped[c][k] = w[k][c] rotated, as the filters (C, K, 3, 3) of the flipped problem.
  for (int64_t k = 0; k < p.K; ++k)
    for (int64_t c = 0; c < p.C; ++c)
      for (int e = 0; e < 9; ++e) flipped[(c * p.K + k) * 9 + 8 - e] = w[(k * p.C + c) * 9 + e];
  transform_filters(q.K, q.C, Kp, [&](int64_t k, int64_t c) { return flipped + (k * q.C + c) * 9; },
                    U);
  winograd_run(q, dy, U, b, dx);
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
