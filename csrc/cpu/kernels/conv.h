// Kernels of the conv family, declared once per built ISA (see fastcnn/dispatch.h).
//
// Every kernel describes one 2-D convolution with Conv2dParams:
//   x is (N,C,H,W), w is (K,C/g,R,S), y is (N,K,P,Q)
//   y[n,k,p,q] = sum_{c in group(k), r, s} w[k,c,r,s] * x[n,c, p*stride_h - pad_top + r*dil_h,
//                                                            q*stride_w - pad_left + s*dil_w]
// taps outside the input read zero. P and Q are given, not derived: bottom/right padding is
// whatever P and Q imply, so asymmetric padding and conv_transpose2d's output_padding need
// nothing special. Conv1d is the case H = R = 1.
#pragma once
#include <cstdint>

#include "cpu/kernels/pool.h"
#include "fastcnn/dispatch.h"

namespace fastcnn {

struct Conv2dParams {
  int64_t N, C, H, W;  // input
  int64_t K, R, S;     // filters (each sees C/groups input channels)
  int64_t P, Q;        // output
  int64_t stride_h, stride_w, pad_top, pad_left, dil_h, dil_w, groups;
};

}  // namespace fastcnn

#define FASTCNN_CONV_KERNELS                                                                     \
  void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,     \
                      float* y);                                                                 \
  void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w,             \
                            const float* b, float* dx);                                          \
  void conv2d_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw); \
  void conv_backward_bias(const float* dy, int64_t N, int64_t K, int64_t L, float* db);          \
  void conv2d_pool_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,\
                           float* z, const Pool2dParams& pp, float* y);                         \
  const char* conv2d_algorithm(const Conv2dParams& p, int pass);

FASTCNN_DECLARE_KERNELS(FASTCNN_CONV_KERNELS)
