// Deterministic per-channel sums (reduce.h): a fixed-size block per channel, each thread summing a
// fixed strided subset in order, then a fixed tree.
#include "cuda/device_array.h"
#include "cuda/kernels/reduce.h"

namespace fastcnn::cuda {

namespace {

constexpr int kSumThreads = 256;

// Block k (grid-stride over channels) owns channel k.
__global__ void __launch_bounds__(kSumThreads)
sum_channels_kernel(const float* __restrict__ src, int64_t N, int64_t K, int64_t L, float* __restrict__ out) {
  __shared__ float part[kSumThreads];
  const int64_t count = N * L;
  if (count <= 0) {  // nothing to add (and L may be 0)
    for (int64_t k = static_cast<int64_t>(blockIdx.x) * kSumThreads + threadIdx.x; k < K;
         k += static_cast<int64_t>(gridDim.x) * kSumThreads)
      out[k] = 0.0f;
    return;
  }
  // this thread's elements e = tid, tid + 256, ... as (n, l) = (e / L, e % L), stepped without dividing
  const int64_t dn = kSumThreads / L, dl = kSumThreads % L;
  for (int64_t k = blockIdx.x; k < K; k += gridDim.x) {
    int64_t n = threadIdx.x / L, l = threadIdx.x % L;
    float s = 0.0f;
    for (int64_t e = threadIdx.x; e < count; e += kSumThreads) {
      s += src[(n * K + k) * L + l];
      n += dn;
      l += dl;
      if (l >= L) {
        l -= L;
        ++n;
      }
    }
    part[threadIdx.x] = s;
    __syncthreads();
    for (int half = kSumThreads / 2; half > 0; half /= 2) {
      if (static_cast<int>(threadIdx.x) < half) part[threadIdx.x] += part[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[k] = part[0];
    __syncthreads();  // part is reused by the next channel
  }
}

}  // namespace

void sum_channels(const float* src, int64_t N, int64_t K, int64_t L, float* out, cudaStream_t s,
                  const char* name) {
  if (K <= 0) return;
  const unsigned blocks = static_cast<unsigned>(K < 65535 ? K : 65535);
  sum_channels_kernel<<<blocks, kSumThreads, 0, s>>>(src, N, K, L, out);
  check_launch(name);
}

}  // namespace fastcnn::cuda
