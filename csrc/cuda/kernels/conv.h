// CUDA kernels of the conv family (host launch functions; kernels in conv.cu, GEMM core in gemm.cuh).
//   x is (N,C,H,W), w is (K,C/g,R,S), y is (N,K,P,Q)   -- ConvParams (conv_params.h) as on the CPU
// conv_transpose2d runs on the same launchers: its forward is conv2d_backward_data of the equivalent
// conv2d (with b over that conv's input channels), and so on. Pointers are device pointers; the work is
// queued on stream s (at the current fastcnn precision) and never synchronized.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/kernels/conv_params.h"

namespace fastcnn::cuda {

// y = conv(x, w) + b (b is (K,) or null).
void conv2d_forward(const ConvParams& p, const float* x, const float* w, const float* b, float* y,
                    cudaStream_t s);
// dx (N,C,H,W) from dy (N,K,P,Q), plus b[c] when b (C,) is given (conv_transpose2d's bias).
void conv2d_backward_data(const ConvParams& p, const float* dy, const float* w, const float* b, float* dx,
                          cudaStream_t s);
// dw (K,C/g,R,S) from dy and x.
void conv2d_backward_weight(const ConvParams& p, const float* dy, const float* x, float* dw, cudaStream_t s);
// dy is (N,K,L), db is (K,): db[k] = sum over n, l (fixed order, deterministic).
void conv_backward_bias(const float* dy, int64_t N, int64_t K, int64_t L, float* db, cudaStream_t s);

}  // namespace fastcnn::cuda
