// Launch and reduction helpers shared by the pool/act/norm/loss/optim kernels (device code).
// Reductions are deterministic: every sum runs over a fixed assignment of elements to threads and
// then a fixed shuffle/shared-memory tree, so results never depend on scheduling (no float atomics).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/device_array.h"

namespace fastcnn::cuda::detail {

constexpr int kThreads = 256;         // threads per block of the grid-stride kernels
constexpr int kThreadsPerSm = 2048;  // resident threads per SM on sm_80 and sm_90
constexpr int kWarp = 32;

// Multiprocessors of the current device (asked once).
inline int sm_count() {
  static const int count = [] {
    int dev = 0, n = 0;
    check(cudaGetDevice(&dev), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
    return n > 0 ? n : 1;
  }();
  return count;
}

// Blocks for a grid-stride loop over `work` items with `threads` threads per block: one full
// wave of resident threads on every SM at most, no more than the work needs. work must be >= 1.
inline unsigned grid_for(int64_t work, int threads = kThreads) {
  const int64_t needed = (work + threads - 1) / threads;
  const int64_t cap = static_cast<int64_t>(sm_count()) * (kThreadsPerSm / threads);
  return static_cast<unsigned>(needed < cap ? needed : cap);
}

inline bool aligned(const void* p, std::uintptr_t bytes) { return reinterpret_cast<std::uintptr_t>(p) % bytes == 0; }

__device__ __forceinline__ int64_t global_thread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// Sum over the 32 lanes by an xor butterfly: every lane ends with the same bits (each step adds
// the same two values, in either order, on both partners).
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Max over the 32 lanes with `a > b ? a : b`. The lanes' values must not be NaN: a lane holding
// NaN keeps it while its partners skip it, so the lanes would disagree. Callers pass a running
// max from -inf built with the same `>` (which never takes a NaN) and handle NaN separately.
__device__ __forceinline__ float warp_max(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const float o = __shfl_xor_sync(0xffffffffu, v, offset);
    v = o > v ? o : v;
  }
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024): warp sums, then warp 0 sums
// those. The result is valid in thread 0. scratch holds 32 values; the block may reuse it after
// the call (it ends with a barrier).
template <class T>
__device__ T block_sum(T v, T* scratch) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = T(0);
  if (warp == 0) total = warp_sum(lane < warps ? scratch[lane] : T(0));
  __syncthreads();
  return total;
}

}  // namespace fastcnn::cuda::detail

namespace fastcnn::cuda::detail {

// ---- per-channel reductions over x seen as (N,C,S) ------------------------------------------------
// Channel c's M = N*S values are split into `splits` contiguous chunks (a count that depends on
// the sizes only), one block each; each block's partial goes to a workspace and a second kernel
// adds a channel's partials in chunk order.
constexpr int64_t kChunkValues = 16384;  // values per chunk (at least)
constexpr int64_t kMaxSplits = 64;

inline int64_t channel_splits(int64_t M) {
  const int64_t s = (M + kChunkValues - 1) / kChunkValues;
  return s < 1 ? 1 : (s > kMaxSplits ? kMaxSplits : s);
}

// Chunk `split` of [0, M): [begin, end).
__device__ __forceinline__ void chunk_range(int64_t M, int64_t splits, int64_t split, int64_t& begin, int64_t& end) {
  const int64_t per = (M + splits - 1) / splits;
  begin = split * per < M ? split * per : M;
  end = begin + per < M ? begin + per : M;
}

// Flat index in (N,C,S) of channel c's j-th value (j = n*S + s).
__device__ __forceinline__ int64_t channel_value_index(int64_t j, int64_t c, int64_t C, int64_t S) {
  const int64_t n = j / S;
  return (n * C + c) * S + (j - n * S);
}

}  // namespace fastcnn::cuda::detail
