// Deterministic per-channel sums for the bias gradients of conv and linear (kernel in reduce.cu).
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastcnn::cuda {

// src is (N,K,L); out[k] = sum_{n,l} src[n,k,l], each channel summed by one block in a fixed order
// (never depends on scheduling). name labels launch errors.
void sum_channels(const float* src, int64_t N, int64_t K, int64_t L, float* out, cudaStream_t s,
                  const char* name);

}  // namespace fastcnn::cuda
