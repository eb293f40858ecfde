// Depthwise convolution: one group per input channel (groups == C > 1), each channel c feeding its
// own M = K/C filters k = c*M .. c*M+M-1 (M = 1 is the usual depthwise; see conv.h for
// Conv2dParams). x is (N,C,H,W), w is (K,1,R,S), y is (N,K,P,Q). Any kernel size, stride, padding
// and dilation. Direct loops over (n, plane) pairs, vectorized along the output (or input) row;
// no GEMM, no im2col: with one input channel per filter there is nothing for a GEMM to reuse.
// Bit-identical for any thread count: every output is summed by one thread in a fixed order, and
// the weight gradient sums the batch in a fixed number of chunks, added in chunk order.
#pragma once
#include "cpu/kernels/conv.h"

#define FASTCNN_DEPTHWISE_KERNELS                                                              \
  bool depthwise_applies(const Conv2dParams& p);                                               \
  void depthwise_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, \
                         float* y);                                                            \
  void depthwise_backward_data(const Conv2dParams& p, const float* dy, const float* w,        \
                               const float* b, float* dx);                                    \
  void depthwise_backward_weight(const Conv2dParams& p, const float* dy, const float* x,      \
                                 float* dw);

FASTCNN_DECLARE_KERNELS(FASTCNN_DEPTHWISE_KERNELS)
