// Kernels of the loss family, declared once per built ISA (see fastcnn/dispatch.h).
// z (logits) is (N,K); the target is either class ids (N,) or probabilities (N,K).
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_LOSS_KERNELS                                                                   \
  double cross_entropy_forward(const float* z, const int64_t* ids, const float* probs,         \
                               int64_t N, int64_t K);                                          \
  void cross_entropy_backward(const float* z, const int64_t* ids, const float* probs,          \
                              float* dz, int64_t N, int64_t K);                             \
  double cross_entropy_forward_backward(const float* z, const int64_t* ids, float* dz,         \
                                        int64_t N, int64_t K, int64_t* hits);

FASTCNN_DECLARE_KERNELS(FASTCNN_LOSS_KERNELS)
