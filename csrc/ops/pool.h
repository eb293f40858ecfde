// Front end of the pool family: checks window geometry and sizes, then dispatches the kernels.
#pragma once
#include <cstdint>

#include "cpu/kernels/pool.h"
#include "fastcnn/common.h"

namespace fastcnn::ops {

namespace detail {
inline int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace detail

// Output extent of one pooled dimension, PyTorch's rule: floor (or ceil) of the window count, and
// in ceil mode the last window must start inside the input or its leading padding. < 1 when the
// window does not fit.
inline int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t pad_before, int64_t pad_after,
                                bool ceil_mode) {
  int64_t out = detail::floor_div(in + pad_before + pad_after - k + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && out > 0 && (out - 1) * s >= in + pad_before) --out;
  return out;
}

// Checked geometry for x of shape (N,C,H,W): kernel and stride >= 1, each pad <= kernel/2, and
// at least one output per dimension. fn names the op in messages. Header-only: the CUDA module's
// bindings check pooling arguments with it too.
inline Pool2dParams pool2d_params(const char* fn, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                                  int64_t kw, int64_t sh, int64_t sw, int64_t pad_top, int64_t pad_bottom,
                                  int64_t pad_left, int64_t pad_right, bool ceil_mode, bool count_include_pad) {
  FASTCNN_CHECK(kh >= 1 && kw >= 1, fn, ": argument 'kernel_size' got (", kh, ", ", kw, "), needed values >= 1");
  FASTCNN_CHECK(sh >= 1 && sw >= 1, fn, ": argument 'stride' got (", sh, ", ", sw, "), needed values >= 1");
  FASTCNN_CHECK(pad_top >= 0 && pad_bottom >= 0 && pad_left >= 0 && pad_right >= 0, fn,
                ": argument 'padding' got a negative value, needed non-negative padding");
  FASTCNN_CHECK(pad_top <= kh / 2 && pad_bottom <= kh / 2 && pad_left <= kw / 2 && pad_right <= kw / 2, fn,
                ": argument 'padding' got ((", pad_top, ", ", pad_bottom, "), (", pad_left, ", ", pad_right,
                ")), needed at most half the kernel size (", kh / 2, ", ", kw / 2, ")");
  Pool2dParams p{};
  p.N = N, p.C = C, p.H = H, p.W = W;
  p.kh = kh, p.kw = kw, p.sh = sh, p.sw = sw;
  p.pad_top = pad_top, p.pad_bottom = pad_bottom, p.pad_left = pad_left, p.pad_right = pad_right;
  p.count_include_pad = count_include_pad;
  p.P = pool_output_size(H, kh, sh, pad_top, pad_bottom, ceil_mode);
  p.Q = pool_output_size(W, kw, sw, pad_left, pad_right, ceil_mode);
  FASTCNN_CHECK(p.P >= 1 && p.Q >= 1, fn, ": argument 'kernel_size' got (", kh, ", ", kw,
                "), needed a window that fits the padded input of size (", H + pad_top + pad_bottom, ", ",
                W + pad_left + pad_right, ")");
  checked_mul(checked_mul(checked_mul(N, C, fn), H, fn), W, fn);
  checked_mul(checked_mul(checked_mul(N, C, fn), p.P, fn), p.Q, fn);
  return p;
}

void max_pool2d_forward(const float* x, float* y, const Pool2dParams& p);
void max_pool2d_backward(const float* dy, const float* x, float* dx, const Pool2dParams& p);
void avg_pool2d_forward(const float* x, float* y, const Pool2dParams& p);
void avg_pool2d_backward(const float* dy, float* dx, const Pool2dParams& p);
void global_avg_pool2d_forward(const float* x, float* y, int64_t N, int64_t C, int64_t HW);
void global_avg_pool2d_backward(const float* dy, float* dx, int64_t N, int64_t C, int64_t HW);

}  // namespace fastcnn::ops
