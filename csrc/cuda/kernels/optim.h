// CUDA optimizer steps (host launch functions; kernels in optim.cu): PyTorch's update rules, the
// per-element math of cuda/kernels/elementwise_math.h (the CPU kernels' formulas). Every array is
// (n,) (a parameter and its state, flattened), updated in place on stream s; scalars come by value,
// nothing is read back to the host.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/kernels/elementwise_math.h"  // math::AdamCoefs

namespace fastcnn::cuda {

// velocity is null when momentum == 0 (plain SGD).
void sgd_step(float* param, const float* grad, float* velocity, int64_t n, float lr, float momentum, bool nesterov,
              float weight_decay, cudaStream_t s);
void adam_step(float* param, const float* grad, float* m, float* v, int64_t n, const math::AdamCoefs& c,
               cudaStream_t s);
void rmsprop_step(float* param, const float* grad, float* square_avg, int64_t n, float lr, float alpha,
                  float one_minus_alpha, float eps, cudaStream_t s);

}  // namespace fastcnn::cuda
