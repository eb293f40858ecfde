// Pooling kernels. Every kernel runs in parallel over (n,c) planes: each plane's outputs (and, in
// backward, its dx accumulations in window scan order) belong to one thread, so results do not
// depend on the thread count.
#include "cpu/kernels/pool.h"

#include <algorithm>
#include <cstring>
#include <limits>

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

}  // namespace

// x is (N,C,H,W), y is (N,C,P,Q).
void max_pool2d_forward(const float* x, float* y, const Pool2dParams& p) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  parallel_for(0, p.N * p.C, plane_grain(HW + PQ), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const float* xp = x + plane * HW;
      float* yp = y + plane * PQ;
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          float m;
          window_argmax(xp, p.W, clipped_window(p, oh, ow), m);
          yp[oh * p.Q + ow] = m;
        }
    }
  });
}

// dy is (N,C,P,Q), x and dx are (N,C,H,W). The argmax of each window is recomputed from x.
void max_pool2d_backward(const float* dy, const float* x, float* dx, const Pool2dParams& p) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  parallel_for(0, p.N * p.C, plane_grain(HW + PQ), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const float* xp = x + plane * HW;
      const float* dyp = dy + plane * PQ;
      float* dxp = dx + plane * HW;
      std::fill(dxp, dxp + HW, 0.0f);
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          float m;
          const int64_t idx = window_argmax(xp, p.W, clipped_window(p, oh, ow), m);
          if (idx >= 0) dxp[idx] += dyp[oh * p.Q + ow];
        }
    }
  });
}

// x is (N,C,H,W), y is (N,C,P,Q).
void avg_pool2d_forward(const float* x, float* y, const Pool2dParams& p) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  parallel_for(0, p.N * p.C, plane_grain(HW + PQ), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const float* xp = x + plane * HW;
      float* yp = y + plane * PQ;
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          const Window win = clipped_window(p, oh, ow);
          float sum = 0.0f;
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += xp[ih * p.W + iw];
          const bool empty = win.h0 >= win.h1 || win.w0 >= win.w1;
          yp[oh * p.Q + ow] = empty ? 0.0f : sum / avg_divisor(p, oh, ow, win);
        }
    }
  });
}

// dy is (N,C,P,Q), dx is (N,C,H,W).
void avg_pool2d_backward(const float* dy, float* dx, const Pool2dParams& p) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  parallel_for(0, p.N * p.C, plane_grain(HW + PQ), [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const float* dyp = dy + plane * PQ;
      float* dxp = dx + plane * HW;
      std::fill(dxp, dxp + HW, 0.0f);
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          const Window win = clipped_window(p, oh, ow);
          if (win.h0 >= win.h1 || win.w0 >= win.w1) continue;
          const float g = dyp[oh * p.Q + ow] / avg_divisor(p, oh, ow, win);
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) dxp[ih * p.W + iw] += g;
        }
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
