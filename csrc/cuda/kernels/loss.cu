// CUDA fused softmax cross-entropy: one warp per row (rows grid-strided over the warps), lane-
// strided passes over the K logits and the warp's fixed shuffle tree for the row's max and sums.
#include "cuda/kernels/loss.h"

#include "cuda/kernels/ops_common.cuh"

namespace fastcnn::cuda {

namespace {

using detail::global_thread;
using detail::grid_threads;
using detail::kThreads;
using detail::kWarp;

// The row's max m (NaN when any logit is NaN, so it reaches the result), and s = sum exp(z - m)
// in double, both the same on every lane.
struct RowExp {
  float max;
  double sum;
};
__device__ RowExp row_exp_sum(const float* zr, int64_t K, int lane) {
  float m = -INFINITY;
  bool nan = false;
  for (int64_t k = lane; k < K; k += kWarp) {
    const float v = zr[k];
    m = v > m ? v : m;
    nan |= v != v;
  }
  m = detail::warp_max(m);
  if (__any_sync(0xffffffffu, nan)) m = NAN;
  double s = 0.0;
  for (int64_t k = lane; k < K; k += kWarp) s += static_cast<double>(expf(zr[k] - m));
  return {m, detail::warp_sum(s)};
}

// row_loss[n] = -sum_k t_nk log softmax(z_n)_k, as sum_k t_k (max - z_k) + sum(t) log(s).
__global__ void cross_entropy_rows_kernel(const float* z, const int64_t* ids, const float* probs, double* row_loss,
                                          int64_t N, int64_t K) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = grid_threads() / kWarp;
  for (int64_t n = global_thread() / kWarp; n < N; n += warps) {
    const float* zr = z + n * K;
    const RowExp r = row_exp_sum(zr, K, lane);
    const double log_sum = log(r.sum);
    double loss;
    if (ids) {
      const int64_t id = ids[n];
      loss = (id < 0 || id >= K) ? NAN : (static_cast<double>(r.max) - zr[id]) + log_sum;
    } else {
      const float* tr = probs + n * K;
      double st = 0.0, stz = 0.0;
      for (int64_t k = lane; k < K; k += kWarp) {
        st += tr[k];
        stz += static_cast<double>(tr[k]) * (static_cast<double>(r.max) - zr[k]);
      }
      loss = detail::warp_sum(stz) + detail::warp_sum(st) * log_sum;
    }
    if (lane == 0) row_loss[n] = loss;
  }
}

// loss[0] = mean of the N row losses (one block, fixed tree); NaN for N == 0.
__global__ void mean_kernel(const double* row_loss, float* loss, int64_t N) {
  __shared__ double scratch[32];
  double acc = 0.0;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) acc += row_loss[n];
  acc = detail::block_sum(acc, scratch);
  if (threadIdx.x == 0) loss[0] = N > 0 ? static_cast<float>(acc / N) : NAN;
}

// total[0] += weight * (sum of the N row losses) (one block, fixed tree).
__global__ void sum_into_kernel(const double* row_loss, float* total, double weight, int64_t N) {
  __shared__ double scratch[32];
  double acc = 0.0;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) acc += row_loss[n];
  acc = detail::block_sum(acc, scratch);
  if (threadIdx.x == 0) total[0] += static_cast<float>(weight * acc);
}

__global__ void cross_entropy_backward_kernel(const float* z, const int64_t* ids, const float* probs, float* dz,
                                              int64_t N, int64_t K) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = grid_threads() / kWarp;
  const double inv_n = 1.0 / static_cast<double>(N);
  for (int64_t n = global_thread() / kWarp; n < N; n += warps) {
    const float* zr = z + n * K;
    float* dr = dz + n * K;
    const RowExp r = row_exp_sum(zr, K, lane);
    const double inv_sum = 1.0 / r.sum;
    if (ids) {
      const int64_t id = ids[n];
      const bool bad = id < 0 || id >= K;
      for (int64_t k = lane; k < K; k += kWarp) {
        const double p = static_cast<double>(expf(zr[k] - r.max)) * inv_sum;
        dr[k] = bad ? NAN : static_cast<float>(k == id ? (p - 1.0) * inv_n : p * inv_n);
      }
    } else {
      const float* tr = probs + n * K;
      double st = 0.0;
      for (int64_t k = lane; k < K; k += kWarp) st += tr[k];
      st = detail::warp_sum(st);
      for (int64_t k = lane; k < K; k += kWarp) {
        const double e = expf(zr[k] - r.max);
        dr[k] = static_cast<float>((e * inv_sum * st - tr[k]) * inv_n);
      }
    }
  }
}

}  // namespace

std::size_t cross_entropy_workspace_bytes(int64_t N) {
  return static_cast<std::size_t>(N > 0 ? N : 1) * sizeof(double);
}

void cross_entropy_forward(const float* z, const int64_t* ids, const float* probs, float* loss, int64_t N, int64_t K,
                           void* workspace, cudaStream_t s) {
  double* row_loss = static_cast<double*>(workspace);
  if (N > 0) {
    cross_entropy_rows_kernel<<<detail::grid_for(N * kWarp), kThreads, 0, s>>>(z, ids, probs, row_loss, N, K);
    check_launch("cross_entropy_rows");
  }
  mean_kernel<<<1, 1024, 0, s>>>(row_loss, loss, N);
  check_launch("cross_entropy_mean");
}

void cross_entropy_sum_into(const float* z, const int64_t* ids, const float* probs, float* total, double weight,
                            int64_t N, int64_t K, void* workspace, cudaStream_t s) {
  if (N <= 0) return;
  double* row_loss = static_cast<double*>(workspace);
  cross_entropy_rows_kernel<<<detail::grid_for(N * kWarp), kThreads, 0, s>>>(z, ids, probs, row_loss, N, K);
  check_launch("cross_entropy_rows");
  sum_into_kernel<<<1, 1024, 0, s>>>(row_loss, total, weight, N);
  check_launch("cross_entropy_sum_into");
}

void cross_entropy_backward(const float* z, const int64_t* ids, const float* probs, float* dz, int64_t N, int64_t K,
                            cudaStream_t s) {
  if (N <= 0 || K <= 0) return;
  cross_entropy_backward_kernel<<<detail::grid_for(N * kWarp), kThreads, 0, s>>>(z, ids, probs, dz, N, K);
  check_launch("cross_entropy_backward");
}

}  // namespace fastcnn::cuda
