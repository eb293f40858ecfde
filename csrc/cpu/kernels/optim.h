// Kernels of the optim family, declared once per built ISA (see fastcnn/dispatch.h).
// Every array is (n,) (any parameter, flattened); all updates are in place.
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_OPTIM_KERNELS                                                                  \
  void sgd_step(float* param, const float* grad, float* velocity, int64_t n, float lr,         \
                float momentum, bool nesterov, float weight_decay);                            \
  void adam_step(float* param, const float* grad, float* m, float* v, int64_t n, float lr,     \
                 float beta1, float beta2, float eps, float weight_decay, bool decoupled,      \
                 double bias_correction1, double bias_correction2);                           \
  void rmsprop_step(float* param, const float* grad, float* square_avg, int64_t n, float lr,   \
                    float alpha, float eps);

FASTCNN_DECLARE_KERNELS(FASTCNN_OPTIM_KERNELS)
