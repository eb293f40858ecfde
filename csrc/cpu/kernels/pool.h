// Kernels of the pool family, declared once per built ISA (see fastcnn/dispatch.h).
// 1-D pooling runs through the 2-D kernels with H = 1 and a 1x1-high window.
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

namespace fastcnn {

// Window geometry of a 2-D pooling op: x is (N,C,H,W), y is (N,C,P,Q). Padding may be asymmetric
// ('same' puts the odd extra row/column at the end); max pooling pads with -inf.
struct Pool2dParams {
  int64_t N, C, H, W, P, Q;
  int64_t kh, kw, sh, sw;
  int64_t pad_top, pad_bottom, pad_left, pad_right;
  bool count_include_pad;  // avg only: divide by the window clipped to the padded input, not to x
};

}  // namespace fastcnn

#define FASTCNN_POOL_KERNELS                                                                        \
  void max_pool2d_forward(const float* x, float* y, const Pool2dParams& p);                         \
  void max_pool2d_backward(const float* dy, const float* x, float* dx, const Pool2dParams& p);      \
  void avg_pool2d_forward(const float* x, float* y, const Pool2dParams& p);                         \
  void avg_pool2d_backward(const float* dy, float* dx, const Pool2dParams& p);                      \
  void global_avg_pool2d_forward(const float* x, float* y, int64_t NC, int64_t HW);                 \
  void global_avg_pool2d_backward(const float* dy, float* dx, int64_t NC, int64_t HW);         \
  void max_pool_2x2_rows_forward(const float* x, int64_t ldx, int64_t P, int64_t Q, float bias,     \
                                 float* y);                                                         \
  void max_pool_2x2_channels_last_forward(const float* x, int64_t P, int64_t Q, int64_t C,          \
                                          const float* bias, float* y);

FASTCNN_DECLARE_KERNELS(FASTCNN_POOL_KERNELS)
