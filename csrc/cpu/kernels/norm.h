// Kernels of the norm family, declared once per built ISA (see fastcnn/dispatch.h).
// Layout letters: x is (N,C,S) where S is the product of the spatial extents (1 for (N,C) input).
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_NORM_KERNELS                                                                     \
  void batch_norm_forward(const float* x, const float* gamma, const float* beta,                 \
                          float* running_mean, float* running_var, float* y, int64_t N,          \
                          int64_t C, int64_t S, bool training, double momentum, double eps);     \
  void batch_norm_backward(const float* dy, const float* x, const float* gamma,                  \
                           const float* running_mean, const float* running_var, float* dx,       \
                           float* dgamma, float* dbeta, int64_t N, int64_t C, int64_t S,         \
                           bool training, double eps);                                           \
  void local_response_norm_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S,    \
                                   int64_t size, float alpha, float beta, float k);              \
  void local_response_norm_backward(const float* dy, const float* x, float* dx, int64_t N,       \
                                    int64_t C, int64_t S, int64_t size, float alpha, float beta, \
                                    float k);

FASTCNN_DECLARE_KERNELS(FASTCNN_NORM_KERNELS)
