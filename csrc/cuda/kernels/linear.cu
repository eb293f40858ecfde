// CUDA linear kernels: plain GEMMs with strides for the transposes (gemm.cuh, Dense problems).
#include "cuda/kernels/gemm.cuh"
#include "cuda/kernels/linear.h"
#include "cuda/kernels/reduce.h"

namespace fastcnn::cuda {

void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t C, int64_t K,
                    cudaStream_t s) {
  gemm::run_gemm(gemm::linear_forward_gemm(x, w, b, y, N, C, K), 1, s, "linear_forward");
}

void linear_backward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db, int64_t N,
                     int64_t C, int64_t K, cudaStream_t s) {
  if (dx) gemm::run_gemm(gemm::linear_dx_gemm(dy, w, dx, N, C, K), 1, s, "linear_backward_data");
  gemm::run_gemm(gemm::linear_dw_gemm(dy, x, dw, N, C, K), 1, s, "linear_backward_weight");
  if (db) sum_channels(dy, N, K, 1, db, s, "linear_backward_bias");
}

}  // namespace fastcnn::cuda
