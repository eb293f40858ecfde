// CUDA kernels of the linear family (host launch functions; GEMM core in gemm.cuh).
//   x is (N,C), w is (K,C), b is (K,) or null, y is (N,K)
// Device pointers; work queued on stream s at the current fastcnn precision, never synchronized.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastcnn::cuda {

// y = x w^T + b
void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t C, int64_t K,
                    cudaStream_t s);
// dx = dy w (skipped when dx is null), dw = dy^T x, db = dy summed over rows (skipped when db is null).
void linear_backward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db, int64_t N,
                     int64_t C, int64_t K, cudaStream_t s);

}  // namespace fastcnn::cuda
