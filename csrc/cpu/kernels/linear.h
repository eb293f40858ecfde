// Kernels of the linear family, declared once per built ISA (see fastcnn/dispatch.h).
// x is (N,C), w is (K,C), b is (K,) or null, y is (N,K).
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_LINEAR_KERNELS                                                                 \
  void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t N,     \
                      int64_t C, int64_t K);                                                   \
  void linear_backward(const float* dy, const float* x, const float* w, float* dx, float* dw,  \
                       float* db, int64_t N, int64_t C, int64_t K);

FASTCNN_DECLARE_KERNELS(FASTCNN_LINEAR_KERNELS)
