// CUDA pooling kernels (host launch functions; kernels in pool.cu). x is (N,C,H,W), y is (N,C,P,Q)
// with the window geometry of cuda/kernels/pool_math.h (the CPU kernels' rules: -inf padding and
// NaN propagation for max, count_include_pad for avg, asymmetric padding, ceil_mode through P, Q).
// Backward passes are gathers (each dx element sums the windows that cover it, in window order),
// so they need no atomics and are deterministic. Device pointers; launches on stream s.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/kernels/pool_math.h"

namespace fastcnn::cuda {

void max_pool2d_forward(const float* x, float* y, const PoolGeometry& p, cudaStream_t s);
// dy is (N,C,P,Q), x and dx are (N,C,H,W); each window's argmax is recomputed from x.
void max_pool2d_backward(const float* dy, const float* x, float* dx, const PoolGeometry& p, cudaStream_t s);
void avg_pool2d_forward(const float* x, float* y, const PoolGeometry& p, cudaStream_t s);
void avg_pool2d_backward(const float* dy, float* dx, const PoolGeometry& p, cudaStream_t s);
// x is (NC, HW), y is (NC): each plane's mean (summed in double).
void global_avg_pool2d_forward(const float* x, float* y, int64_t NC, int64_t HW, cudaStream_t s);
void global_avg_pool2d_backward(const float* dy, float* dx, int64_t NC, int64_t HW, cudaStream_t s);

}  // namespace fastcnn::cuda
