// CUDA batch norm and local response norm (host launch functions; kernels in norm.cu).
// x is (N,C,S): S is the product of the spatial extents (1 for (N,C) input); per-channel arrays are
// (C). Semantics of csrc/cpu/kernels/norm.cpp: gamma/beta null mean 1 and 0; training normalizes
// with the batch mean and biased variance (shifted sums in double, deterministic chunked
// reductions) and blends the unbiased variance into running_var (null: not tracked); eval uses the
// running statistics. The caller checks N*S != 1 in training; N*S == 0 leaves y and the running
// statistics alone and zeroes dgamma/dbeta. Device pointers; launches on stream s; `workspace` is
// batch_norm_workspace_bytes of device memory used only by work queued on s.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace fastcnn::cuda {

std::size_t batch_norm_workspace_bytes(int64_t N, int64_t C, int64_t S);

void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* running_mean,
                        float* running_var, float* y, int64_t N, int64_t C, int64_t S, bool training,
                        double momentum, double eps, void* workspace, cudaStream_t s);
// dgamma/dbeta may be null (not wanted); running arrays are needed in eval only.
void batch_norm_backward(const float* dy, const float* x, const float* gamma, const float* running_mean,
                         const float* running_var, float* dx, float* dgamma, float* dbeta, int64_t N, int64_t C,
                         int64_t S, bool training, double eps, void* workspace, cudaStream_t s);

// x, y, dy, dx are (N,C,S): y = x / (k + alpha/size * sum of x^2 over channels
// c - size/2 .. c + (size-1)/2)^beta.
void local_response_norm_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S, int64_t size,
                                 float alpha, float beta, float k, cudaStream_t s);
void local_response_norm_backward(const float* dy, const float* x, float* dx, int64_t N, int64_t C, int64_t S,
                                  int64_t size, float alpha, float beta, float k, cudaStream_t s);

}  // namespace fastcnn::cuda
