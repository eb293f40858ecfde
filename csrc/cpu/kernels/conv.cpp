// Convolution: the algorithms below, chosen per shape and pass by choose_algo() (the reasons are
// there).
//  - im2col per sample and group, then the shared packed GEMM. Shapes (fixed letters, see conv.h):
//    x is (N,C,H,W), w is (K,C/g,R,S), y is (N,K,P,Q); per group, col is (C/g*R*S, P*Q).
//  - "wide": direct loops for stride 1 and few taps, vectorized over output rows; with one input
//    channel and 5x5 taps (LeNet's conv1), vectorized over 8 or 16 samples instead (lane_forward).
//  - "filters": direct loops for stride 1 and few taps, vectorized over 16 filters (LeNet's conv2
//    weight gradient).
//  - "winograd": F(4x4, 3x3) for 3x3 stride-1 convs with many channels (winograd.cpp), all passes.
//  - "winograd-5x5": F(2x2, 5x5) over sample lanes for 5x5 stride-1 convs with 4 to 32 channels
//    (winograd5.cpp; LeNet's conv2 forward and backward-data).
//  - "depthwise": one group per input channel (groups == C > 1), direct loops (depthwise.cpp).
//  - "dilated-winograd": a dilated stride-1 conv split into its dh*dw undilated phase convs, run
//    as one batch on Winograd (dilated.cpp), all passes.
//
// Threads: GEMM runs over samples when the batch has at least as many samples as threads (each
// thread has its own im2col workspace and calls sgemm_serial), otherwise sample by sample with
// sgemm's own tile parallelism. Both give the same bits: sgemm and sgemm_serial accumulate each
// element in the same order. The direct kernels run over samples, each output computed by one
// thread in a fixed order. Weight gradients sum over the batch in a fixed number of chunks.
#include "cpu/kernels/conv.h"
#include "cpu/kernels/depthwise.h"
#include "cpu/kernels/dilated.h"
#include "cpu/kernels/pool.h"
#include "cpu/kernels/winograd.h"
#include "cpu/kernels/winograd5.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/gemm/sgemm.h"
#include "cpu/vec/reduce.h"
#include "cpu/vec/transpose.h"
#include "cpu/vec/vec.h"
#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

// The weight gradient's batch reduction is split into at most this many chunks, whatever the
// thread count, so its rounding never depends on the number of threads.
constexpr int64_t kWeightChunks = 8;


// im2col buffer of the calling thread, kept between calls.
float* col_workspace(int64_t size) {
  static thread_local std::vector<float> ws;
  if ((int64_t)ws.size() < size) ws.resize(size);
  return ws.data();
}

// 1x1, stride 1, no padding: the input itself is the GEMM operand (dilation is irrelevant).
bool is_pointwise(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
         p.pad_left == 0 && p.P == p.H && p.Q == p.W;
}

// dst[0:n] = src[0:n] for short rows, inline (a memcpy call per row costs as much as the copy).
// From 8 floats, the last partial vector is one vector copy overlapping the previous one (src and
// dst do not overlap): a 14-float row is two copies, not one and six scalar ones.
inline void copy_row(const float* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vec::store8(dst + i, vec::load8(src + i));
  if (i == n) return;
  if (n >= 8) {
    vec::store8(dst + n - 8, vec::load8(src + n - 8));
    return;
  }
  for (; i < n; ++i) dst[i] = src[i];
}

// [lo, hi): the q in [0, Q) with 0 <= q*stride + off < n.
void valid_range(int64_t off, int64_t stride, int64_t n, int64_t Q, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = n - off <= 0 ? 0 : (n - 1 - off) / stride + 1;
  lo = std::min(lo, Q);
  hi = std::max(lo, std::min(hi, Q));
}

// col[(c*R + r)*S + s, p*Q + q] = x[c, p*sh - pt + r*dh, q*sw - pl + s*dw] (0 outside), c in [c0, c1).
// x is (Cg,H,W) (one group of one sample), col is (Cg*R*S, P*Q).
// With stride_w > 1 each channel is first split into its sw column phases, xs[b][h][j] =
// x[c, h, b + sw*j] (one strided read per input element, into a buffer that stays in L1/L2): tap s
// then reads phase (s*dw - pl) mod sw from column q + floor((s*dw - pl) / sw), a contiguous row copy
// instead of R*S strided reads per output (AlexNet's conv1: 121 per output, 11x11 stride 4).
void im2col(const Conv2dParams& p, const float* x, int64_t c0, int64_t c1, float* col) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, sw = p.stride_w;
  const int64_t Wb = (p.W + sw - 1) / sw;  // columns of a phase plane (phase b has (W-b+sw-1)/sw)
  float* xs = nullptr;
  if (sw > 1) {
    static thread_local std::vector<float> ws;
    if ((int64_t)ws.size() < sw * p.H * Wb) ws.resize(sw * p.H * Wb);
    xs = ws.data();
  }
  for (int64_t c = c0; c < c1; ++c) {
    if (sw > 1) {
      for (int64_t h = 0; h < p.H; ++h) {
        const float* row = x + c * HW + h * p.W;
        for (int64_t b = 0; b < sw; ++b) {
          float* d = xs + (b * p.H + h) * Wb;
          for (int64_t j = 0, iw = b; iw < p.W; ++j, iw += sw) d[j] = row[iw];
        }
      }
    }
    for (int64_t r = 0; r < p.R; ++r) {
      for (int64_t s = 0; s < p.S; ++s) {
        float* dst = col + ((c * p.R + r) * p.S + s) * PQ;
        const int64_t off_w = s * p.dil_w - p.pad_left;
        int64_t q_lo, q_hi;
        valid_range(off_w, sw, p.W, p.Q, q_lo, q_hi);
        // the phase plane and column offset of this tap: x column q*sw + off_w = b + sw*(q + j0)
        const int64_t b = ((off_w % sw) + sw) % sw, j0 = (off_w - b) / sw;
        for (int64_t op = 0; op < p.P; ++op) {
          float* d = dst + op * p.Q;
          const int64_t ih = op * p.stride_h - p.pad_top + r * p.dil_h;
          if (ih < 0 || ih >= p.H) {
            std::fill(d, d + p.Q, 0.f);
            continue;
          }
          std::fill(d, d + q_lo, 0.f);
          if (sw == 1) {
            std::memcpy(d + q_lo, x + c * HW + ih * p.W + off_w + q_lo, (q_hi - q_lo) * sizeof(float));
          } else {
            copy_row(xs + (b * p.H + ih) * Wb + j0 + q_lo, q_hi - q_lo, d + q_lo);
          }
          std::fill(d + q_hi, d + p.Q, 0.f);
        }
      }
    }
  }
}

// The adjoint of im2col: dx[c] = sum of the col entries that read it, c in [c0, c1).
// Each channel is written by one caller only, in a fixed order, so it is race-free and deterministic.
// With stride_w > 1 the sums go into the channel's column-phase planes (contiguous row adds, as
// im2col's row copies) and the planes are then interleaved into dx: every element receives the
// same terms in the same (r, s) order as a direct scatter-add, so the bits are those of one.
void col2im(const Conv2dParams& p, const float* col, int64_t c0, int64_t c1, float* dx) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, sw = p.stride_w;
  const int64_t Wb = (p.W + sw - 1) / sw;
  float* xs = nullptr;
  if (sw > 1) {
    static thread_local std::vector<float> ws;
    if ((int64_t)ws.size() < sw * p.H * Wb) ws.resize(sw * p.H * Wb);
    xs = ws.data();
  }
  for (int64_t c = c0; c < c1; ++c) {
    float* dxc = dx + c * HW;
    if (sw > 1)
      std::fill(xs, xs + sw * p.H * Wb, 0.f);
    else
      std::fill(dxc, dxc + HW, 0.f);
    for (int64_t r = 0; r < p.R; ++r) {
      for (int64_t s = 0; s < p.S; ++s) {
        const float* src = col + ((c * p.R + r) * p.S + s) * PQ;
        const int64_t off_w = s * p.dil_w - p.pad_left;
        int64_t q_lo, q_hi;
        valid_range(off_w, sw, p.W, p.Q, q_lo, q_hi);
        const int64_t b = ((off_w % sw) + sw) % sw, j0 = (off_w - b) / sw;  // as in im2col
        for (int64_t op = 0; op < p.P; ++op) {
          const int64_t ih = op * p.stride_h - p.pad_top + r * p.dil_h;
          if (ih < 0 || ih >= p.H) continue;
          const float* d = src + op * p.Q;
          float* row = sw == 1 ? dxc + ih * p.W + off_w : xs + (b * p.H + ih) * Wb + j0;
          for (int64_t q = q_lo; q < q_hi; ++q) row[q] += d[q];
        }
      }
    }
    if (sw > 1) {
      for (int64_t h = 0; h < p.H; ++h) {
        float* row = dxc + h * p.W;
        for (int64_t b = 0; b < sw; ++b) {
          const float* src = xs + (b * p.H + h) * Wb;
          for (int64_t j = 0, iw = b; iw < p.W; ++j, iw += sw) row[iw] = src[j];
        }
      }
    }
  }
}

// Channel loops of im2col/col2im: split over threads when asked (one sample at a time) and big enough.
template <typename F>
void for_channels(const Conv2dParams& p, int64_t channels, bool parallel, const F& f) {
  if (!parallel) {
    f(0, channels);
    return;
  }
  const int64_t per_channel = std::max<int64_t>(1, p.R * p.S * p.P * p.Q);
  parallel_for(0, channels, std::max<int64_t>(1, kParallelGrain / per_channel), f);
}

// Runs body(n, inner_parallel) for every sample: over samples in parallel when the batch can
// keep every thread busy, else one sample at a time with the parallelism inside (GEMM tiles).
template <typename F>
void for_each_sample(int64_t N, const F& body) {
  if (N >= get_num_threads()) {
    parallel_for(0, N, 0, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) body(n, false);
    });
  } else {
    for (int64_t n = 0; n < N; ++n) body(n, true);
  }
}

void gemm(bool parallel, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (parallel)
    sgemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
  else
    sgemm_serial(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
}


// ---- direct wide-row convolution (stride 1) ----------------------------------------------------
// The input of one sample and group is copied into a buffer of rows of pitch Wp >= W: the W input
// columns, then zeros. Output (p, q) sits at the "wide" index i = p*Wp + q and tap (c, r, s) reads
// buffer[c*Hp*Wp + i + r*dh*Wp + s*dw - pad_left]: 8 consecutive outputs are one unaligned vector
// load per tap, with no bounds checks. Left padding reads the previous row's zero columns (a zero
// lead before the first row), so Wp = max(W + pad_left, Q + (S-1)*dw - pad_left, Q): the Wp - Q
// extra outputs per wide row are computed and thrown away (2/30 of the work for LeNet's conv1,
// 0 for conv2's backward-data; 4/14 for conv2's forward, which therefore takes "filters").
// Forward: a tile of KB filters x 8*NV wide outputs in registers (KB*NV = 12 accumulators), the
// weights broadcast. Backward-data of a stride-1 conv is the forward of the flipped filters over dy.
// Backward-weight reads x from shifted planes instead (see ShiftedGeometry): KB filters x JB
// taps, each accumulator a vector over output positions.

constexpr int64_t kDirectMaxTaps = 512;  // C/g*R*S up to this: the packed filters stay in L1/L2
constexpr int64_t kDirectMinBatch = 8;   // samples to share among threads

struct WideGeometry {
  int64_t Hp, Wp, plane;  // rows (input row j - pad_top), pitch, Hp * Wp
  int64_t lead;           // zeros before the first row (the first row's left padding)
  int64_t base;           // where tap (0, 0, 0) of wide output 0 reads: lead - pad_left
  int64_t size;           // lead + channels * plane + slack for reads past the last plane
};

WideGeometry wide_geometry(const Conv2dParams& p) {
  WideGeometry g;
  const int64_t span_w = (p.S - 1) * p.dil_w;
  g.Hp = p.P + (p.R - 1) * p.dil_h;
  g.Wp = std::max({p.W + std::max<int64_t>(p.pad_left, 0), p.Q + span_w - p.pad_left, p.Q});
  g.plane = g.Hp * g.Wp;
  g.lead = std::max<int64_t>(p.pad_left, 0);
  g.base = g.lead - p.pad_left;
  // The last tile rounds the wide outputs up by < 96; the last row reads span_w - pad_left past
  // its pitch.
  g.size = g.lead + p.C / p.groups * g.plane + span_w + std::max<int64_t>(-p.pad_left, 0) + 128;
  return g;
}

// Fills the buffer of geometry g from x (C/g, H, W): row j of channel c holds x[c, j - pad_top, :]
// (zeros outside the input; pad_top may be negative, a crop) and then Wp - W zeros.
void pad_window(const Conv2dParams& p, const WideGeometry& g, const float* x, float* dst) {
  const int64_t channels = p.C / p.groups;
  std::fill(dst, dst + g.lead, 0.f);
  float* d = dst + g.lead;
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t j = 0; j < g.Hp; ++j, d += g.Wp) {
      const int64_t ih = j - p.pad_top;
      if (ih < 0 || ih >= p.H) {
        std::fill(d, d + g.Wp, 0.f);
        continue;
      }
      copy_row(x + (c * p.H + ih) * p.W, p.W, d);
      std::fill(d + p.W, d + g.Wp, 0.f);
    }
  }
  std::fill(d, dst + g.size, 0.f);
}

// Thread-local workspaces of the direct kernels, one per slot, kept between calls.
template <int Slot>
float* direct_workspace(int64_t size) {
  static thread_local std::vector<float> ws;
  if ((int64_t)ws.size() < size) ws.resize(size);
  return ws.data();
}

// offsets[(c*R + r)*S + s] = where tap (c, r, s) reads in the padded window, relative to the
// output's wide index; the calling thread's buffer, padded with zeros to `size` entries.
const int64_t* tap_offsets(const Conv2dParams& p, const WideGeometry& g, int64_t size) {
  static thread_local std::vector<int64_t> off;
  off.assign(size, g.base);
  for (int64_t c = 0; c < p.C / p.groups; ++c)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s)
        off[(c * p.R + r) * p.S + s] = g.base + c * g.plane + r * p.dil_h * g.Wp + s * p.dil_w;
  return off.data();
}

// dw[i] = the sum over chunks, in chunk order, of partials[chunk*wsize + i].
void sum_chunks(const float* partials, int64_t chunks, int64_t wsize, float* dw) {
  parallel_for(0, wsize, kParallelGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      float s = partials[i];
      for (int64_t ci = 1; ci < chunks; ++ci) s += partials[ci * wsize + i];
      dw[i] = s;
    }
  });
}

// The calling thread's (r, c, s)-ordered tap offsets of wide_forward_impl.
// w is (K,C/g,R,S) with taps = C/g*R*S per filter. Packs each group's filters in blocks of KB as
// [block][tap][KB], zero-padded past K/g; packed tap t reads w's tap w_tap(t).
template <typename F>
void pack_filter_blocks(const float* w, int64_t G, int64_t Kg, int64_t taps, int64_t KB, float* dst,
                        const F& w_tap) {
  const int64_t kblocks = (Kg + KB - 1) / KB;
  for (int64_t gi = 0; gi < G; ++gi)
    for (int64_t kb = 0; kb < kblocks; ++kb)
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t tw = w_tap(t);
        for (int64_t kk = 0; kk < KB; ++kk) {
          const int64_t k = kb * KB + kk;
          dst[((gi * kblocks + kb) * taps + t) * KB + kk] = k < Kg ? w[(gi * Kg + k) * taps + tw] : 0.f;
        }
      }
}

std::vector<int64_t>* tap_offsets_rcs_workspace() {
  static thread_local std::vector<int64_t> off;
  return &off;
}

inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// out[kk, 0:8*NV] = sum over taps t of wpk[t*KB + kk] * xp[off[t] + 0:8*NV], kk < KB.
template <int KB, int NV>
inline void wide_tile(const float* xp, const int64_t* off, int64_t taps, const float* wpk,
                        float* out, int64_t ldo) {
  using vec::F32x8;
  F32x8 acc[KB][NV];
  for (int kk = 0; kk < KB; ++kk)
    for (int v = 0; v < NV; ++v) acc[kk][v] = vec::splat8(0.f);
  for (int64_t t = 0; t < taps; ++t) {
    const float* xt = xp + off[t];
    F32x8 xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = vec::load8(xt + 8 * v);
    const float* wt = wpk + t * KB;
    for (int kk = 0; kk < KB; ++kk) {
      const F32x8 wv = vec::splat8(wt[kk]);
      for (int v = 0; v < NV; ++v) acc[kk][v] += wv * xv[v];
    }
  }
  for (int kk = 0; kk < KB; ++kk)
    for (int v = 0; v < NV; ++v) vec::store8(out + kk * ldo + 8 * v, acc[kk][v]);
}

// As wide_tile over taps in rows of S (C/g*R rows, row j's taps at off[j*S] + 0..S-1: dil_w == 1),
// S fixed at compile time. Every tile runs all the taps, the rows outside the input reading the
// window's zero rows: for few taps (LeNet's conv1: 25 per tile of 6 x 16 outputs) the trimmed tap
// count of wide_forward_impl's general tiles (15/20/25) cost more in loop-exit mispredicts and
// per-tap address loads than its skipped multiply-adds save. The same taps in the same order as
// the general tile, so the same sums (a skipped tap's product with a zero adds nothing).
template <int KB, int NV, int S>
inline void wide_tile_rows(const float* xp, const int64_t* off, int64_t rows, const float* wpk,
                           float* out, int64_t ldo) {
  using vec::F32x8;
  F32x8 acc[KB][NV];
  for (int kk = 0; kk < KB; ++kk)
    for (int v = 0; v < NV; ++v) acc[kk][v] = vec::splat8(0.f);
  for (int64_t j = 0; j < rows; ++j, wpk += S * KB) {
    const float* xr = xp + off[j * S];
#pragma GCC unroll 1
    for (int s = 0; s < S; ++s) {
      F32x8 xv[NV];
      for (int v = 0; v < NV; ++v) xv[v] = vec::load8(xr + s + 8 * v);
      for (int kk = 0; kk < KB; ++kk) {
        const F32x8 wv = vec::splat8(wpk[s * KB + kk]);
        for (int v = 0; v < NV; ++v) acc[kk][v] += wv * xv[v];
      }
    }
  }
  for (int kk = 0; kk < KB; ++kk)
    for (int v = 0; v < NV; ++v) vec::store8(out + kk * ldo + 8 * v, acc[kk][v]);
}

// Taps per filter up to which wide_forward_impl runs every tile over all of them (wide_tile_rows).
constexpr int64_t kRowTapsMax = 32;

// dst[0:n] = src[0:n] + bias, in vectors as copy_row (the overlapping last vector writes the
// same values twice).
inline void add_row(const float* src, int64_t n, float bias, float* dst) {
  const vec::F32x8 bv = vec::splat8(bias);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vec::store8(dst + i, vec::load8(src + i) + bv);
  if (i == n) return;
  if (n >= 8) {
    vec::store8(dst + n - 8, vec::load8(src + n - 8) + bv);
    return;
  }
  for (; i < n; ++i) dst[i] = src[i] + bias;
}

// Filters per forward tile: the KB in {6, 4, 2, 1} (8*12/KB outputs wide) that pads K/g least.
int64_t wide_filter_block(int64_t Kg) {
  int64_t best = 6;
  for (int64_t kb : {4, 2, 1})
    if ((Kg + kb - 1) / kb * kb < (Kg + best - 1) / best * best) best = kb;
  return best;
}

// Stride-1 forward over the padded window: x is (N,C,H,W), w is (K,C/g,R,S), b is (K,) or null,
// y is (N,K,P,Q); pad_top/pad_left may be negative (backward-data's flipped problem). SF > 0: the
// tiles are wide_tile_rows<KB, NV, SF> (S == SF, dil_w == 1, few taps), else wide_tile.
// pooled (N,K,P/2,Q/2) or null: the 2x2 stride-2 max pool of y, taken from the wide rows while
// they are in L1 (conv2d_pool_forward); y may then be null (inference: y never written).
template <int KB, int NV, int SF>
void wide_forward_impl(const Conv2dParams& p, const float* x, const float* w, const float* b,
                         float* y, float* pooled) {
  constexpr int64_t tile = 8 * NV;
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, RS = p.R * p.S, taps = Cg * RS;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  const int64_t kblocks = (Kg + KB - 1) / KB;
  const WideGeometry g = wide_geometry(p);
  const int64_t L = (p.P * g.Wp + tile - 1) / tile * tile;  // wide outputs, whole tiles

  // Taps in (r, c, s) order, so that the filter rows r a tile needs are one run of taps; the
  // filters packed per block of KB as [tap][KB], zero-padded past K/g.
  const int64_t CS = Cg * p.S;
  std::vector<int64_t>& offs = *tap_offsets_rcs_workspace();
  offs.resize(taps);
  for (int64_t r = 0; r < p.R; ++r)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t s = 0; s < p.S; ++s)
        offs[r * CS + c * p.S + s] = g.base + c * g.plane + r * p.dil_h * g.Wp + s * p.dil_w;
  float* wpk = direct_workspace<0>(G * kblocks * taps * KB);
  pack_filter_blocks(w, G, Kg, taps, KB, wpk, [&](int64_t t) {  // (r, c, s) tap -> w's (c, r, s)
    const int64_t r = t / CS, c = t % CS / p.S, s = t % p.S;
    return (c * p.R + r) * p.S + s;
  });

  parallel_for(0, p.N, 0, [&](int64_t n0, int64_t n1) {
    float* xp = direct_workspace<1>(g.size);
    float* yw = direct_workspace<2>(kblocks * KB * L);
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t gi = 0; gi < G; ++gi) {
        pad_window(p, g, x + (n * p.C + gi * Cg) * HW, xp);
        for (int64_t i0 = 0; i0 < L; i0 += tile) {
          if constexpr (SF > 0) {
            for (int64_t kb = 0; kb < kblocks; ++kb)
              wide_tile_rows<KB, NV, SF>(xp + i0, offs.data(), p.R * Cg,
                                         wpk + (gi * kblocks + kb) * taps * KB, yw + kb * KB * L + i0, L);
            continue;
          }
          // The tile's output rows [p0, p1] read input rows p + r*dh - pad_top: only the filter
          // rows [r0, r1) that reach inside the input contribute (the rest reads zero padding).
          const int64_t p0 = i0 / g.Wp, p1 = std::min(p.P - 1, (i0 + tile - 1) / g.Wp);
          if (p0 >= p.P) break;
          const int64_t r0 = std::max<int64_t>(0, ceil_div(p.pad_top - p1, p.dil_h));
          const int64_t r1 = std::min(p.R, floor_div(p.H - 1 + p.pad_top - p0, p.dil_h) + 1);
          const int64_t t0 = std::min(r0, r1) * CS, nt = std::max<int64_t>(0, r1 - r0) * CS;
          for (int64_t kb = 0; kb < kblocks; ++kb)
            wide_tile<KB, NV>(xp + i0, offs.data() + t0, nt,
                              wpk + ((gi * kblocks + kb) * taps + t0) * KB, yw + kb * KB * L + i0, L);
        }
        for (int64_t k = 0; k < Kg; ++k) {
          const float bias = b ? b[gi * Kg + k] : 0.f;
          if (y) {
            float* yk = y + (n * p.K + gi * Kg + k) * PQ;
            for (int64_t op = 0; op < p.P; ++op) add_row(yw + k * L + op * g.Wp, p.Q, bias, yk + op * p.Q);
          }
          if (pooled)
            max_pool_2x2_rows_forward(yw + k * L, g.Wp, p.P / 2, p.Q / 2, bias,
                                      pooled + (n * p.K + gi * Kg + k) * (PQ / 4));
        }
      }
    }
  });
}

using vec::transpose8;  // c[j] = column j of the 8x8 block r
// ---- direct convolution over sample lanes (one input channel: LeNet's conv1) --------------------
// With one input channel the "wide" tile (6 filters x 16 outputs of a row) wastes Wp - Q outputs
// per row and rounds the rows up to whole tiles (848 computed per 784 for LeNet's conv1), and the
// 2x2 pool re-reads its stores with shuffles to pair columns (14% of the fused call's time,
// batch 128, one thread). Here lane l of every vector belongs to sample n0 + l (kLanes samples a
// group): the input is transposed once into a padded buffer xt[row][col][lane] (zeros around), a
// tile is kLaneFilters filters x one 2x2 window of outputs (AVX2: 3 filters, 12 accumulators, 4
// input loads and 3 broadcasts per tap; AVX-512: 6 filters, 24 accumulators; every lane useful),
// the window's max is taken lane by lane from the registers, and the group's outputs are staged
// per filter plane, then written to y (and pooled) one sample plane at a time by 8x8 transposes
// (for a large batch the stores then stream through each sample's plane; staging a row pair of
// planes, 8 planes touched per row, lost 10-20% at batch 1000). Each output is still the sum over
// taps (r, s) in order from 0 (all taps, those reading padding too), then + bias: the bits of
// wide_tile_rows' sums and copy-out.
// AVX-512 (16 lanes, 6 filters) against 8 lanes and 3 filters, LeNet's conv1 + pool, one thread
// (`bench_lenet.py --profile --threads 1`): 0.32 -> 0.21 ms per training step (z written), 24.1 ->
// 15.6 ms over the 10k test images (inference).
// Measured alternatives with 8 lanes (batch 128, one thread, AVX2): 2 filters x the 2x2 window (8
// accumulators, the right column's input carried to the next tap: 2 loads + 2 broadcasts per 8
// multiply-adds) and 6 filters x 2 outputs of a row (1 load + 6 broadcasts per 12) were 5-10%
// slower.

// Lanes: vec::kLanes samples a group (8 with AVX2, 16 with AVX-512). Filters per tile: 3 with 16
// vector registers (12 accumulators), 6 with AVX-512's 32 (24 accumulators, 6 broadcasts and the
// input vector: 31 registers).
constexpr int kLaneFilters = vec::kLanes == 16 ? 6 : 3;
constexpr int64_t kLaneGroup = vec::kLanes;
typedef int32_t LaneMask __attribute__((vector_size(4 * vec::kLanes)));

// m, or v when v beats it (v > m, or v is NaN): max_pool2d's scan rule, lane by lane.
inline vec::F32v lane_take(vec::F32v m, vec::F32v v) {
  const LaneMask t = (v > m) | (v != v);
  return t ? v : m;
}

// The 2x2 window of outputs whose tap (0, 0) reads xt, filters kk < KB: acc[kk][d] = sum over taps
// (r, s) of wpk[(r*S + s)*KB + kk] * xt[(r + d/2)*ldr + (s + d%2)*L + 0:L], z_d = acc[kk][d] +
// bias[kk], stored at zr[kk*ldk + (d/2)*ldz + (d%2)*L] (zr null: not stored) and the window's max
// at pr[kk*ldp] (pr null: not pooled); L = kLaneGroup. Not inlined, and without predictive
// commoning (reusing the right column's load as the next tap's left one): either way GCC spills an
// accumulator in the tap loop (the accumulators, KB broadcasts and one input vector fill the
// registers).
template <int KB, int R, int S>
[[gnu::noinline, gnu::optimize("no-predictive-commoning")]] void lane_window(
    const float* xt, int64_t ldr, const float* wpk, const float* bias, float* zr, int64_t ldk, int64_t ldz,
    float* pr, int64_t ldp) {
  using vec::F32v;
  constexpr int64_t L = kLaneGroup;
  F32v acc[KB][4];
  for (int kk = 0; kk < KB; ++kk)
    for (int d = 0; d < 4; ++d) acc[kk][d] = vec::splatv(0.f);
  for (int r = 0; r < R; ++r) {
    const float* x0 = xt + r * ldr;
#pragma GCC unroll 1
    for (int s = 0; s < S; ++s, wpk += KB) {
      F32v wv[KB];
      for (int kk = 0; kk < KB; ++kk) wv[kk] = vec::splatv(wpk[kk]);
      for (int d = 0; d < 4; ++d) {
        const F32v xv = vec::loadv(x0 + (d / 2) * ldr + (s + d % 2) * L);
        for (int kk = 0; kk < KB; ++kk) acc[kk][d] += wv[kk] * xv;
      }
    }
  }
  for (int kk = 0; kk < KB; ++kk) {
    const F32v bv = vec::splatv(bias[kk]);
    const F32v z0 = acc[kk][0] + bv, z1 = acc[kk][1] + bv, z2 = acc[kk][2] + bv, z3 = acc[kk][3] + bv;
    if (zr) {
      vec::storev(zr + kk * ldk, z0);
      vec::storev(zr + kk * ldk + L, z1);
      vec::storev(zr + kk * ldk + ldz, z2);
      vec::storev(zr + kk * ldk + ldz + L, z3);
    }
    // the tournament of max_pool2d's 2x2 fast path: (a, b) and (c, d), then bottom vs top
    if (pr) vec::storev(pr + kk * ldp, lane_take(lane_take(z0, z1), lane_take(z2, z3)));
  }
}

// dst[l*ldd + j] = src[j*L + l] for j < n, l < nl: n staged columns of L lanes back into nl rows,
// 8 columns of 8 lanes per transpose (the last block shifted back to end at n: columns written
// twice get the same value).
void lanes_to_rows(const float* src, int64_t n, int64_t nl, float* dst, int64_t ldd) {
  constexpr int64_t L = kLaneGroup;
  if (n < 8) {
    for (int64_t l = 0; l < nl; ++l)
      for (int64_t j = 0; j < n; ++j) dst[l * ldd + j] = src[j * L + l];
    return;
  }
  vec::F32x8 r[8], c[8];
  for (int64_t j = 0;; j += 8) {
    const int64_t j0 = std::min(j, n - 8);
    for (int64_t l0 = 0; l0 < nl; l0 += 8) {
      for (int i = 0; i < 8; ++i) r[i] = vec::load8(src + (j0 + i) * L + l0);
      transpose8(r, c);
      for (int64_t l = 0; l < std::min<int64_t>(8, nl - l0); ++l)
        vec::store8(dst + (l0 + l) * ldd + j0, c[l]);
    }
    if (j0 + 8 >= n) return;
  }
}

// The applicability of lane_forward: stride 1, one group of one input channel, 5x5 taps, no
// dilation, padding >= 0, a batch of at least 8 samples, an even output of rows of 8 or more.
bool lanes_apply(const Conv2dParams& p) {
  return p.groups == 1 && p.C == 1 && p.R == 5 && p.S == 5 && p.stride_h == 1 && p.stride_w == 1 &&
         p.dil_h == 1 && p.dil_w == 1 && p.pad_top >= 0 && p.pad_left >= 0 && p.N >= 8 && p.W >= 8 &&
         p.Q >= 8 && p.P >= 2 && p.P % 2 == 0 && p.Q % 2 == 0;
}

// Stride-1 forward of one input channel over sample lanes: x is (N,1,H,W), w is (K,1,R,S), b is
// (K,) or null, y is (N,K,P,Q) or null; pooled (N,K,P/2,Q/2) or null: the 2x2 stride-2 max pool of
// y, as wide_forward_impl's.
template <int R, int S>
void lane_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y,
                  float* pooled) {
  using vec::F32x8;
  constexpr int KB = kLaneFilters;
  constexpr int64_t L = kLaneGroup;
  const int64_t K = p.K, HW = p.H * p.W, PQ = p.P * p.Q, P2 = p.P / 2, Q2 = p.Q / 2, PQ2 = P2 * Q2;
  // Buffer rows/columns: every tap of every window, and the whole input (rows and columns past the
  // windows' reach are written, never read).
  const int64_t Hb = std::max(p.P + R - 1, p.H + p.pad_top), Wb = std::max(p.Q + S - 1, p.W + p.pad_left);
  const int64_t ldr = Wb * L, kblocks = (K + KB - 1) / KB, groups = (p.N + L - 1) / L;
  float* wpk = direct_workspace<0>(kblocks * R * S * KB);
  pack_filter_blocks(w, 1, K, R * S, KB, wpk, [](int64_t t) { return t; });

  parallel_for(0, groups, 0, [&](int64_t g0, int64_t g1) {
    float* xt = direct_workspace<8>(Hb * ldr);
    std::fill(xt, xt + Hb * ldr, 0.f);  // the padding; the input part is rewritten per group
    float* zs = y ? direct_workspace<9>(KB * PQ * L) : nullptr;           // [kk][p][q][lane]
    float* ps = pooled ? direct_workspace<10>(KB * PQ2 * L) : nullptr;  // [kk][window][lane]
    const F32x8 zero = vec::splat8(0.f);
    for (int64_t gi = g0; gi < g1; ++gi) {
      const int64_t n0 = gi * L, nl = std::min<int64_t>(L, p.N - n0);
      // xt[(h + pad_top)*ldr + (w + pad_left)*L + l] = x[n0 + l, 0, h, w] (0 for the lanes past N)
      F32x8 r[8], c[8];
      for (int64_t h = 0; h < p.H; ++h)
        for (int64_t j = 0;; j += 8) {
          const int64_t j0 = std::min(j, p.W - 8);
          float* d = xt + (h + p.pad_top) * ldr + (j0 + p.pad_left) * L;
          for (int64_t l0 = 0; l0 < L; l0 += 8) {
            for (int l = 0; l < 8; ++l)
              r[l] = l0 + l < nl ? vec::load8(x + (n0 + l0 + l) * HW + h * p.W + j0) : zero;
            transpose8(r, c);
            for (int i = 0; i < 8; ++i) vec::store8(d + i * L + l0, c[i]);
          }
          if (j0 + 8 >= p.W) break;
        }
      for (int64_t kb = 0; kb < kblocks; ++kb) {
        const int64_t kn = std::min<int64_t>(KB, K - kb * KB);
        float bias[KB];
        for (int kk = 0; kk < KB; ++kk) bias[kk] = b && kk < kn ? b[kb * KB + kk] : 0.f;
        for (int64_t pr = 0; pr < P2; ++pr)
          for (int64_t qw = 0; qw < Q2; ++qw)
            lane_window<KB, R, S>(xt + 2 * pr * ldr + 2 * qw * L, ldr, wpk + kb * R * S * KB, bias,
                                  zs ? zs + (2 * pr * p.Q + 2 * qw) * L : nullptr, PQ * L, p.Q * L,
                                  ps ? ps + (pr * Q2 + qw) * L : nullptr, PQ2 * L);
        for (int64_t kk = 0; kk < kn; ++kk) {
          const int64_t k = kb * KB + kk;
          if (zs) lanes_to_rows(zs + kk * PQ * L, PQ, nl, y + (n0 * K + k) * PQ, K * PQ);
          if (ps) lanes_to_rows(ps + kk * PQ2 * L, PQ2, nl, pooled + (n0 * K + k) * PQ2, K * PQ2);
        }
      }
    }
  });
}


template <int KB, int NV>
void wide_forward_kb(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y,
                     float* pooled) {
  if (p.C / p.groups * p.R * p.S <= kRowTapsMax && p.dil_w == 1) {
    if (p.S == 5) return wide_forward_impl<KB, NV, 5>(p, x, w, b, y, pooled);
    if (p.S == 3) return wide_forward_impl<KB, NV, 3>(p, x, w, b, y, pooled);
  }
  wide_forward_impl<KB, NV, 0>(p, x, w, b, y, pooled);
}

// y and/or pooled as in wide_forward_impl.
void wide_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                    float* y, float* pooled = nullptr) {
  if (lanes_apply(p)) return lane_forward<5, 5>(p, x, w, b, y, pooled);
  switch (wide_filter_block(p.K / p.groups)) {
    case 6: return wide_forward_kb<6, 2>(p, x, w, b, y, pooled);
    case 4: return wide_forward_kb<4, 3>(p, x, w, b, y, pooled);
    case 2: return wide_forward_kb<2, 6>(p, x, w, b, y, pooled);
    default: return wide_forward_kb<1, 12>(p, x, w, b, y, pooled);
  }
}

// ---- direct filter-vectorized convolution (stride 1) -------------------------------------------
// The same padded buffer, but 16 filters make two vectors and a tile of 6 output positions
// broadcasts one input value per position and tap: 12 accumulators and no wasted outputs when
// K/g fills the 16 lanes (LeNet's conv2: K = 16, Q = 10 would waste 4/14 of wide rows).

constexpr int64_t kFilterBlock = 16, kPositionBlock = 6;

// Where output position m = p*Q + q reads tap 0 in the padded buffer, relative to the tap offsets.
inline int64_t position_base(const Conv2dParams& p, const WideGeometry& g, int64_t m) {
  return m / p.Q * g.Wp + m % p.Q;
}

// out[i*16 + kk] = sum over taps t of xp[pos[i] + off[t]] * wpk[t*16 + kk], i < 6, kk < 16.
// Not inlined: inside the caller's loops GCC spills the six row pointers and reloads one per
// broadcast (15 loads per 12 multiply-adds, ~45 instead of ~80 GFLOP/s on one Zen 5 core).
[[gnu::noinline]] void filter_tile(const float* xp, const int64_t* pos, const int64_t* off, int64_t taps,
                        const float* wpk, float* out) {
  using vec::F32x8;
  constexpr int MP = kPositionBlock;
  F32x8 acc[MP][2];
  const float* xi[MP];
  for (int i = 0; i < MP; ++i) {
    acc[i][0] = acc[i][1] = vec::splat8(0.f);
    xi[i] = xp + pos[i];
  }
  for (int64_t t = 0; t < taps; ++t) {
    const int64_t o = off[t];
    const F32x8 w0 = vec::load8(wpk + t * 16), w1 = vec::load8(wpk + t * 16 + 8);
    for (int i = 0; i < MP; ++i) {
      const F32x8 a = vec::splat8(xi[i][o]);
      acc[i][0] += a * w0;
      acc[i][1] += a * w1;
    }
  }
  for (int i = 0; i < MP; ++i) {
    vec::store8(out + i * 16, acc[i][0]);
    vec::store8(out + i * 16 + 8, acc[i][1]);
  }
}

// out[i*16 + kk] = sum over taps t of xb[off[t] + i] * wpk[t*16 + kk], i < MP, kk < 16: MP
// consecutive output positions of one row, read through one pointer at fixed offsets (the
// broadcasts fold into the multiply-adds), where filter_tile needs a pointer per position. With
// AVX-512 (16 filters a vector) MP = 24 keeps 24 accumulators busy; each output sums its taps in
// filter_tile's order: the same bits.
template <int MP>
[[gnu::noinline, gnu::optimize("no-predictive-commoning")]] void filter_row_tile(
    const float* xb, const int64_t* off, int64_t taps, const float* wpk, float* out) {
  using vec::F32v;
  constexpr int64_t L = vec::kLanes, NV = kFilterBlock / L;
  F32v acc[MP][NV];
#pragma GCC unroll 24
  for (int i = 0; i < MP; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = vec::splatv(0.f);
  for (int64_t t = 0; t < taps; ++t) {
    const float* xo = xb + off[t];
    F32v wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = vec::loadv(wpk + t * kFilterBlock + v * L);
#pragma GCC unroll 24  // beyond GCC's default complete unrolling: the accumulators stay in registers
    for (int i = 0; i < MP; ++i) {
      const F32v a = vec::splatv(xo[i]);
      for (int v = 0; v < NV; ++v) acc[i][v] += a * wv[v];
    }
  }
#pragma GCC unroll 24
  for (int i = 0; i < MP; ++i)
    for (int v = 0; v < NV; ++v) vec::storev(out + i * kFilterBlock + v * L, acc[i][v]);
}

// dst[kk*ldd + i] = src[i*16 + kk] + bias[kk] for i < 8, kk < kn <= 8: an 8x8 transpose in registers.
// bias null: + 0 when add_zero (the copy-out's x + 0.f: -0 becomes +0), else nothing added.
inline void transpose8_add(const float* src, const float* bias, bool add_zero, int64_t kn, float* dst,
                           int64_t ldd) {
  vec::F32x8 r[8], c[8];
  for (int i = 0; i < 8; ++i) r[i] = vec::load8(src + i * 16);
  transpose8(r, c);
  for (int64_t kk = 0; kk < kn; ++kk)
    vec::store8(dst + kk * ldd, bias || add_zero ? c[kk] + vec::splat8(bias ? bias[kk] : 0.f) : c[kk]);
}

// y_k[m] = yt[m*16 + k] + b[k] for k < kn <= 16, m < PQ: one filter block's tiles, position-major,
// into y's planes, 8 positions x 8 filters per transpose (the last 8 positions shifted back to
// end at PQ: positions written twice get the same value). b null: + 0 when add_zero (as the
// scalar copy-out did), else a plain copy.
void scatter_filter_block(const float* yt, int64_t PQ, const float* b, bool add_zero, int64_t kn, float* y) {
  if (PQ < 8) {
    for (int64_t k = 0; k < kn; ++k)
      for (int64_t m = 0; m < PQ; ++m)
        y[k * PQ + m] = b || add_zero ? yt[m * kFilterBlock + k] + (b ? b[k] : 0.f) : yt[m * kFilterBlock + k];
    return;
  }
  for (int64_t m = 0;; m += 8) {
    const int64_t m0 = std::min(m, PQ - 8);
    for (int64_t h = 0; h < kn; h += 8)
      transpose8_add(yt + m0 * kFilterBlock + h, b ? b + h : nullptr, add_zero, std::min<int64_t>(8, kn - h),
                     y + h * PQ + m0, PQ);
    if (m0 + 8 >= PQ) return;
  }
}

// Stride-1 forward, as wide_forward_impl, 16 filters x 6 output positions per tile (AVX-512: x 24
// or 8 positions of a row). pooled and y as in wide_forward_impl (the pool taken from the
// position-major tiles, 16 filters a step).
void filters_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                     float* y, float* pooled = nullptr) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, taps = Cg * p.R * p.S;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  const int64_t kblocks = (Kg + kFilterBlock - 1) / kFilterBlock;
  const WideGeometry g = wide_geometry(p);
  const int64_t* offs = tap_offsets(p, g, taps);
  // The filters as [tap][16] per block of 16, zero-padded past K/g.
  float* wpk = direct_workspace<0>(G * kblocks * taps * kFilterBlock);
  pack_filter_blocks(w, G, Kg, taps, kFilterBlock, wpk, [](int64_t t) { return t; });

  // Each sample's tiles go position-major into yt ((PQ rounded up to whole tiles, 16) per block),
  // then into y's planes by 8x8 transposes (scatter_filter_block), not 96 scalar stores per tile.
  const int64_t PQr = (PQ + kPositionBlock - 1) / kPositionBlock * kPositionBlock;
  // AVX-512: tiles of consecutive positions of a row (filter_row_tile), for rows of 8 or more
  const bool row_tiles = vec::kLanes == 16 && p.Q >= 8;
  parallel_for(0, p.N, 0, [&](int64_t n0, int64_t n1) {
    float* xp = direct_workspace<1>(g.size);
    float* yt = direct_workspace<6>(kblocks * PQr * kFilterBlock);
    float* pt = pooled ? direct_workspace<7>(PQ / 4 * kFilterBlock) : nullptr;
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t gi = 0; gi < G; ++gi) {
        pad_window(p, g, x + (n * p.C + gi * Cg) * HW, xp);
        if (row_tiles) {
          // each output row in tiles of 24 positions, the rest in tiles of 8 (the last shifted
          // back to end at Q: positions computed twice get the same value)
          for (int64_t op = 0; op < p.P; ++op)
            for (int64_t q0 = 0; q0 < p.Q;) {
              const int64_t mp = p.Q - q0 >= 24 ? 24 : 8, qs = std::min(q0, p.Q - mp);
              for (int64_t kb = 0; kb < kblocks; ++kb) {
                const float* wk = wpk + (gi * kblocks + kb) * taps * kFilterBlock;
                float* out = yt + (kb * PQr + op * p.Q + qs) * kFilterBlock;
                if (mp == 24)
                  filter_row_tile<24>(xp + op * g.Wp + qs, offs, taps, wk, out);
                else
                  filter_row_tile<8>(xp + op * g.Wp + qs, offs, taps, wk, out);
              }
              q0 = qs + mp;
            }
        }
        for (int64_t m0 = 0; m0 < PQ && !row_tiles; m0 += kPositionBlock) {
          const int64_t mp = std::min(kPositionBlock, PQ - m0);
          int64_t pos[kPositionBlock];  // the last tile repeats its last position
          for (int64_t i = 0; i < kPositionBlock; ++i)
            pos[i] = position_base(p, g, m0 + std::min(i, mp - 1));
          for (int64_t kb = 0; kb < kblocks; ++kb)
            filter_tile(xp, pos, offs, taps, wpk + (gi * kblocks + kb) * taps * kFilterBlock,
                        yt + (kb * PQr + m0) * kFilterBlock);
        }
        for (int64_t kb = 0; kb < kblocks; ++kb) {
          const int64_t k0 = gi * Kg + kb * kFilterBlock, kn = std::min(kFilterBlock, Kg - kb * kFilterBlock);
          if (y)
            scatter_filter_block(yt + kb * PQr * kFilterBlock, PQ, b ? b + k0 : nullptr, true, kn,
                                 y + (n * p.K + k0) * PQ);
          if (pooled) {
            float bias[kFilterBlock] = {};  // zero past K/g
            for (int64_t kk = 0; kk < kn; ++kk) bias[kk] = b ? b[k0 + kk] : 0.f;
            max_pool_2x2_channels_last_forward(yt + kb * PQr * kFilterBlock, p.P / 2, p.Q / 2, kFilterBlock,
                                               bias, pt);
            scatter_filter_block(pt, PQ / 4, nullptr, false, kn, pooled + (n * p.K + k0) * (PQ / 4));
          }
        }
      }
    }
  });
}

// ---- shifted planes: the input of the backward-weight passes of the direct kernels ----
// Where the shifted planes sit: plane (c, s) holds
// X[c][s][j][q] = x[c, j - pad_top, q + s*dw - pad_left] (0 outside x), j < Hs, pitch Q, so that
// tap (c, r, s) at output i = p*Q + q reads X[c][s][r*dh*Q + i]: the same index as dy[k][i].
struct ShiftedGeometry {
  int64_t Hs, plane;  // rows, floats per plane (rounded up to 8, then 8 zeros: the tail vector)
};

ShiftedGeometry shifted_geometry(const Conv2dParams& p) {
  ShiftedGeometry g;
  g.Hs = p.P + (p.R - 1) * p.dil_h;
  g.plane = (g.Hs * p.Q + 7) / 8 * 8 + 8;
  return g;
}

// What plane (c, s) copies per sample: rows of len floats from x + src (pitch W) to xs + dst
// (pitch Q). The calling thread's buffer.
struct ShiftedCopy {
  int64_t src, dst, rows, len;
};

const ShiftedCopy* shifted_copies(const Conv2dParams& p, const ShiftedGeometry& g) {
  static thread_local std::vector<ShiftedCopy> cps;
  const int64_t Cg = p.C / p.groups;
  cps.resize(Cg * p.S);
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t s = 0; s < p.S; ++s) {
      int64_t q0, q1, j0, j1;
      valid_range(s * p.dil_w - p.pad_left, 1, p.W, p.Q, q0, q1);
      valid_range(-p.pad_top, 1, p.H, g.Hs, j0, j1);
      const bool empty = q1 == q0 || j1 == j0;
      cps[c * p.S + s] = {
          empty ? 0 : (c * p.H + j0 - p.pad_top) * p.W + q0 + s * p.dil_w - p.pad_left,
          (c * p.S + s) * g.plane + j0 * p.Q + q0, empty ? 0 : j1 - j0, q1 - q0};
    }
  return cps.data();
}

// offsets[(c*R + r)*S + s] = where tap (c, r, s) of output 0 reads in the planes; the calling
// thread's buffer, padded with zeros to `size` entries.
const int64_t* shifted_offsets(const Conv2dParams& p, const ShiftedGeometry& g, int64_t size) {
  static thread_local std::vector<int64_t> off;
  off.assign(size, 0);
  for (int64_t c = 0; c < p.C / p.groups; ++c)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s)
        off[(c * p.R + r) * p.S + s] = (c * p.S + s) * g.plane + r * p.dil_h * p.Q;
  return off.data();
}

// The calling thread's planes, 32-byte aligned (with an even Q, half of the loads are then
// aligned), all zeros: the copies only ever write the same places, so the padding stays 0.
float* shifted_workspace(const Conv2dParams& p, const ShiftedGeometry& g) {
  const int64_t size = p.C / p.groups * p.S * g.plane;
  float* xs = direct_workspace<1>(size + 8);
  xs += (8 - reinterpret_cast<uintptr_t>(xs) / sizeof(float) % 8) % 8;
  std::fill(xs, xs + size, 0.f);
  return xs;
}

// Copies x (C/g, H, W), one sample and group, into the planes.
void fill_shifted(const Conv2dParams& p, const ShiftedCopy* cps, const float* x, float* xs) {
  for (int64_t cs = 0; cs < p.C / p.groups * p.S; ++cs) {
    // in locals: the float stores could alias p for the compiler
    const int64_t rows = cps[cs].rows, len = cps[cs].len, W = p.W, Q = p.Q;
    const float* src = x + cps[cs].src;
    float* dst = xs + cps[cs].dst;
    for (int64_t j = 0; j < rows; ++j) copy_row(src + j * W, len, dst + j * Q);
  }
}

// vacc[i*16 + kk] += sum over output positions (p, q) of xp[off[i] + p*Wp + q] * dyt[(p*Q + q)*ldd + kk].
// Not inlined, for the reason given at filter_tile.
[[gnu::noinline]] void filter_weight_tile(const Conv2dParams& p, const WideGeometry& g, const float* dyt,
                               int64_t ldd, const float* xp, const int64_t* off, float* vacc) {
  using vec::F32x8;
  constexpr int MP = kPositionBlock;
  F32x8 acc[MP][2];
  const float* xi[MP];
  for (int i = 0; i < MP; ++i) {
    acc[i][0] = acc[i][1] = vec::splat8(0.f);
    xi[i] = xp + off[i];
  }
  for (int64_t op = 0; op < p.P; ++op) {
    const float* d = dyt + op * p.Q * ldd;
    const int64_t row = op * g.Wp;
    for (int64_t q = 0; q < p.Q; ++q) {
      const F32x8 d0 = vec::load8(d + q * ldd), d1 = vec::load8(d + q * ldd + 8);
      for (int i = 0; i < MP; ++i) {
        const F32x8 a = vec::splat8(xi[i][row + q]);
        acc[i][0] += a * d0;
        acc[i][1] += a * d1;
      }
    }
  }
  for (int i = 0; i < MP; ++i) {
    vec::store8(vacc + i * 16, vec::load8(vacc + i * 16) + acc[i][0]);
    vec::store8(vacc + i * 16 + 8, vec::load8(vacc + i * 16 + 8) + acc[i][1]);
  }
}

// As filter_weight_tile for ROWS x S taps that are ROWS rows of S contiguous taps (dil_w == 1;
// off[j*S] is row j's first tap): one pointer per row, the S broadcasts at fixed offsets from it,
// so that AVX-512's 16-filter vectors get ROWS*S accumulators (25 for 5x5 taps) where
// filter_weight_tile's 6 taps (a pointer each) would leave the multiply-adds waiting on loads.
// Each accumulator sums the positions in the same order: the same bits. Without predictive
// commoning: GCC otherwise carries each row's x values to the next position through the stack.
template <int ROWS, int S>
[[gnu::noinline, gnu::optimize("no-predictive-commoning")]] void filter_weight_tile_rows(
    const Conv2dParams& p, const WideGeometry& g, const float* dyt, int64_t ldd, const float* xp,
    const int64_t* off, float* vacc) {
  using vec::F32v;
  constexpr int64_t L = vec::kLanes, NV = kFilterBlock / L, MT = ROWS * S;
  F32v acc[MT][NV];
  const float* xr[ROWS];
  for (int j = 0; j < ROWS; ++j) xr[j] = xp + off[j * S];
  for (int i = 0; i < MT; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = vec::splatv(0.f);
  for (int64_t op = 0; op < p.P; ++op) {
    const float* d = dyt + op * p.Q * ldd;
    const int64_t row = op * g.Wp;
    for (int64_t q = 0; q < p.Q; ++q) {
      F32v dv[NV];
      for (int v = 0; v < NV; ++v) dv[v] = vec::loadv(d + q * ldd + v * L);
      for (int j = 0; j < ROWS; ++j) {
        const float* xq = xr[j] + row + q;
        for (int s = 0; s < S; ++s) {
          const F32v a = vec::splatv(xq[s]);
          for (int v = 0; v < NV; ++v) acc[j * S + s][v] += a * dv[v];
        }
      }
    }
  }
  for (int i = 0; i < MT; ++i)
    for (int v = 0; v < NV; ++v) {
      float* a = vacc + i * kFilterBlock + v * L;
      vec::storev(a, vec::loadv(a) + acc[i][v]);
    }
}

// dst[m*ldd + k] = src[k*PQ + m] for k < K, m < PQ: 8x8 blocks through registers, the edges
// element by element (LeNet's conv2, 16 x 100 per sample: the element loop, strided reads and all,
// was an eighth of its weight gradient).
void transpose_rows(const float* src, int64_t K, int64_t PQ, float* dst, int64_t ldd) {
  const int64_t K8 = K / 8 * 8, M8 = PQ / 8 * 8;
  for (int64_t k0 = 0; k0 < K8; k0 += 8)
    for (int64_t m0 = 0; m0 < M8; m0 += 8) {
      vec::F32x8 r[8], c[8];
      for (int i = 0; i < 8; ++i) r[i] = vec::load8(src + (k0 + i) * PQ + m0);
      transpose8(r, c);
      for (int j = 0; j < 8; ++j) vec::store8(dst + (m0 + j) * ldd + k0, c[j]);
    }
  // the edges, position-major so that the stores are contiguous
  for (int64_t m = 0; m < PQ; ++m)
    for (int64_t k = m < M8 ? K8 : 0; k < K; ++k) dst[m * ldd + k] = src[k * PQ + m];
}

// Stride-1 backward-weight, 6 taps x 16 filters per tile, a filter per lane (no lane sums). dy is
// transposed per sample to (P*Q, 16 per block); the batch split as in wide_backward_weight.
void filters_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, taps = Cg * p.R * p.S;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, wsize = p.K * taps;
  const WideGeometry g = wide_geometry(p);
  const int64_t kblocks = (Kg + kFilterBlock - 1) / kFilterBlock;
  // Taps per tile: with AVX-512 and rows of 5 or 3 contiguous taps, 5 or 8 whole rows
  // (filter_weight_tile_rows), else kPositionBlock (filter_weight_tile).
  const int rows = vec::kLanes == 16 && p.dil_w == 1 ? (p.S == 5 ? 5 : p.S == 3 ? 8 : 0) : 0;
  const int64_t TB = rows ? rows * p.S : kPositionBlock;
  const int64_t tblocks = (taps + TB - 1) / TB;
  const int64_t ldd = kblocks * kFilterBlock, block = TB * kFilterBlock;
  const int64_t vsize = G * kblocks * tblocks * block;
  const int64_t chunks = std::min(p.N, kWeightChunks);
  // Taps past the end of the last block read tap 0's data; their sums are dropped.
  const int64_t* offs = tap_offsets(p, g, tblocks * TB);
  float* partials = direct_workspace<3>(chunks * wsize);

  parallel_for(0, chunks, 0, [&](int64_t c0, int64_t c1) {
    float* xp = direct_workspace<1>(g.size);
    float* dyt = direct_workspace<2>(PQ * ldd);
    float* vacc = direct_workspace<4>(vsize);
    for (int64_t ci = c0; ci < c1; ++ci) {
      std::fill(vacc, vacc + vsize, 0.f);
      std::fill(dyt, dyt + PQ * ldd, 0.f);  // lanes past K/g stay 0
      for (int64_t n = ci * p.N / chunks; n < (ci + 1) * p.N / chunks; ++n) {
        for (int64_t gi = 0; gi < G; ++gi) {
          pad_window(p, g, x + (n * p.C + gi * Cg) * HW, xp);
          transpose_rows(dy + (n * p.K + gi * Kg) * PQ, Kg, PQ, dyt, ldd);
          float* vg = vacc + gi * kblocks * tblocks * block;
          for (int64_t kb = 0; kb < kblocks; ++kb)
            for (int64_t tb = 0; tb < tblocks; ++tb) {
              const float* dk = dyt + kb * kFilterBlock;
              float* vt = vg + (kb * tblocks + tb) * block;
              if (rows == 5)
                filter_weight_tile_rows<5, 5>(p, g, dk, ldd, xp, offs + tb * TB, vt);
              else if (rows == 8)
                filter_weight_tile_rows<8, 3>(p, g, dk, ldd, xp, offs + tb * TB, vt);
              else
                filter_weight_tile(p, g, dk, ldd, xp, offs + tb * TB, vt);
            }
        }
      }
      float* part = partials + ci * wsize;
      for (int64_t gi = 0; gi < G; ++gi)
        for (int64_t k = 0; k < Kg; ++k) {
          // block by block: a division per weight was 2% of LeNet's conv2 in a profile
          const float* vk = vacc + (gi * kblocks + k / kFilterBlock) * tblocks * block +
                            k % kFilterBlock;
          float* pk = part + (gi * Kg + k) * taps;
          for (int64_t t0 = 0; t0 < taps; t0 += TB, vk += block)
            for (int64_t i = 0; i < std::min(TB, taps - t0); ++i)
              pk[t0 + i] = vk[i * kFilterBlock];
        }
    }
  });
  sum_chunks(partials, chunks, wsize, dw);
}

// Backward-data of a stride-1 conv as a forward conv: its input is dy (N,K,P,Q), its filters are
// w flipped in (r, s) with the channel axes swapped, (C, K/g, R, S) per group, its output dx.
Conv2dParams flipped_problem(const Conv2dParams& p) {
  return Conv2dParams{p.N, p.K, p.P, p.Q, p.C, p.R, p.S, p.H, p.W, 1, 1,
                      (p.R - 1) * p.dil_h - p.pad_top, (p.S - 1) * p.dil_w - p.pad_left,
                      p.dil_h, p.dil_w, p.groups};
}

void direct_backward_data(const Conv2dParams& p, bool by_filters, const float* dy, const float* w,
                          const float* b, float* dx) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, RS = p.R * p.S;
  float* wf = direct_workspace<3>(p.K * Cg * RS);
  for (int64_t gi = 0; gi < G; ++gi)
    for (int64_t k = 0; k < Kg; ++k)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t rs = 0; rs < RS; ++rs)
          wf[((gi * Cg + c) * Kg + k) * RS + (RS - 1 - rs)] = w[((gi * Kg + k) * Cg + c) * RS + rs];
  if (by_filters)
    filters_forward(flipped_problem(p), dy, wf, b, dx);
  else
    wide_forward(flipped_problem(p), dy, wf, b, dx);
}

// vacc[(kk*ldj + j)*L + l] += sum over vectors v < len/L of d[kk][Lv + l] * xj[j][Lv + l], L =
// vec::kLanes. Under 8 accumulators (the narrow last tile) do not hide the multiply-add latency:
// U = 2 sets then take the even and the odd vectors.
template <int KB, int JB>
inline void wide_weight_tile(const float* const* d, const float* const* xj, int64_t len,
                             float* vacc, int64_t ldj) {
  using vec::F32v;
  constexpr int64_t L = vec::kLanes;
  constexpr int U = KB * JB < 8 ? 2 : 1;
  F32v acc[U][KB][JB];
  for (int u = 0; u < U; ++u)
    for (int kk = 0; kk < KB; ++kk)
      for (int j = 0; j < JB; ++j) acc[u][kk][j] = vec::splatv(0.f);
  const F32v zero = vec::splatv(0.f);
  auto step = [&](int u, int64_t i) {
    F32v dv[KB];
    for (int kk = 0; kk < KB; ++kk) dv[kk] = vec::loadv(d[kk] + i);
    for (int j = 0; j < JB; ++j) {
      F32v xv = vec::loadv(xj[j] + i);
      // + 0 (kept: it turns -0 into +0): with KB = 2, GCC otherwise folds the load into both
      // multiply-adds (2 x 5, measured: 12 loads per 10 of them, no faster than 3 x 4 padded to
      // 28 taps). Not with KB > 2: the register it takes made GCC fold the dy loads instead.
      if constexpr (KB == 2) xv = xv + zero;
      for (int kk = 0; kk < KB; ++kk) acc[u][kk][j] += dv[kk] * xv;
    }
  };
  int64_t i = 0;
  for (; i + L * U <= len; i += L * U)
    for (int u = 0; u < U; ++u) step(u, i + L * u);
  if (i < len) step(0, i);
  for (int kk = 0; kk < KB; ++kk)
    for (int j = 0; j < JB; ++j) {
      F32v sum = acc[0][kk][j];
      if constexpr (U == 2) sum = sum + acc[1][kk][j];
      float* a = vacc + (kk * ldj + j) * L;
      vec::storev(a, vec::loadv(a) + sum);
    }
}

// wide_weight_tile<KB, cols>, cols <= JB (the last block of taps may be partial).
template <int KB, int JB>
void wide_weight_tile_cols(int64_t cols, const float* const* d, const float* const* xj,
                           int64_t len, float* vacc, int64_t ldj) {
  if constexpr (JB > 1) {
    if (cols < JB) return wide_weight_tile_cols<KB, JB - 1>(cols, d, xj, len, vacc, ldj);
  }
  wide_weight_tile<KB, JB>(d, xj, len, vacc, ldj);
}

// dw[k, c, r, s] = sum over n, p, q of dy[n,k,p,q] * x[n, c, p - pt + r*dh, q - pl + s*dw], stride 1.
// Per sample and group, x is copied into C/g*S shifted planes (ShiftedGeometry) and dy is read in
// place: tap (c, r, s) is then the dot product of dy[k] with a contiguous run of plane (c, s),
// over the P*Q outputs only (no thrown-away columns, no copy of dy; LeNet's conv1 copies 5 planes
// of 32x28 from a 28x28 sample where a re-layout of dy copied 6 planes of 28x30 from its 6x28x28,
// and computes 25 of 25 taps per output, where the wide rows computed 28 x 30/28). A partial last
// vector of dy (P*Q not a multiple of kLanes) goes through a zero-padded copy. The padding of the
// planes is written once per chunk (it never changes), the x values per sample. The batch is split
// into the fixed chunks of conv2d_backward_weight; each keeps kLanes lanes per weight, summed at
// its end.
template <int KB, int JB>
void wide_backward_weight_impl(const Conv2dParams& p, const float* dy, const float* x,
                               float* dw) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, taps = Cg * p.R * p.S;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, wsize = p.K * taps;
  const ShiftedGeometry g = shifted_geometry(p);
  constexpr int64_t L = vec::kLanes;
  const int64_t full = PQ / L * L, tail = PQ - full;
  const int64_t kblocks = (Kg + KB - 1) / KB, jblocks = (taps + JB - 1) / JB;
  const int64_t vsize = G * kblocks * KB * jblocks * JB * L;  // lane accumulators of one chunk
  const int64_t chunks = std::min(p.N, kWeightChunks);

  // Taps past the end of the last block read tap 0's data; their sums are dropped.
  const int64_t* offs = shifted_offsets(p, g, jblocks * JB);
  const ShiftedCopy* cps = shifted_copies(p, g);
  float* partials = direct_workspace<3>(chunks * wsize);
  parallel_for(0, chunks, 0, [&](int64_t c0, int64_t c1) {
    float* xs = shifted_workspace(p, g);
    float* vacc = direct_workspace<4>(vsize);
    alignas(64) float dtail[KB * L];
    for (int64_t ci = c0; ci < c1; ++ci) {
      std::fill(vacc, vacc + vsize, 0.f);
      for (int64_t n = ci * p.N / chunks; n < (ci + 1) * p.N / chunks; ++n) {
        for (int64_t gi = 0; gi < G; ++gi) {
          fill_shifted(p, cps, x + (n * p.C + gi * Cg) * HW, xs);
          const float* dyg = dy + (n * p.K + gi * Kg) * PQ;
          float* vg = vacc + gi * kblocks * KB * jblocks * JB * L;
          for (int64_t kb = 0; kb < kblocks; ++kb) {
            // filter rows past K/g repeat the last one (their sums are dropped)
            const float* d[KB];
            for (int kk = 0; kk < KB; ++kk) d[kk] = dyg + std::min(kb * KB + kk, Kg - 1) * PQ;
            const float* dt[KB];
            if (tail) {
              std::fill(dtail, dtail + KB * L, 0.f);
              for (int kk = 0; kk < KB; ++kk) {
                for (int64_t l = 0; l < tail; ++l) dtail[kk * L + l] = d[kk][full + l];
                dt[kk] = dtail + kk * L;
              }
            }
            for (int64_t jb = 0; jb < jblocks; ++jb) {
              const float* xj[JB];
              for (int j = 0; j < JB; ++j) xj[j] = xs + offs[jb * JB + j];
              float* a = vg + (kb * jblocks + jb) * KB * JB * L;
              const int64_t cols = std::min<int64_t>(JB, taps - jb * JB);
              wide_weight_tile_cols<KB, JB>(cols, d, xj, full, a, JB);
              if (tail) {
                for (int j = 0; j < JB; ++j) xj[j] += full;
                wide_weight_tile_cols<KB, JB>(cols, dt, xj, L, a, JB);
              }
            }
          }
        }
      }
      // Lanes summed in a fixed order into this chunk's partial dw.
      float* part = partials + ci * wsize;
      for (int64_t gi = 0; gi < G; ++gi)
        for (int64_t k = 0; k < Kg; ++k)
          for (int64_t t = 0; t < taps; ++t) {
            const int64_t kb = k / KB, kk = k % KB, jb = t / JB, j = t % JB;
            const float* a =
                vacc + (((gi * kblocks + kb) * jblocks + jb) * KB * JB + kk * JB + j) * L;
            float h[8];  // the upper 8 lanes folded onto the lower (AVX-512)
            for (int l = 0; l < 8; ++l) h[l] = L == 16 ? a[l] + a[l + 8] : a[l];
            part[(gi * Kg + k) * taps + t] =
                ((h[0] + h[4]) + (h[1] + h[5])) + ((h[2] + h[6]) + (h[3] + h[7]));
          }
    }
  });
  sum_chunks(partials, chunks, wsize, dw);
}

// The tile with the fewest loads per output position, among those whose accumulators, filter
// rows and one input vector fit the vector registers (16 with AVX2, 32 with AVX-512): the loop
// ran at about one vector load per cycle on AVX2 (the multiply-adds would allow more). Filters
// are padded up to the tile, taps are not (a last, narrower tile). LeNet's conv1, 6 x 25: with
// AVX2 3 x 4 and a 3 x 1 per 3 filters, 92 loads for 150 multiply-adds (2 x 5 tiles: 105; 2 x 6:
// 105 for 180); with AVX-512 6 x 4 and a 6 x 1, 67 loads (3 x 8: 72; 4 x 6: 86 for 200).
void wide_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw) {
  const int64_t Kg = p.K / p.groups, taps = p.C / p.groups * p.R * p.S;
  auto loads = [&](int64_t kb, int64_t jb) {
    const int64_t rest = taps % jb;
    return (Kg + kb - 1) / kb * (taps / jb * (kb + jb) + (rest ? kb + rest : 0));
  };
  if constexpr (vec::kLanes == 16) {
    const int64_t best = std::min({loads(6, 4), loads(4, 6), loads(3, 8), loads(2, 12)});
    if (loads(6, 4) == best) return wide_backward_weight_impl<6, 4>(p, dy, x, dw);
    if (loads(4, 6) == best) return wide_backward_weight_impl<4, 6>(p, dy, x, dw);
    if (loads(3, 8) == best) return wide_backward_weight_impl<3, 8>(p, dy, x, dw);
    return wide_backward_weight_impl<2, 12>(p, dy, x, dw);
  }
  // (2, 5) never beats (2, 6): taps + 2*ceil(taps/5) loads against taps + 2*ceil(taps/6)
  const int64_t best = std::min({loads(3, 4), loads(4, 3), loads(2, 6)});
  if (loads(3, 4) == best) return wide_backward_weight_impl<3, 4>(p, dy, x, dw);
  if (loads(4, 3) == best) return wide_backward_weight_impl<4, 3>(p, dy, x, dw);
  return wide_backward_weight_impl<2, 6>(p, dy, x, dw);
}

// ---- the choice of algorithm -----------------------------------------------------------------

enum class Algo { gemm, wide, filters, winograd, winograd5, depthwise, dilated };
enum class Pass { forward, backward_data, backward_weight };

inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// Every shape and pass picks its algorithm here.
// Direct loops only for stride 1 and few taps per output (C/g*R*S <= 512: LeNet, first layers,
// small grouped convs): there the GEMM's M = K/g is small, so its packing and C-tile traffic are
// not amortized, while a direct tile keeps 12 vector accumulators busy on one or two loads per
// tap. Between the two direct variants, the one with fewer multiply-adds including its padding
// (wide rows: Wp - Q extra outputs per row and filters rounded up to the tile; filter vectors:
// K/g rounded up to 16), and GEMM when even that is over twice the useful work. Backward-data is
// the forward of its flipped problem (taps = K/g*R*S, output H x W) and is judged on it, which
// counts the zero padding of dy as useful work (LeNet's conv2: 376k multiply-adds per sample
// computed after skipping filter rows that read only padding, 240k real). The direct kernel still
// wins there: backward-data alone, batch 128, AVX2 (this machine's CPU exposes no AVX-512),
// 0.59-0.72 ms against 1.1-1.3 ms for GEMM + col2im (1.8x; col = w^T dy, M = C*R*S = 150,
// N = P*Q = 100, K = 16: the GEMM alone takes as long as the whole direct kernel, about 60 GFLOP/s
// per core at K = 16, and col2im's 10-float row adds as long again) and 1.25-1.7x slower for the
// GEMM with col2im fused into wide rows (branch c2bwd-scatter; 8% fewer vector multiply-adds, but
// a load-add-store of the output per 16 multiply-adds where the direct tile reduces 400 taps).
// The direct kernels run in parallel over samples (and the 8 fixed chunks of the weight
// gradient) only, so small batches keep the GEMM and its threads inside each sample.
// Winograd comes first: 3x3 stride 1 with enough channels and tiles (the measured thresholds are
// in winograd_applies), backward-data judged on its flipped problem like the direct kernels; then
// Winograd 5x5 (winograd5_applies: few channels, judged on the conv itself in every pass, its
// backward-data being the adjoint of its forward).
// (Depthwise convs are routed by choose_algo below.)
Algo choose_generic_algo(const Conv2dParams& p, Pass pass) {
  const Conv2dParams q = pass == Pass::backward_data ? flipped_problem(p) : p;
  if (p.stride_h == 1 && p.stride_w == 1 && winograd_applies(q, pass == Pass::backward_weight))
    return Algo::winograd;
  if (winograd5_applies(p, pass == Pass::backward_weight)) return Algo::winograd5;
  if (p.stride_h != 1 || p.stride_w != 1 || p.N < kDirectMinBatch) return Algo::gemm;
  const int64_t Kg = q.K / q.groups, taps = q.C / q.groups * q.R * q.S, PQ = q.P * q.Q;
  if (taps > kDirectMaxTaps || PQ == 0) return Algo::gemm;
  const WideGeometry g = wide_geometry(q);
  int64_t wide, filters;  // multiply-adds per sample and group
  if (pass == Pass::backward_weight) {
    wide = std::min(round_up(Kg, 3) * round_up(taps, 4), round_up(Kg, 4) * round_up(taps, 3)) *
           round_up(q.P * g.Wp, 8);
    filters = round_up(Kg, kFilterBlock) * round_up(taps, kPositionBlock) * PQ;
  } else {
    const int64_t kb = wide_filter_block(Kg);
    wide = round_up(Kg, kb) * round_up(q.P * g.Wp, 96 / kb) * taps;
    filters = round_up(Kg, kFilterBlock) * round_up(PQ, kPositionBlock) * taps;
  }
  if (std::min(wide, filters) > 2 * Kg * taps * PQ) return Algo::gemm;
  return filters < wide ? Algo::filters : Algo::wide;
}

// Depthwise convs (groups == C > 1): one input channel per filter leaves a GEMM nothing to reuse
// and its per-group calls cost more than the work, so both backward passes and any forward the
// generic choice would give to GEMM run the depthwise kernels. A forward that the "wide" or
// "filters" kernel takes (stride 1, batch >= 8) stays there: measured faster than depthwise's.
//
// Dilated stride-1 convs (one group) run as the batch of their dh*dw undilated phase convs
// (dilated.h), pass by pass, where that batch takes Winograd and the conv itself would take GEMM.
// The phase path costs copies of x and y (about 1.5 ms of its 15 ms forward on benchmarks'
// dilated_3x3). Measured against the old paths (2 loaded cores, AVX2, best of several):
//  - over GEMM it won from 64 channels (16x64x28x28 and 16x64x56x56 with dilation 2 or (2,1),
//    8x128x28x28 with dilation 3: 1.3x to 2.5x; dilated_3x3 forward 40-50 ms -> 15-20 ms) and
//    tied on tiny problems (1x16x12x12: 0.05 ms either way); 2x256x14x14 (7x7 phases, a quarter
//    of Winograd's tiles partial) still won or tied;
//  - over the direct kernels ("filters": 16 and 32 channels, batch 8 and 16) it lost 1.5x to 2x
//    (16x16x56x56 dilation 2; 8x32x20x20 dilation 4, 5x5 phases): they handle dilation at no
//    extra cost, and those shapes are small enough for the copies and Winograd's partial tiles to
//    show. So they keep the direct kernels.
Algo choose_algo(const Conv2dParams& p, Pass pass) {
  const Algo generic = choose_generic_algo(p, pass);
  if ((p.dil_h > 1 || p.dil_w > 1) && p.stride_h == 1 && p.stride_w == 1 && p.groups == 1 &&
      generic == Algo::gemm && choose_generic_algo(dilated_phase_problem(p), pass) == Algo::winograd)
    return Algo::dilated;
  if (!depthwise_applies(p)) return generic;
  if (pass == Pass::forward && (generic == Algo::wide || generic == Algo::filters)) return generic;
  return Algo::depthwise;
}
}  // namespace

// x is (N,C,H,W), w is (K,C/g,R,S), b is (K,) or null, y is (N,K,P,Q).
// Per sample and group: y_g (K/g, PQ) = w_g (K/g, C/g*R*S) . col_g (C/g*R*S, PQ) [+ b].
void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                    float* y) {
  switch (choose_algo(p, Pass::forward)) {
    case Algo::wide: return wide_forward(p, x, w, b, y);
    case Algo::filters: return filters_forward(p, x, w, b, y);
    case Algo::winograd: return winograd_forward(p, x, w, b, y);
    case Algo::winograd5: return winograd5_forward(p, x, w, b, y, nullptr);
    case Algo::depthwise: return depthwise_forward(p, x, w, b, y);
    case Algo::dilated: return dilated_forward(p, x, w, b, y);
    case Algo::gemm: break;
  }
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, CRS = Cg * p.R * p.S;
  const bool pointwise = is_pointwise(p);
  for_each_sample(p.N, [&](int64_t n, bool inner) {
    const float* xn = x + n * p.C * HW;
    float* yn = y + n * p.K * PQ;
    float* col = pointwise ? nullptr : col_workspace(CRS * PQ);
    for (int64_t g = 0; g < G; ++g) {
      const float* xg = xn + g * Cg * HW;
      if (!pointwise) {
        for_channels(p, Cg, inner, [&](int64_t c0, int64_t c1) { im2col(p, xg, c0, c1, col); });
      }
      float* yg = yn + g * Kg * PQ;
      if (b) {
        for (int64_t k = 0; k < Kg; ++k) std::fill(yg + k * PQ, yg + (k + 1) * PQ, b[g * Kg + k]);
      }
      gemm(inner, false, false, Kg, PQ, CRS, w + g * Kg * CRS, CRS, pointwise ? xg : col, PQ,
           b ? 1.f : 0.f, yg, PQ);
    }
  });
}

// y = max_pool2d(conv2d(x, w, b)) with pooling geometry pp over z (N,K,P,Q); z (written too) or
// null. When the conv runs a direct kernel (per sample, the same bits for any batch split) and
// the pool is 2x2 stride 2 tiling z (LeNet), the kernel pools each sample from its own buffer
// before the bias copy-out (z written only when asked for). Other pools after a direct kernel: the
// batch goes in blocks of a few samples, each pooled right after its conv while its z block is
// still in L1/L2: the pool does not re-read z from memory, and with z null (inference) z never
// leaves the cache. Other algorithms run conv then pool over the whole batch. Either way y and z
// have the bits of conv2d_forward then max_pool2d_forward.
void conv2d_pool_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* z,
                         const Pool2dParams& pp, float* y) {
  const int64_t zsize = p.K * p.P * p.Q, ysize = p.K * pp.P * pp.Q, xsize = p.C * p.H * p.W;
  const Algo algo = choose_algo(p, Pass::forward);
  const bool tiling_2x2 = pp.kh == 2 && pp.kw == 2 && pp.sh == 2 && pp.sw == 2 && pp.pad_top == 0 &&
                          pp.pad_left == 0 && p.P == 2 * pp.P && p.Q == 2 * pp.Q;
  // Winograd F(2x2, 5x5): a tile's 2x2 outputs are a pool window, pooled in registers
  if (algo == Algo::winograd5 && tiling_2x2) return winograd5_forward(p, x, w, b, z, y);
  if (algo != Algo::wide && algo != Algo::filters) {
    std::vector<float> whole;  // not kept: callers pass z for these algorithms (no fusion to gain)
    if (!z) {
      whole.resize(p.N * zsize);
      z = whole.data();
    }
    conv2d_forward(p, x, w, b, z);
    max_pool2d_forward(z, y, pp);
    return;
  }
  // A 2x2 stride-2 pool tiling z exactly: pooled straight from the kernel's own buffer (wide rows,
  // or the filters' position-major tiles), per sample, while it is in L1 (z written beside it
  // when asked for).
  if (tiling_2x2)
    return algo == Algo::wide ? wide_forward(p, x, w, b, z, y) : filters_forward(p, x, w, b, z, y);
  // Blocks of up to 16 samples and ~128 KB of z, at least 2 per thread when the batch allows.
  const int64_t threads = get_num_threads();
  int64_t nb = std::max<int64_t>(1, std::min<int64_t>(16, (int64_t{128} << 10) / std::max<int64_t>(1, zsize * 4)));
  nb = std::max<int64_t>(1, std::min(nb, p.N / std::max<int64_t>(1, 2 * threads)));
  const int64_t blocks = (p.N + nb - 1) / nb;
  parallel_for(0, blocks, 0, [&](int64_t b0, int64_t b1) {
    float* scratch = z ? nullptr : direct_workspace<5>(nb * zsize);
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n0 = blk * nb, n = std::min(nb, p.N - n0);
      Conv2dParams pb = p;
      pb.N = n;
      Pool2dParams ppb = pp;
      ppb.N = n;
      float* zb = z ? z + n0 * zsize : scratch;
      // the direct kernels' own loops over samples run inline here (nested parallel_for)
      if (algo == Algo::wide)
        wide_forward(pb, x + n0 * xsize, w, b, zb);
      else
        filters_forward(pb, x + n0 * xsize, w, b, zb);
      max_pool2d_forward(zb, y + n0 * ysize, ppb);
    }
  });
}

// dy is (N,K,P,Q), w is (K,C/g,R,S), b is (C,) or null, dx is (N,C,H,W).
// Per sample and group: dcol (C/g*R*S, PQ) = w_g^T . dy_g, then col2im into dx [+ b per channel;
// conv_transpose2d's forward is this kernel, and b is its bias].
void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, const float* b,
                          float* dx) {
  const Algo algo = choose_algo(p, Pass::backward_data);
  if (algo == Algo::winograd) return winograd_backward_data(p, dy, w, b, dx);
  if (algo == Algo::winograd5) return winograd5_backward_data(p, dy, w, b, dx);
  if (algo == Algo::depthwise) return depthwise_backward_data(p, dy, w, b, dx);
  if (algo == Algo::dilated) return dilated_backward_data(p, dy, w, b, dx);
  if (algo != Algo::gemm) {
    return direct_backward_data(p, algo == Algo::filters, dy, w, b, dx);
  }
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, CRS = Cg * p.R * p.S;
  const bool pointwise = is_pointwise(p);
  for_each_sample(p.N, [&](int64_t n, bool inner) {
    const float* dyn = dy + n * p.K * PQ;
    float* dxn = dx + n * p.C * HW;
    float* col = pointwise ? nullptr : col_workspace(CRS * PQ);
    for (int64_t g = 0; g < G; ++g) {
      float* dxg = dxn + g * Cg * HW;
      gemm(inner, true, false, CRS, PQ, Kg, w + g * Kg * CRS, CRS, dyn + g * Kg * PQ, PQ, 0.f,
           pointwise ? dxg : col, PQ);
      if (!pointwise) {
        for_channels(p, Cg, inner, [&](int64_t c0, int64_t c1) { col2im(p, col, c0, c1, dxg); });
      }
    }
    if (b) {
      for (int64_t c = 0; c < p.C; ++c) {
        float* dxc = dxn + c * HW;
        for (int64_t i = 0; i < HW; ++i) dxc[i] += b[c];
      }
    }
  });
}

// dy is (N,K,P,Q), x is (N,C,H,W), dw is (K,C/g,R,S).
// dw_g = sum_n dy_g[n] (K/g, PQ) . col_g[n]^T (PQ, C/g*R*S). The batch is split into
// min(N, kWeightChunks) chunks; each sums its samples in order into its own buffer (chunk 0 into
// dw), then the buffers are added in chunk order: the same bits for any thread count.
void conv2d_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, CRS = Cg * p.R * p.S, wsize = p.K * CRS;
  if (p.N == 0) {
    std::fill(dw, dw + wsize, 0.f);
    return;
  }
  switch (choose_algo(p, Pass::backward_weight)) {
    case Algo::wide: return wide_backward_weight(p, dy, x, dw);
    case Algo::filters: return filters_backward_weight(p, dy, x, dw);
    case Algo::winograd: return winograd_backward_weight(p, dy, x, dw);
    case Algo::winograd5: return winograd5_backward_weight(p, dy, x, dw);
    case Algo::depthwise: return depthwise_backward_weight(p, dy, x, dw);
    case Algo::dilated: return dilated_backward_weight(p, dy, x, dw);
    case Algo::gemm: break;
  }
  const bool pointwise = is_pointwise(p);
  const int64_t chunks = std::min(p.N, kWeightChunks);
  static thread_local std::vector<float> partial_ws;
  if ((int64_t)partial_ws.size() < (chunks - 1) * wsize) partial_ws.resize((chunks - 1) * wsize);
  float* partials = partial_ws.data();

  auto chunk = [&](int64_t ci, bool inner) {
    float* acc = ci == 0 ? dw : partials + (ci - 1) * wsize;
    const int64_t n0 = ci * p.N / chunks, n1 = (ci + 1) * p.N / chunks;
    float* col = pointwise ? nullptr : col_workspace(CRS * PQ);
    for (int64_t n = n0; n < n1; ++n) {
      const float* xn = x + n * p.C * HW;
      const float* dyn = dy + n * p.K * PQ;
      for (int64_t g = 0; g < G; ++g) {
        const float* xg = xn + g * Cg * HW;
        if (!pointwise) {
        for_channels(p, Cg, inner, [&](int64_t c0, int64_t c1) { im2col(p, xg, c0, c1, col); });
      }
        gemm(inner, false, true, Kg, CRS, PQ, dyn + g * Kg * PQ, PQ, pointwise ? xg : col, PQ,
             n == n0 ? 0.f : 1.f, acc + g * Kg * CRS, CRS);
      }
    }
  };
  if (chunks > 1) {
    parallel_for(0, chunks, 0, [&](int64_t c0, int64_t c1) {
      for (int64_t ci = c0; ci < c1; ++ci) chunk(ci, false);
    });
  } else {
    chunk(0, true);
  }
  if (chunks > 1) {
    parallel_for(0, wsize, kParallelGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t ci = 1; ci < chunks; ++ci) {
        const float* part = partials + (ci - 1) * wsize;
        for (int64_t i = i0; i < i1; ++i) dw[i] += part[i];
      }
    });
  }
}

// dy is (N,K,L), db is (K,): db[k] = sum over n of (the 8-lane double sum over l of dy[n,k,l]).
void conv_backward_bias(const float* dy, int64_t N, int64_t K, int64_t L, float* db) {
  const int64_t per_k = std::max<int64_t>(1, N * L);
  parallel_for(0, K, std::max<int64_t>(1, kParallelGrain / per_k), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double s = 0.0;
      for (int64_t n = 0; n < N; ++n) {
        const float* row = dy + (n * K + k) * L;
        s += vec::sum_f64(L, [&](int64_t l) { return static_cast<double>(row[l]); });
      }
      db[k] = static_cast<float>(s);
    }
  });
}

// The algorithm choose_algo() picks for pass 0 (forward), 1 (backward-data), 2 (backward-weight):
// "gemm", "wide", "filters", "winograd", "depthwise" or "dilated-winograd". For tests and benchmarks.
const char* conv2d_algorithm(const Conv2dParams& p, int pass) {
  switch (choose_algo(p, static_cast<Pass>(pass))) {
    case Algo::wide: return "wide";
    case Algo::filters: return "filters";
    case Algo::winograd: return "winograd";
    case Algo::winograd5: return "winograd-5x5";
    case Algo::depthwise: return "depthwise";
    case Algo::dilated: return "dilated-winograd";
    case Algo::gemm: break;
  }
  return "gemm";
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
