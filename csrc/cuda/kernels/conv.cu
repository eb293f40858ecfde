// CUDA conv kernels: implicit GEMMs (gemm.cuh over the problems of gemm_problems.h) and the
// deterministic bias-gradient reduction.
#include "cuda/kernels/conv.h"
#include "cuda/kernels/gemm.cuh"
#include "cuda/kernels/reduce.h"

namespace fastcnn::cuda {

void conv2d_forward(const ConvParams& p, const float* x, const float* w, const float* b, float* y,
                    cudaStream_t s) {
  gemm::run_gemm(gemm::conv_forward_gemm(p, x, w, b, y), p.groups, s, "conv2d_forward");
}

void conv2d_backward_data(const ConvParams& p, const float* dy, const float* w, const float* b, float* dx,
                          cudaStream_t s) {
  for (const gemm::ConvGemm& phase : gemm::conv_backward_data_gemms(p, dy, w, b, dx))
    gemm::run_gemm(phase, p.groups, s, "conv2d_backward_data");
}

void conv2d_backward_weight(const ConvParams& p, const float* dy, const float* x, float* dw, cudaStream_t s) {
  gemm::run_gemm(gemm::conv_backward_weight_gemm(p, dy, x, dw), p.groups, s, "conv2d_backward_weight");
}

void conv_backward_bias(const float* dy, int64_t N, int64_t K, int64_t L, float* db, cudaStream_t s) {
  sum_channels(dy, N, K, L, db, s, "conv_backward_bias");
}

}  // namespace fastcnn::cuda
