// Window geometry of the CUDA pooling kernels as __host__ __device__ inline functions, checked by
// a plain C++ driver in tests/test_cuda_ops_math.py. The rules are csrc/cpu/kernels/pool.cpp's:
// windows clipped to x, max pooling takes the first maximum in row-major scan order or the last NaN
// (PyTorch's `v > max || isnan(v)`), avg pooling divides by the window clipped to the padded input
// (count_include_pad) or by the number of x elements in it.
//
// Plain C++: compiles with g++ (no CUDA headers) and with nvcc.
#pragma once
#include <cstdint>

#include "cuda/kernels/elementwise_math.h"  // FASTCNN_HD

namespace fastcnn::cuda {

// x is (N,C,H,W), y is (N,C,P,Q); padding (top, bottom, left, right) may be asymmetric.
struct PoolGeometry {
  int64_t N, C, H, W, P, Q;
  int64_t kh, kw, sh, sw;
  int64_t pad_top, pad_bottom, pad_left, pad_right;
  bool count_include_pad;  // avg only
};

namespace pool {

FASTCNN_HD int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
FASTCNN_HD int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

// The window of output (oh, ow) clipped to x: rows [h0,h1), columns [w0,w1).
struct Window {
  int64_t h0, h1, w0, w1;
};

FASTCNN_HD Window clipped_window(const PoolGeometry& p, int64_t oh, int64_t ow) {
  const int64_t hs = oh * p.sh - p.pad_top, ws = ow * p.sw - p.pad_left;
  return {imax(hs, 0), imin(hs + p.kh, p.H), imax(ws, 0), imin(ws + p.kw, p.W)};
}

// Flat index in the plane xp (W wide) of the window's maximum, by the scan rule above; -1 for a
// window with no element of x (max_out is then -inf).
FASTCNN_HD int64_t window_argmax(const float* xp, int64_t W, const Window& win, float& max_out) {
  float m = -INFINITY;
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

FASTCNN_HD float avg_divisor(const PoolGeometry& p, int64_t oh, int64_t ow, const Window& win) {
  if (!p.count_include_pad) return static_cast<float>((win.h1 - win.h0) * (win.w1 - win.w0));
  const int64_t hs = oh * p.sh - p.pad_top, ws = ow * p.sw - p.pad_left;
  const int64_t he = imin(hs + p.kh, p.H + p.pad_bottom), we = imin(ws + p.kw, p.W + p.pad_right);
  return static_cast<float>((he - hs) * (we - ws));
}

// The mean of output (oh, ow)'s window: its sum in scan order from 0, divided once; 0 when empty.
FASTCNN_HD float window_mean(const float* xp, const PoolGeometry& p, int64_t oh, int64_t ow) {
  const Window win = clipped_window(p, oh, ow);
  if (win.h0 >= win.h1 || win.w0 >= win.w1) return 0.0f;
  float sum = 0.0f;
  for (int64_t ih = win.h0; ih < win.h1; ++ih)
    for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += xp[ih * p.W + iw];
  return sum / avg_divisor(p, oh, ow, win);
}

// Outputs [lo, hi) along one dimension whose window (start o*s - pad, k wide) covers input
// position i: o*s - pad <= i < o*s - pad + k, with 0 <= o < out.
struct Span {
  int64_t lo, hi;
};
FASTCNN_HD Span covering_outputs(int64_t i, int64_t k, int64_t s, int64_t pad, int64_t out) {
  const int64_t t = i + pad;  // >= 0
  const int64_t lo = t < k ? 0 : (t - k) / s + 1;
  return {lo, imin(out, t / s + 1)};
}

// ---- one output (forward) or one input element (backward) of the kernels ----------------------
// o is a flat index into y (N,C,P,Q); i a flat index into x / dx (N,C,H,W). The backward is a
// gather: dx[i] sums, from 0 and in (oh, ow) order, the windows that cover element i (max: those
// whose argmax it is), the order in which the CPU kernels scatter, so the sums are the CPU's.

FASTCNN_HD float max_pool_output(const float* x, const PoolGeometry& p, int64_t o) {
  const int64_t ow = o % p.Q, t = o / p.Q, oh = t % p.P, plane = t / p.P;
  float m;
  window_argmax(x + plane * p.H * p.W, p.W, clipped_window(p, oh, ow), m);
  return m;
}

FASTCNN_HD float avg_pool_output(const float* x, const PoolGeometry& p, int64_t o) {
  const int64_t ow = o % p.Q, t = o / p.Q, oh = t % p.P, plane = t / p.P;
  return window_mean(x + plane * p.H * p.W, p, oh, ow);
}

FASTCNN_HD float max_pool_input_grad(const float* dy, const float* x, const PoolGeometry& p, int64_t i) {
  const int64_t HW = p.H * p.W, plane = i / HW, flat = i - plane * HW, ih = flat / p.W, iw = flat - ih * p.W;
  const float* xp = x + plane * HW;
  const float* dyp = dy + plane * p.P * p.Q;
  const Span rows = covering_outputs(ih, p.kh, p.sh, p.pad_top, p.P);
  const Span cols = covering_outputs(iw, p.kw, p.sw, p.pad_left, p.Q);
  float acc = 0.0f;
  for (int64_t oh = rows.lo; oh < rows.hi; ++oh)
    for (int64_t ow = cols.lo; ow < cols.hi; ++ow) {
      float m;
      if (window_argmax(xp, p.W, clipped_window(p, oh, ow), m) == flat) acc += dyp[oh * p.Q + ow];
    }
  return acc;
}

FASTCNN_HD float avg_pool_input_grad(const float* dy, const PoolGeometry& p, int64_t i) {
  const int64_t HW = p.H * p.W, plane = i / HW, flat = i - plane * HW, ih = flat / p.W, iw = flat - ih * p.W;
  const float* dyp = dy + plane * p.P * p.Q;
  const Span rows = covering_outputs(ih, p.kh, p.sh, p.pad_top, p.P);
  const Span cols = covering_outputs(iw, p.kw, p.sw, p.pad_left, p.Q);
  float acc = 0.0f;
  for (int64_t oh = rows.lo; oh < rows.hi; ++oh)
    for (int64_t ow = cols.lo; ow < cols.hi; ++ow)  // a covering window is never empty
      acc += dyp[oh * p.Q + ow] / avg_divisor(p, oh, ow, clipped_window(p, oh, ow));
  return acc;
}

// ---- windows that tile x exactly (kernel == stride, no padding, P*kh == H, Q*kw == W) ---------
// Every x element lies in exactly one window (LeNet's 2x2/2 on 28x28, VGG's on 224x224), so the
// backward can run one thread per window: the argmax found once, the whole window written. Values
// are 0 + dy (max, at the argmax; 0 elsewhere) and 0 + dy / divisor (avg): the gather's sums of a
// single term, bit for bit.

FASTCNN_HD bool tiles_exactly(const PoolGeometry& p) {
  return p.kh == p.sh && p.kw == p.sw && p.pad_top == 0 && p.pad_bottom == 0 && p.pad_left == 0 &&
         p.pad_right == 0 && p.P * p.kh == p.H && p.Q * p.kw == p.W;
}

// dx of output o's window (o a flat index into dy (N,C,P,Q)); only when tiles_exactly(p).
FASTCNN_HD void tiled_window_grad(bool is_max, const float* dy, const float* x, float* dx, const PoolGeometry& p,
                                  int64_t o) {
  const int64_t ow = o % p.Q, t = o / p.Q, oh = t % p.P, plane = t / p.P;
  const int64_t HW = p.H * p.W;
  const Window win = clipped_window(p, oh, ow);
  float m;
  const int64_t arg = is_max ? window_argmax(x + plane * HW, p.W, win, m) : -1;
  const float g = is_max ? 0.0f + dy[o] : 0.0f + dy[o] / avg_divisor(p, oh, ow, win);
  float* dxp = dx + plane * HW;
  for (int64_t ih = win.h0; ih < win.h1; ++ih)
    for (int64_t iw = win.w0; iw < win.w1; ++iw) dxp[ih * p.W + iw] = !is_max || ih * p.W + iw == arg ? g : 0.0f;
}

}  // namespace pool
}  // namespace fastcnn::cuda
