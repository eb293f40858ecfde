// Kernels of the optim family, declared once per built ISA (see fastcnn/dispatch.h).
// Every array is (n,) (any parameter, flattened); all updates are in place.
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

namespace fastcnn {
// Adam's constants for one step, computed in double by the front end and rounded once to float
// (1.f - 0.999f would be off by 1e-5 relative).
struct AdamCoefs {
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float step_size;     // lr / (1 - beta1^step)
  float inv_sqrt_bc2;  // 1 / sqrt(1 - beta2^step)
  float eps;
  float decay;         // AdamW's 1 - lr * weight_decay (1 for Adam)
  float weight_decay;  // Adam's L2 term added to the gradient (0 for AdamW)
};
}  // namespace fastcnn

#define FASTCNN_OPTIM_KERNELS                                                                  \
  void sgd_step(float* param, const float* grad, float* velocity, int64_t n, float lr,         \
                float momentum, bool nesterov, float weight_decay);                            \
  void adam_step(float* param, const float* grad, float* m, float* v, int64_t n,             \
                 const AdamCoefs& c);                                                          \
  void rmsprop_step(float* param, const float* grad, float* square_avg, int64_t n, float lr,   \
                    float alpha, float one_minus_alpha, float eps);

FASTCNN_DECLARE_KERNELS(FASTCNN_OPTIM_KERNELS)
