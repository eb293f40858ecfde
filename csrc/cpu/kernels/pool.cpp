// Pooling kernels. Every kernel runs in parallel over (n,c) planes: each plane's outputs (and, in
// backward, its dx accumulations in window scan order) belong to one thread, so results do not
// depend on the thread count.
//
// Fast paths: for the common window widths and strides (kw, sw) in kRowShapes, the outputs whose
// windows lie inside x (no padding, no clipping) are computed a whole output row at a time by loops
// over the outputs that the compiler vectorizes; the borders take the general per-window code. The
// fast loops do the same float operations in the same order as the general code (window scan order,
// max by `v > m || isnan(v)`, sums from 0 then divided), so results are bit-identical. With
// non-overlapping windows (kernel == stride, no leading padding) the backward writes each dx element
// once instead of zero-filling and scattering.
#include "cpu/kernels/pool.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "cpu/vec/math.h"
#include "cpu/vec/vec.h"

#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

// Planes per parallel grain, so that tiny planes are not split across threads one by one.
int64_t plane_grain(int64_t plane_size) { return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, plane_size)); }

// The window of output (oh, ow) clipped to x: rows [h0,h1), columns [w0,w1).
struct Window {
  int64_t h0, h1, w0, w1;
};

inline Window clipped_window(const Pool2dParams& p, int64_t oh, int64_t ow) {
  const int64_t hs = oh * p.sh - p.pad_top, ws = ow * p.sw - p.pad_left;
  return {std::max<int64_t>(hs, 0), std::min(hs + p.kh, p.H), std::max<int64_t>(ws, 0), std::min(ws + p.kw, p.W)};
}

// Flat index in the plane of the window's maximum: the first maximum in row-major scan order, or
// the last NaN (as PyTorch: `val > max || isnan(val)`); -1 for a window with no element of x.
inline int64_t window_argmax(const float* xp, int64_t W, const Window& win, float& max_out) {
  float m = -std::numeric_limits<float>::infinity();
  int64_t idx = -1;
  for (int64_t ih = win.h0; ih < win.h1; ++ih)
    for (int64_t iw = win.w0; iw < win.w1; ++iw) {
      const float v = xp[ih * W + iw];
      if (v > m || v != v || idx < 0) {
        m = v;
        idx = ih * W + iw;
      }
    }
  max_out = m;
  return idx;
}

// The avg-pool divisor of output (oh, ow): with count_include_pad the window clipped to the padded
// input (before clipping to x), else the number of elements of x inside it.
inline float avg_divisor(const Pool2dParams& p, int64_t oh, int64_t ow, const Window& win) {
  if (!p.count_include_pad) return static_cast<float>((win.h1 - win.h0) * (win.w1 - win.w0));
  const int64_t hs = oh * p.sh - p.pad_top, ws = ow * p.sw - p.pad_left;
  const int64_t he = std::min(hs + p.kh, p.H + p.pad_bottom), we = std::min(ws + p.kw, p.W + p.pad_right);
  return static_cast<float>((he - hs) * (we - ws));
}

// ---- general per-window code (borders, padding, ceil_mode, uncommon window shapes) ----

inline void max_window_forward(const float* xp, float* yp, const Pool2dParams& p, int64_t oh, int64_t ow) {
  float m;
  window_argmax(xp, p.W, clipped_window(p, oh, ow), m);
  yp[oh * p.Q + ow] = m;
}

inline void max_window_backward(const float* xp, const float* dyp, float* dxp, const Pool2dParams& p, int64_t oh,
                                int64_t ow) {
  float m;
  const int64_t idx = window_argmax(xp, p.W, clipped_window(p, oh, ow), m);
  if (idx >= 0) dxp[idx] += dyp[oh * p.Q + ow];
}

inline void avg_window_forward(const float* xp, float* yp, const Pool2dParams& p, int64_t oh, int64_t ow) {
  const Window win = clipped_window(p, oh, ow);
  float sum = 0.0f;
  for (int64_t ih = win.h0; ih < win.h1; ++ih)
    for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += xp[ih * p.W + iw];
  const bool empty = win.h0 >= win.h1 || win.w0 >= win.w1;
  yp[oh * p.Q + ow] = empty ? 0.0f : sum / avg_divisor(p, oh, ow, win);
}

inline void avg_window_backward(const float* dyp, float* dxp, const Pool2dParams& p, int64_t oh, int64_t ow) {
  const Window win = clipped_window(p, oh, ow);
  if (win.h0 >= win.h1 || win.w0 >= win.w1) return;
  const float g = dyp[oh * p.Q + ow] / avg_divisor(p, oh, ow, win);
  for (int64_t ih = win.h0; ih < win.h1; ++ih)
    for (int64_t iw = win.w0; iw < win.w1; ++iw) dxp[ih * p.W + iw] += g;
}

// ---- whole-row fast paths --------------------------------------------------------------------

// Outputs [lo, hi) along one dimension whose windows lie inside x (size elements, pad before).
struct Range {
  int64_t lo, hi;
  bool empty() const { return lo >= hi; }
};

inline Range interior(int64_t out, int64_t k, int64_t s, int64_t pad, int64_t size) {
  const int64_t lo = (pad + s - 1) / s;
  const int64_t hi = size + pad >= k ? std::min(out, (size + pad - k) / s + 1) : 0;
  return {std::min(lo, out), std::max(std::min(lo, out), hi)};
}

// The max rule of window_argmax for a candidate v after the window's first element.
inline bool takes(float v, float m) { return v > m || v != v; }

// Outputs per block of the row loops (their m / k scratch stays in L1).
constexpr int64_t kRowBlock = 256;

// n outputs of one row, window KW wide and kh high, output o's window starting at x0 + o*SW:
// m = the window's max, k = its scan index (r*KW + c) by window_argmax's rule. x0 rows are W apart.
// KH > 0 (== kh) takes the whole window in one pass over the outputs; KH == 0 goes row by row,
// keeping the partial results in m and k.
template <int KH, int KW, int SW, bool kArg>
void max_row(const float* __restrict x0, int64_t W, int64_t kh, float* __restrict m, int32_t* __restrict k,
             int64_t n) {
  if constexpr (KH > 0) {
    for (int64_t o = 0; o < n; ++o) {
      float mo = x0[o * SW];
      int32_t ko = 0;
#pragma GCC unroll 16
      for (int j = 1; j < KH * KW; ++j) {
        const float v = x0[(j / KW) * W + o * SW + j % KW];
        const bool t = takes(v, mo);
        mo = vec::select(t, v, mo);
        if (kArg) ko = t ? j : ko;
      }
      m[o] = mo;
      if (kArg) k[o] = ko;
    }
    return;
  }
  for (int64_t o = 0; o < n; ++o) {
    float mo = x0[o * SW];
    int32_t ko = 0;
    for (int c = 1; c < KW; ++c) {
      const float v = x0[o * SW + c];
      const bool t = takes(v, mo);
      mo = vec::select(t, v, mo);
      if (kArg) ko = t ? c : ko;
    }
    m[o] = mo;
    if (kArg) k[o] = ko;
  }
  for (int64_t r = 1; r < kh; ++r) {
    const float* __restrict xr = x0 + r * W;
    for (int64_t o = 0; o < n; ++o) {
      float mo = m[o];
      int32_t ko = kArg ? k[o] : 0;
      for (int c = 0; c < KW; ++c) {
        const float v = xr[o * SW + c];
        const bool t = takes(v, mo);
        mo = vec::select(t, v, mo);
        if (kArg) ko = t ? static_cast<int32_t>(r * KW + c) : ko;
      }
      m[o] = mo;
      if (kArg) k[o] = ko;
    }
  }
}

// Window sums in scan order (from 0.0f, as avg_window_forward), then divided by div; KH as in max_row.
template <int KH, int KW, int SW>
void avg_row(const float* __restrict x0, int64_t W, int64_t kh, float div, float* __restrict y, int64_t n) {
  if constexpr (KH > 0) {
    for (int64_t o = 0; o < n; ++o) {
      float sum = 0.0f;
#pragma GCC unroll 16
      for (int j = 0; j < KH * KW; ++j) sum += x0[(j / KW) * W + o * SW + j % KW];
      y[o] = sum / div;
    }
    return;
  }
  for (int64_t o = 0; o < n; ++o) {
    float sum = 0.0f;
    for (int c = 0; c < KW; ++c) sum += x0[o * SW + c];
    y[o] = sum;
  }
  for (int64_t r = 1; r < kh; ++r) {
    const float* __restrict xr = x0 + r * W;
    for (int64_t o = 0; o < n; ++o) {
      float sum = y[o];
      for (int c = 0; c < KW; ++c) sum += xr[o * SW + c];
      y[o] = sum;
    }
  }
  for (int64_t o = 0; o < n; ++o) y[o] = y[o] / div;
}

// Non-overlapping windows (SW == KW): dx of n whole windows, rows W apart: dy[o] (as 0 + dy, what
// the scatter into zeros gives) at scan index k[o] of window o, 0 elsewhere.
template <int KW>
void max_row_backward(const int32_t* __restrict k, const float* __restrict dy, float* __restrict dx0, int64_t W,
                      int64_t kh, int64_t n) {
  for (int64_t r = 0; r < kh; ++r) {
    float* __restrict dxr = dx0 + r * W;
    for (int64_t o = 0; o < n; ++o) {
      const float g = 0.0f + dy[o];
      for (int c = 0; c < KW; ++c) dxr[o * KW + c] = k[o] == static_cast<int32_t>(r * KW + c) ? g : 0.0f;
    }
  }
}

// Non-overlapping windows: every element of window o gets 0 + dy[o] / div.
template <int KW>
void avg_row_backward(const float* __restrict dy, float div, float* __restrict dx0, int64_t W, int64_t kh, int64_t n) {
  for (int64_t r = 0; r < kh; ++r) {
    float* __restrict dxr = dx0 + r * W;
    for (int64_t o = 0; o < n; ++o) {
      const float g = 0.0f + dy[o] / div;
      for (int c = 0; c < KW; ++c) dxr[o * KW + c] = g;
    }
  }
}

// Overlapping windows: adds dy[o] at scan index k[o] of window o, in increasing o (scalar: windows
// share elements).
template <int KW, int SW>
void max_row_scatter(const int32_t* k, const float* dy, float* dx0, int64_t W, int64_t n) {
  for (int64_t o = 0; o < n; ++o) dx0[o * SW + (k[o] / KW) * W + k[o] % KW] += dy[o];
}

using MaxRowFn = void (*)(const float*, int64_t, int64_t, float*, int32_t*, int64_t);
using AvgRowFn = void (*)(const float*, int64_t, int64_t, float, float*, int64_t);
using MaxRowScatterFn = void (*)(const int32_t*, const float*, float*, int64_t, int64_t);
using MaxRowBackwardFn = void (*)(const int32_t*, const float*, float*, int64_t, int64_t, int64_t);
using AvgRowBackwardFn = void (*)(const float*, float, float*, int64_t, int64_t, int64_t);

// The row kernels for one window width / stride; null members where (kw, sw) has none.
struct RowKernels {
  MaxRowFn max = nullptr, argmax = nullptr;
  AvgRowFn avg = nullptr;
  MaxRowScatterFn max_scatter = nullptr;
  MaxRowBackwardFn max_backward = nullptr;  // kernel == stride only
  AvgRowBackwardFn avg_backward = nullptr;  // kernel == stride only
};

template <int KH, int KW, int SW>
RowKernels row_kernels() {
  RowKernels r;
  r.max = max_row<KH, KW, SW, false>;
  r.argmax = max_row<KH, KW, SW, true>;
  r.avg = avg_row<KH, KW, SW>;
  r.max_scatter = max_row_scatter<KW, SW>;
  if constexpr (KW == SW) {
    r.max_backward = max_row_backward<KW>;
    r.avg_backward = avg_row_backward<KW>;
  }
  return r;
}

template <int KW, int SW>
RowKernels row_kernels(int64_t kh) {
  return kh == KW ? row_kernels<KW, KW, SW>() : row_kernels<0, KW, SW>();
}

// (kw, sw) with row kernels: 2x2/2 and 3x3/3 (LeNet, VGG, ResNet), 3x3/2 (AlexNet, GoogLeNet), and
// stride 1 (GoogLeNet's 3x3/1 pool branches); square windows in one pass, any other height by rows.
RowKernels find_row_kernels(int64_t kh, int64_t kw, int64_t sw) {
  if (kw == 2 && sw == 2) return row_kernels<2, 2>(kh);
  if (kw == 3 && sw == 3) return row_kernels<3, 3>(kh);
  if (kw == 3 && sw == 2) return row_kernels<3, 2>(kh);
  if (kw == 2 && sw == 1) return row_kernels<2, 1>(kh);
  if (kw == 3 && sw == 1) return row_kernels<3, 1>(kh);
  return {};
}

// The geometry every plane shares: interior output ranges and the row kernels.
struct Plan {
  Range rows, cols;
  RowKernels rk;
  bool disjoint;  // kernel == stride and no leading padding: windows tile x from its corner
};

Plan make_plan(const Pool2dParams& p) {
  Plan plan{interior(p.P, p.kh, p.sh, p.pad_top, p.H), interior(p.Q, p.kw, p.sw, p.pad_left, p.W),
            find_row_kernels(p.kh, p.kw, p.sw), false};
  plan.disjoint = p.kh == p.sh && p.kw == p.sw && p.pad_top == 0 && p.pad_left == 0 && plan.rk.max_backward;
  return plan;
}

// Calls border(ow) for the outputs of row oh outside [cols.lo, cols.hi) and fast(ow0, n) for blocks
// of the interior, in increasing ow; rows outside the interior go entirely to border.
template <typename Border, typename Fast>
inline void for_row(const Plan& plan, const Pool2dParams& p, int64_t oh, bool has_fast, const Border& border,
                    const Fast& fast) {
  const bool inside = has_fast && oh >= plan.rows.lo && oh < plan.rows.hi && !plan.cols.empty();
  if (!inside) {
    for (int64_t ow = 0; ow < p.Q; ++ow) border(ow);
    return;
  }
  for (int64_t ow = 0; ow < plan.cols.lo; ++ow) border(ow);
  for (int64_t ow = plan.cols.lo; ow < plan.cols.hi; ow += kRowBlock) fast(ow, std::min(kRowBlock, plan.cols.hi - ow));
  for (int64_t ow = plan.cols.hi; ow < p.Q; ++ow) border(ow);
}

// The first x element of output (oh, ow)'s window (inside x).
inline const float* window_start(const float* xp, const Pool2dParams& p, int64_t oh, int64_t ow) {
  return xp + (oh * p.sh - p.pad_top) * p.W + (ow * p.sw - p.pad_left);
}

// Disjoint windows: Pf x Qf whole windows from the corner; the rest of dx (right and bottom strips,
// where ceil_mode's clipped windows or nothing fall) is zeroed, then the clipped windows scatter.
template <typename Whole, typename Clipped>
inline void disjoint_backward(const Pool2dParams& p, float* dxp, const Whole& whole_row, const Clipped& clipped) {
  const int64_t Pf = std::min(p.P, p.H / p.kh), Qf = std::min(p.Q, p.W / p.kw);
  for (int64_t oh = 0; oh < Pf; ++oh) {
    float* dx0 = dxp + oh * p.kh * p.W;
    for (int64_t ow = 0; ow < Qf; ow += kRowBlock) whole_row(oh, ow, std::min(kRowBlock, Qf - ow));
    for (int64_t r = 0; r < p.kh; ++r) std::fill(dx0 + r * p.W + Qf * p.kw, dx0 + (r + 1) * p.W, 0.0f);
  }
  std::fill(dxp + Pf * p.kh * p.W, dxp + p.H * p.W, 0.0f);
  for (int64_t oh = 0; oh < p.P; ++oh)
    for (int64_t ow = oh < Pf ? Qf : 0; ow < p.Q; ++ow) clipped(oh, ow);
}

// ---- 2x2 stride 2 windows tiling the plane exactly (LeNet, VGG): 8 windows per vector ---------
// Each vector step takes 8 windows of one output row: the even and odd columns of both input rows,
// split out of two loads per row. The window's winner is a tournament, (a vs b), (c vs d), then
// the two winners, each match by `takes` with the earlier element holding ties: that is the last
// NaN if any, else the first maximum, the element window_argmax picks, so the bits are the same.
// Rows of Q >= 8 outputs run as whole vectors, the last one shifted back to end at Q (outputs
// computed twice get the same value); in backward, rows of 4..7 outputs run as one vector whose
// two halves overlap; shorter rows run the same tournament window by window.

typedef int32_t I32x8 __attribute__((vector_size(32)));

bool is_2x2_tiling(const Pool2dParams& p) {
  return p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.pad_top == 0 && p.pad_left == 0 &&
         p.H == 2 * p.P && p.W == 2 * p.Q;
}

// Short rows (forward: Q < 8, LeNet's second pool is 5 wide; backward: Q < 4): the same
// tournament one window at a time, inline (the general row kernels cost two indirect calls per row
// of 5 windows). Returns the window's max; *at = its scan index (0..3: a, b, c, d).
inline float window2x2(const float* r0, const float* r1, int* at) {
  const bool right_top = takes(r0[1], r0[0]), right_bottom = takes(r1[1], r1[0]);
  const float top = vec::select(right_top, r0[1], r0[0]), bottom = vec::select(right_bottom, r1[1], r1[0]);
  const bool down = takes(bottom, top);
  *at = down * (2 + right_bottom) + !down * right_top;  // branch-free: random data mispredicts
  return vec::select(down, bottom, top);
}

inline I32x8 takes8(vec::F32x8 v, vec::F32x8 m) { return (v > m) | (v != v); }

typedef float F32x4 __attribute__((vector_size(16)));

inline F32x4 load4(const float* p) {
  F32x4 v;
  std::memcpy(&v, p, sizeof v);  // an unaligned 128-bit load
  return v;
}

struct Windows8 {
  vec::F32x8 max;
  I32x8 right_top, right_bottom, bottom;  // b beat a; d beat c; (c vs d) beat (a vs b)
};

// The tournament of 8 windows whose input rows are t0:t1 (16 values) and u0:u1. The even / odd
// columns are split within 128-bit halves (one shufps each, not lane-crossing permutes), so the
// lanes hold windows 0,1,4,5,2,3,6,7 of the 16 columns: an unpack of two such vectors puts them
// back in column order (backward), a 64-bit permute in window order (max8).
inline Windows8 windows8(vec::F32x8 t0, vec::F32x8 t1, vec::F32x8 u0, vec::F32x8 u1) {
  using vec::F32x8;
  const I32x8 even{0, 2, 8, 10, 4, 6, 12, 14}, odd{1, 3, 9, 11, 5, 7, 13, 15};
  const F32x8 a = __builtin_shuffle(t0, t1, even), b = __builtin_shuffle(t0, t1, odd);
  const F32x8 c = __builtin_shuffle(u0, u1, even), d = __builtin_shuffle(u0, u1, odd);
  Windows8 w;
  w.right_top = takes8(b, a);
  w.right_bottom = takes8(d, c);
  const F32x8 top = w.right_top ? b : a, bottom = w.right_bottom ? d : c;
  w.bottom = takes8(bottom, top);
  w.max = w.bottom ? bottom : top;
  return w;
}

// The 8 windows' maxima in window order, for the forward.
inline vec::F32x8 max8(vec::F32x8 t0, vec::F32x8 t1, vec::F32x8 u0, vec::F32x8 u1) {
  const I32x8 order{0, 1, 4, 5, 2, 3, 6, 7};
  return __builtin_shuffle(windows8(t0, t1, u0, u1).max, order);
}

template <typename F>
inline void for_vector_blocks(int64_t Q, const F& f) {
  for (int64_t o = 0;; o += 8) {
    const int64_t o0 = std::min(o, Q - 8);
    f(o0);
    if (o0 + 8 >= Q) return;
  }
}

void max_pool_2x2_forward(const float* x, float* y, const Pool2dParams& p) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  parallel_for(0, p.N * p.C, plane_grain(HW + PQ), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane)
      for (int64_t oh = 0; oh < p.P; ++oh) {
        const float* r0 = x + plane * HW + 2 * oh * p.W;
        float* yr = y + plane * PQ + oh * p.Q;
        if (p.Q < 8) {
          int at;
          for (int64_t o = 0; o < p.Q; ++o) yr[o] = window2x2(r0 + 2 * o, r0 + p.W + 2 * o, &at);
          continue;
        }
        const float* r1 = r0 + p.W;
        for_vector_blocks(p.Q, [&](int64_t o) {
          vec::store8(yr + o, max8(vec::load8(r0 + 2 * o), vec::load8(r0 + 2 * o + 8), vec::load8(r1 + 2 * o),
                                   vec::load8(r1 + 2 * o + 8)));
        });
      }
  });
}

}  // namespace

// For conv2d_pool_forward: y (P,Q) = the 2x2 stride-2 max pool of x + bias, x being 2P rows of 2Q
// values at pitch ldx (a conv's wide rows, before the bias). The bias is added before the
// tournament, so y has the bits of adding it to every element, then max_pool_2x2_forward.
void max_pool_2x2_rows_forward(const float* x, int64_t ldx, int64_t P, int64_t Q, float bias,
                               float* y) {
  using vec::F32x8;
  const F32x8 bv = vec::splat8(bias);
  for (int64_t oh = 0; oh < P; ++oh, y += Q) {
    const float* r0 = x + 2 * oh * ldx;
    const float* r1 = r0 + ldx;
    if (Q < 8) {
      for (int64_t o = 0; o < Q; ++o) {
        const float a[2] = {r0[2 * o] + bias, r0[2 * o + 1] + bias};
        const float c[2] = {r1[2 * o] + bias, r1[2 * o + 1] + bias};
        int at;
        y[o] = window2x2(a, c, &at);
      }
      continue;
    }
    for_vector_blocks(Q, [&](int64_t o) {
      vec::store8(y + o, max8(vec::load8(r0 + 2 * o) + bv, vec::load8(r0 + 2 * o + 8) + bv,
                              vec::load8(r1 + 2 * o) + bv, vec::load8(r1 + 2 * o + 8) + bv));
    });
  }
}

// For conv2d_pool_forward after the "filters" conv: y (P,Q,C) = the 2x2 stride-2 max pool of
// x (2P,2Q,C) + bias (C, or null: nothing added), C a multiple of 8, channels-last (a vector of 8
// channels per step). The bias is added before the tournament of window2x2: the bits of adding it
// to every element, then max_pool_2x2_forward on the channel planes.
void max_pool_2x2_channels_last_forward(const float* x, int64_t P, int64_t Q, int64_t C,
                                        const float* bias, float* y) {
  using vec::F32x8;
  for (int64_t c = 0; c < C; c += 8) {
    const F32x8 bv = bias ? vec::load8(bias + c) : vec::splat8(0.f);
    for (int64_t oh = 0; oh < P; ++oh)
      for (int64_t ow = 0; ow < Q; ++ow) {
        const float* r0 = x + ((2 * oh) * 2 * Q + 2 * ow) * C + c;
        const float* r1 = r0 + 2 * Q * C;
        F32x8 a = vec::load8(r0), b = vec::load8(r0 + C), cc = vec::load8(r1), d = vec::load8(r1 + C);
        if (bias) {
          a += bv;
          b += bv;
          cc += bv;
          d += bv;
        }
        const F32x8 top = takes8(b, a) ? b : a, bottom = takes8(d, cc) ? d : cc;
        vec::store8(y + (oh * Q + ow) * C + c, takes8(bottom, top) ? bottom : top);
      }
  }
}

namespace {

// dx of 8 windows of one row pair, 0 + dy at each window's winner (as the scatter into zeros), 0
// elsewhere. The rows' 16 values are r[0..8) and r[s..s+8), windows 0..3 and h..h+3 (h = s/2) of
// the row: s == 8 for 8 consecutive windows; s < 8 for a whole row of 4..7 windows, whose two
// halves overlap (a window in both gets the same result twice, and both stores write the same
// bits). dyr[0..4) and dyr[h..h+4) are their dy. Only in-bounds loads and stores.
inline void backward8(const float* r0, const float* r1, int64_t s, const float* dyr, float* d0, float* d1) {
  using vec::F32x8;
  const I32x8 lo{0, 8, 1, 9, 4, 12, 5, 13}, hi{2, 10, 3, 11, 6, 14, 7, 15};  // unpcklps / unpckhps
  const Windows8 w = windows8(vec::load8(r0), vec::load8(r0 + s), vec::load8(r1), vec::load8(r1 + s));
  const F32x8 zero = vec::splat8(0.0f);
  // dy in the lanes' window order: 0, 1, h, h+1 | 2, 3, h+2, h+3
  const F32x8 g = zero + __builtin_shufflevector(load4(dyr), load4(dyr + s / 2), 0, 1, 4, 5, 2, 3, 6, 7);
  const F32x8 top = w.bottom ? zero : g, bottom = w.bottom ? g : zero;
  const F32x8 da = w.right_top ? zero : top, db = w.right_top ? top : zero;
  const F32x8 dc = w.right_bottom ? zero : bottom, dd = w.right_bottom ? bottom : zero;
  vec::store8(d0, __builtin_shuffle(da, db, lo));
  vec::store8(d0 + s, __builtin_shuffle(da, db, hi));
  vec::store8(d1, __builtin_shuffle(dc, dd, lo));
  vec::store8(d1 + s, __builtin_shuffle(dc, dd, hi));
}

// The planes' row pairs follow each other: row pair i is x and dx rows 2i, 2i+1 (at 2iW) and dy
// row i (at iQ), whatever plane it is in. Rows of Q >= 8 windows go by blocks of 8 (the last one
// shifted back to end at Q), rows of 4..7 in one overlapping block, shorter rows window by window.
void max_pool_2x2_backward(const float* dy, const float* x, float* dx, const Pool2dParams& p) {
  parallel_for(0, p.N * p.C, plane_grain(p.H * p.W + p.P * p.Q), [&](int64_t b, int64_t e) {
    const int64_t W = p.W, P = p.P, Q = p.Q;  // locals: the vector stores could alias p
    for (int64_t i = b * P; i < e * P; ++i) {
      const float* r0 = x + 2 * i * W;
      const float* dyr = dy + i * Q;
      float* d0 = dx + 2 * i * W;
      if (Q >= 8) {
        for_vector_blocks(Q, [&](int64_t o) {
          backward8(r0 + 2 * o, r0 + W + 2 * o, 8, dyr + o, d0 + 2 * o, d0 + W + 2 * o);
        });
      } else if (Q >= 4) {
        backward8(r0, r0 + W, 2 * Q - 8, dyr, d0, d0 + W);
      } else {
        for (int64_t o = 0; o < Q; ++o) {
          int at;
          window2x2(r0 + 2 * o, r0 + W + 2 * o, &at);
          const float g = 0.0f + dyr[o];
          float* dw = d0 + 2 * o;
          dw[0] = vec::select(at == 0, g, 0.0f);
          dw[1] = vec::select(at == 1, g, 0.0f);
          dw[W] = vec::select(at == 2, g, 0.0f);
          dw[W + 1] = vec::select(at == 3, g, 0.0f);
        }
      }
    }
  });
}

}  // namespace

// x is (N,C,H,W), y is (N,C,P,Q).
void max_pool2d_forward(const float* x, float* y, const Pool2dParams& p) {
  if (is_2x2_tiling(p)) return max_pool_2x2_forward(x, y, p);
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  const Plan plan = make_plan(p);
  parallel_for(0, p.N * p.C, plane_grain(HW + PQ), [&](int64_t b, int64_t e) {
    int32_t unused[1];
    for (int64_t plane = b; plane < e; ++plane) {
      const float* xp = x + plane * HW;
      float* yp = y + plane * PQ;
      for (int64_t oh = 0; oh < p.P; ++oh)
        for_row(
            plan, p, oh, plan.rk.max, [&](int64_t ow) { max_window_forward(xp, yp, p, oh, ow); },
            [&](int64_t ow, int64_t n) {
              plan.rk.max(window_start(xp, p, oh, ow), p.W, p.kh, yp + oh * p.Q + ow, unused, n);
            });
    }
  });
}

// dy is (N,C,P,Q), x and dx are (N,C,H,W). The argmax of each window is recomputed from x.
void max_pool2d_backward(const float* dy, const float* x, float* dx, const Pool2dParams& p) {
  if (is_2x2_tiling(p)) return max_pool_2x2_backward(dy, x, dx, p);
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  const Plan plan = make_plan(p);
  parallel_for(0, p.N * p.C, plane_grain(HW + PQ), [&](int64_t b, int64_t e) {
    float m[kRowBlock];
    int32_t k[kRowBlock];
    for (int64_t plane = b; plane < e; ++plane) {
      const float* xp = x + plane * HW;
      const float* dyp = dy + plane * PQ;
      float* dxp = dx + plane * HW;
      const auto border = [&](int64_t oh, int64_t ow) { max_window_backward(xp, dyp, dxp, p, oh, ow); };
      if (plan.disjoint) {
        disjoint_backward(
            p, dxp,
            [&](int64_t oh, int64_t ow, int64_t n) {
              const float* x0 = window_start(xp, p, oh, ow);
              plan.rk.argmax(x0, p.W, p.kh, m, k, n);
              plan.rk.max_backward(k, dyp + oh * p.Q + ow, dxp + (x0 - xp), p.W, p.kh, n);
            },
            border);
        continue;
      }
      // overlapping windows add up in (oh, ow) order, as the general code does
      std::fill(dxp, dxp + HW, 0.0f);
      for (int64_t oh = 0; oh < p.P; ++oh)
        for_row(
            plan, p, oh, plan.rk.argmax, [&](int64_t ow) { border(oh, ow); },
            [&](int64_t ow, int64_t n) {
              const float* x0 = window_start(xp, p, oh, ow);
              plan.rk.argmax(x0, p.W, p.kh, m, k, n);
              plan.rk.max_scatter(k, dyp + oh * p.Q + ow, dxp + (x0 - xp), p.W, n);
            });
    }
  });
}

// x is (N,C,H,W), y is (N,C,P,Q).
void avg_pool2d_forward(const float* x, float* y, const Pool2dParams& p) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  const Plan plan = make_plan(p);
  const float div = static_cast<float>(p.kh * p.kw);  // of every window inside x
  parallel_for(0, p.N * p.C, plane_grain(HW + PQ), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const float* xp = x + plane * HW;
      float* yp = y + plane * PQ;
      for (int64_t oh = 0; oh < p.P; ++oh)
        for_row(
            plan, p, oh, plan.rk.avg, [&](int64_t ow) { avg_window_forward(xp, yp, p, oh, ow); },
            [&](int64_t ow, int64_t n) {
              plan.rk.avg(window_start(xp, p, oh, ow), p.W, p.kh, div, yp + oh * p.Q + ow, n);
            });
    }
  });
}

// dy is (N,C,P,Q), dx is (N,C,H,W).
void avg_pool2d_backward(const float* dy, float* dx, const Pool2dParams& p) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  const Plan plan = make_plan(p);
  const float div = static_cast<float>(p.kh * p.kw);
  parallel_for(0, p.N * p.C, plane_grain(HW + PQ), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const float* dyp = dy + plane * PQ;
      float* dxp = dx + plane * HW;
      const auto border = [&](int64_t oh, int64_t ow) { avg_window_backward(dyp, dxp, p, oh, ow); };
      if (plan.disjoint) {
        disjoint_backward(
            p, dxp,
            [&](int64_t oh, int64_t ow, int64_t n) {
              plan.rk.avg_backward(dyp + oh * p.Q + ow, div, dxp + oh * p.kh * p.W + ow * p.kw, p.W, p.kh, n);
            },
            border);
        continue;
      }
      std::fill(dxp, dxp + HW, 0.0f);
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) border(oh, ow);
    }
  });
}

// x is (N*C, HW), y is (N*C). Each plane is summed in double over 8 fixed lanes.
void global_avg_pool2d_forward(const float* x, float* y, int64_t NC, int64_t HW) {
  constexpr int64_t kLanes = 8;
  parallel_for(0, NC, plane_grain(HW), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const float* xp = x + plane * HW;
      double lane[kLanes] = {};
      int64_t i = 0;
      for (; i + kLanes <= HW; i += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) lane[l] += xp[i + l];
      for (; i < HW; ++i) lane[0] += xp[i];
      double sum = 0.0;
      for (int64_t l = 0; l < kLanes; ++l) sum += lane[l];
      y[plane] = static_cast<float>(sum / static_cast<double>(HW));
    }
  });
}

// dy is (N*C), dx is (N*C, HW).
void global_avg_pool2d_backward(const float* dy, float* dx, int64_t NC, int64_t HW) {
  const float inv = 1.0f / static_cast<float>(HW);
  parallel_for(0, NC, plane_grain(HW), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const float g = dy[plane] * inv;
      float* dxp = dx + plane * HW;
      for (int64_t i = 0; i < HW; ++i) dxp[i] = g;
    }
  });
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
