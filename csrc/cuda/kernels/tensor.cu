// Tensor helper kernels (declared in tensor.h). All memory-bound: 16-byte accesses where the
// pointers and sizes allow, grid-stride loops with 64-bit indices, consecutive threads on
// consecutive addresses.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

#include "cuda/device_array.h"
#include "cuda/kernels/tensor.h"

namespace fastcnn::cuda {

namespace {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items; the cap keeps the grid legal, the loop does the rest.
unsigned blocks_for(int64_t n, int64_t cap = int64_t{1} << 20) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min((n + kThreads - 1) / kThreads, cap)));
}

bool aligned(const void* p, std::size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// A 2-D grid: x over the units of a row, y over rows (each grid-strided).
dim3 grid_2d(int64_t width, int64_t height) {
  return dim3(blocks_for(width, 65535), static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(height, 65535))));
}

__device__ __forceinline__ int64_t global_id() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

struct AddOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct ScaleOp {
  float alpha;
  __device__ float operator()(float a, float) const { return alpha * a; }
};

// y[i] = op(a[i], b[i]) (b may be null for unary ops). kVec: a, b, y 16-byte aligned, float4 body
// plus a scalar tail.
template <bool kVec, class Op>
__global__ void map_kernel(const float* a, const float* b, float* y, int64_t n, Op op) {
  int64_t start = 0;
  if (kVec) {
    int64_t n4 = n / 4;
    const float4* a4 = reinterpret_cast<const float4*>(a);
    const float4* b4 = reinterpret_cast<const float4*>(b);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t i = global_id(); i < n4; i += grid_stride()) {
      float4 u = a4[i];
      float4 v = b ? b4[i] : u;
      y4[i] = make_float4(op(u.x, v.x), op(u.y, v.y), op(u.z, v.z), op(u.w, v.w));
    }
    start = 4 * n4;
  }
  for (int64_t i = start + global_id(); i < n; i += grid_stride()) y[i] = op(a[i], b ? b[i] : 0.f);
}

template <class Op>
void launch_map(const float* a, const float* b, float* y, int64_t n, Op op, cudaStream_t s, const char* name) {
  if (n == 0) return;
  bool vec = aligned(a, 16) && aligned(y, 16) && (!b || aligned(b, 16));
  if (vec) {
    map_kernel<true><<<blocks_for(n / 4 + 1), kThreads, 0, s>>>(a, b, y, n, op);
  } else {
    map_kernel<false><<<blocks_for(n), kThreads, 0, s>>>(a, b, y, n, op);
  }
  check_launch(name);
}

// dst is (height, dst_pitch) units, src is (height, src_pitch) units; copies width units per row.
template <class U>
__global__ void copy_2d_kernel(U* __restrict__ dst, int64_t dst_pitch, const U* __restrict__ src, int64_t src_pitch,
                               int64_t width, int64_t height) {
  for (int64_t r = blockIdx.y; r < height; r += gridDim.y) {
    for (int64_t c = global_id(); c < width; c += grid_stride()) dst[r * dst_pitch + c] = src[r * src_pitch + c];
  }
}

template <class U>
void launch_copy_2d(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch, int64_t width, int64_t height,
                    cudaStream_t s) {
  constexpr int64_t u = sizeof(U);
  copy_2d_kernel<U><<<grid_2d(width / u, height), kThreads, 0, s>>>(
      static_cast<U*>(dst), dst_pitch / u, static_cast<const U*>(src), src_pitch / u, width / u, height);
  check_launch("copy_2d_kernel");
}

template <class S>
struct Vec4;
template <>
struct Vec4<float> {
  using type = float4;
};
template <>
struct Vec4<uint8_t> {
  using type = uchar4;
};

// src is (M,L), idx is (B,), y is (B,L); y[b] = float(src[idx[b]]) * scale, NaN rows for bad indices.
// kVec: L % 4 == 0 and src, y aligned for 4-element loads/stores.
template <class S, bool kVec>
__global__ void take_rows_kernel(const S* __restrict__ src, int64_t M, int64_t L, const int64_t* __restrict__ idx,
                                 int64_t B, float scale, float* __restrict__ y) {
  const float nan = __int_as_float(0x7fc00000);
  int64_t cols = kVec ? L / 4 : L;
  for (int64_t r = blockIdx.y; r < B; r += gridDim.y) {
    int64_t j = idx[r];
    bool ok = j >= 0 && j < M;
    const S* row = src + (ok ? j : 0) * L;
    float* out = y + r * L;
    for (int64_t c = global_id(); c < cols; c += grid_stride()) {
      if constexpr (kVec) {
        float4 v = make_float4(nan, nan, nan, nan);
        if (ok) {
          auto q = reinterpret_cast<const typename Vec4<S>::type*>(row)[c];
          v = make_float4(static_cast<float>(q.x) * scale, static_cast<float>(q.y) * scale,
                          static_cast<float>(q.z) * scale, static_cast<float>(q.w) * scale);
        }
        reinterpret_cast<float4*>(out)[c] = v;
      } else {
        out[c] = ok ? static_cast<float>(row[c]) * scale : nan;
      }
    }
  }
}

template <class S>
void launch_take_rows(const S* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, float scale, float* y,
                      cudaStream_t s) {
  if (B == 0 || L == 0) return;
  bool vec = L % 4 == 0 && aligned(src, 4 * sizeof(S)) && aligned(y, 16);
  if (vec) {
    take_rows_kernel<S, true><<<grid_2d(L / 4, B), kThreads, 0, s>>>(src, M, L, idx, B, scale, y);
  } else {
    take_rows_kernel<S, false><<<grid_2d(L, B), kThreads, 0, s>>>(src, M, L, idx, B, scale, y);
  }
  check_launch("take_rows_kernel");
}

// src is (M,L), idx is (B,), y is (B,L); y[b] = src[idx[b]], rows of `bad` for bad indices.
template <class T>
__global__ void take_labels_kernel(const T* __restrict__ src, int64_t M, int64_t L, const int64_t* __restrict__ idx,
                                   int64_t B, T bad, T* __restrict__ y) {
  for (int64_t r = blockIdx.y; r < B; r += gridDim.y) {
    int64_t j = idx[r];
    bool ok = j >= 0 && j < M;
    for (int64_t c = global_id(); c < L; c += grid_stride()) y[r * L + c] = ok ? src[j * L + c] : bad;
  }
}

template <class T>
void launch_take_labels(const T* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, T bad, T* y,
                        cudaStream_t s) {
  if (B == 0 || L == 0) return;
  take_labels_kernel<T><<<grid_2d(L, B), kThreads, 0, s>>>(src, M, L, idx, B, bad, y);
  check_launch("take_labels_kernel");
}

// numpy's argmax order: the first NaN, else the first maximum.
__device__ __forceinline__ bool argmax_better(float v, int64_t i, float best, int64_t best_i) {
  if (isnan(best)) return isnan(v) && i < best_i;
  return isnan(v) || v > best || (v == best && i < best_i);
}

// The argmax of row (K,), computed by one warp; every lane gets it.
__device__ int64_t warp_argmax(const float* row, int64_t K, int lane) {
  float best = -INFINITY;
  int64_t best_i = K;
  for (int64_t c = lane; c < K; c += 32) {
    float v = row[c];
    if (argmax_better(v, c, best, best_i)) best = v, best_i = c;
  }
  for (int off = 16; off > 0; off >>= 1) {
    float v = __shfl_down_sync(0xffffffffu, best, off);
    int64_t i = __shfl_down_sync(0xffffffffu, best_i, off);
    if (argmax_better(v, i, best, best_i)) best = v, best_i = i;
  }
  return __shfl_sync(0xffffffffu, best_i, 0);
}

// logits is (N,K), labels (N,) int64 or targets (N,K), count (1,). One warp per row; per-block
// counts in shared memory, one atomicAdd per block (integers, so the order does not matter).
template <bool kOneHot>
__global__ void argmax_hits_kernel(const float* __restrict__ logits, const void* __restrict__ labels, int64_t N,
                                   int64_t K, float* count) {
  __shared__ unsigned hits;
  if (threadIdx.x == 0) hits = 0;
  __syncthreads();
  int lane = threadIdx.x % 32;
  int64_t warp = global_id() / 32, warps = grid_stride() / 32;
  unsigned mine = 0;
  for (int64_t r = warp; r < N; r += warps) {
    int64_t pred = warp_argmax(logits + r * K, K, lane);
    int64_t label = kOneHot ? warp_argmax(static_cast<const float*>(labels) + r * K, K, lane)
                            : static_cast<const int64_t*>(labels)[r];
    mine += pred == label;
  }
  if (lane == 0 && mine) atomicAdd(&hits, mine);
  __syncthreads();
  if (threadIdx.x == 0 && hits) atomicAdd(count, static_cast<float>(hits));
}

template <bool kOneHot>
void launch_argmax_hits(const float* logits, const void* labels, int64_t N, int64_t K, float* count,
                        cudaStream_t s) {
  if (N == 0) return;
  argmax_hits_kernel<kOneHot><<<blocks_for(N * 32, 4096), kThreads, 0, s>>>(logits, labels, N, K, count);
  check_launch("argmax_hits_kernel");
}

constexpr int kSumThreads = 1024;

// x is (n,), out (1,). One block: each thread sums a strided slice in double, then a tree in shared
// memory; the order is fixed, so the result is too.
__global__ void sum_into_kernel(const float* __restrict__ x, int64_t n, float* out) {
  __shared__ double part[kSumThreads];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += kSumThreads) acc += x[i];
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int w = kSumThreads / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[0] += static_cast<float>(part[0]);
}

template <class U>
__global__ void fill_kernel(U* y, int64_t n, U v) {
  for (int64_t i = global_id(); i < n; i += grid_stride()) y[i] = v;
}

}  // namespace

void add(const float* a, const float* b, float* y, int64_t n, cudaStream_t s) {
  launch_map(a, b, y, n, AddOp{}, s, "map_kernel<add>");
}

void scale(const float* x, float alpha, float* y, int64_t n, cudaStream_t s) {
  launch_map(x, nullptr, y, n, ScaleOp{alpha}, s, "map_kernel<scale>");
}

void copy_2d(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch, int64_t width, int64_t height,
             cudaStream_t s) {
  if (width == 0 || height == 0) return;
  if (dst_pitch == width && src_pitch == width) {  // contiguous on both sides: one long row
    width *= height;
    dst_pitch = src_pitch = width;
    height = 1;
  }
  // The widest unit (16, 8, 4, 2 or 1 bytes) that divides both addresses, both pitches and the width.
  auto fits = [&](int64_t u) {
    return aligned(dst, u) && aligned(src, u) && dst_pitch % u == 0 && src_pitch % u == 0 && width % u == 0;
  };
  if (fits(16)) {
    launch_copy_2d<uint4>(dst, dst_pitch, src, src_pitch, width, height, s);
  } else if (fits(8)) {
    launch_copy_2d<uint2>(dst, dst_pitch, src, src_pitch, width, height, s);
  } else if (fits(4)) {
    launch_copy_2d<uint32_t>(dst, dst_pitch, src, src_pitch, width, height, s);
  } else if (fits(2)) {
    launch_copy_2d<uint16_t>(dst, dst_pitch, src, src_pitch, width, height, s);
  } else {
    launch_copy_2d<uint8_t>(dst, dst_pitch, src, src_pitch, width, height, s);
  }
}

void take_rows_u8(const uint8_t* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, float scale, float* y,
                  cudaStream_t s) {
  launch_take_rows(src, M, L, idx, B, scale, y, s);
}

void take_rows_f32(const float* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, float scale, float* y,
                   cudaStream_t s) {
  launch_take_rows(src, M, L, idx, B, scale, y, s);
}

void take_labels_i64(const int64_t* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, int64_t* y,
                     cudaStream_t s) {
  launch_take_labels<int64_t>(src, M, L, idx, B, -1, y, s);
}

void take_labels_f32(const float* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, float* y,
                     cudaStream_t s) {
  launch_take_labels<float>(src, M, L, idx, B, std::nanf(""), y, s);
}

void argmax_hits(const float* logits, const int64_t* labels, int64_t N, int64_t K, float* count, cudaStream_t s) {
  launch_argmax_hits<false>(logits, labels, N, K, count, s);
}

void argmax_hits_onehot(const float* logits, const float* targets, int64_t N, int64_t K, float* count,
                        cudaStream_t s) {
  launch_argmax_hits<true>(logits, targets, N, K, count, s);
}

void sum_into(const float* x, int64_t n, float* out, cudaStream_t s) {
  if (n == 0) return;
  sum_into_kernel<<<1, kSumThreads, 0, s>>>(x, n, out);
  check_launch("sum_into_kernel");
}

void fill(void* y, int64_t n, int elem_bytes, uint64_t pattern, cudaStream_t s) {
  if (n == 0) return;
  if (pattern == 0 || elem_bytes == 1) {
    FASTCNN_CUDA_CHECK(cudaMemsetAsync(y, static_cast<int>(pattern & 0xff), static_cast<std::size_t>(n) * elem_bytes, s));
    return;
  }
  if (elem_bytes == 4) {
    fill_kernel<uint32_t><<<blocks_for(n), kThreads, 0, s>>>(static_cast<uint32_t*>(y), n,
                                                             static_cast<uint32_t>(pattern));
  } else {
    fill_kernel<unsigned long long><<<blocks_for(n), kThreads, 0, s>>>(static_cast<unsigned long long*>(y), n,
                                                                       pattern);
  }
  check_launch("fill_kernel");
}

}  // namespace fastcnn::cuda
