// CUDA pooling kernels: one thread per output (forward) or per input element (backward, a gather
// over the windows that cover it), grid-stride, 64-bit indices. Each thread's work is a function of
// cuda/kernels/pool_math.h, which the host-side test runs too. Backward sums start from 0 and add
// in (oh, ow) order, the order of the CPU kernels' scatter, so dx matches the CPU bit for bit.
// Windows that tile x exactly take one thread per window instead (same values).
#include "cuda/kernels/pool.h"

#include "cuda/kernels/ops_common.cuh"

namespace fastcnn::cuda {

namespace {

using detail::global_thread;
using detail::grid_threads;
using detail::kThreads;

__global__ void max_pool2d_forward_kernel(const float* x, float* y, PoolGeometry p) {
  const int64_t total = p.N * p.C * p.P * p.Q;
  for (int64_t o = global_thread(); o < total; o += grid_threads()) y[o] = pool::max_pool_output(x, p, o);
}

__global__ void max_pool2d_backward_kernel(const float* dy, const float* x, float* dx, PoolGeometry p) {
  const int64_t total = p.N * p.C * p.H * p.W;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) dx[i] = pool::max_pool_input_grad(dy, x, p, i);
}

__global__ void avg_pool2d_forward_kernel(const float* x, float* y, PoolGeometry p) {
  const int64_t total = p.N * p.C * p.P * p.Q;
  for (int64_t o = global_thread(); o < total; o += grid_threads()) y[o] = pool::avg_pool_output(x, p, o);
}

__global__ void avg_pool2d_backward_kernel(const float* dy, float* dx, PoolGeometry p) {
  const int64_t total = p.N * p.C * p.H * p.W;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) dx[i] = pool::avg_pool_input_grad(dy, p, i);
}

// One thread per window when the windows tile x exactly (pool_math.h).
template <bool kMax>
__global__ void tiled_pool2d_backward_kernel(const float* dy, const float* x, float* dx, PoolGeometry p) {
  const int64_t total = p.N * p.C * p.P * p.Q;
  for (int64_t o = global_thread(); o < total; o += grid_threads()) pool::tiled_window_grad(kMax, dy, x, dx, p, o);
}

// One warp per plane: lane-strided double sums, then the warp's fixed tree.
__global__ void global_avg_pool2d_forward_kernel(const float* x, float* y, int64_t NC, int64_t HW) {
  const int lane = threadIdx.x % detail::kWarp;
  const int64_t warps = grid_threads() / detail::kWarp;
  for (int64_t plane = global_thread() / detail::kWarp; plane < NC; plane += warps) {
    const float* xp = x + plane * HW;
    double sum = 0.0;
    for (int64_t i = lane; i < HW; i += detail::kWarp) sum += static_cast<double>(xp[i]);
    sum = detail::warp_sum(sum);
    if (lane == 0) y[plane] = static_cast<float>(sum / static_cast<double>(HW));
  }
}

__global__ void global_avg_pool2d_backward_kernel(const float* dy, float* dx, int64_t NC, int64_t HW, float inv) {
  const int64_t total = NC * HW;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) dx[i] = dy[i / HW] * inv;
}

// Nothing to write: no outputs (forward) or no x elements (backward). An x with H or W = 0 can
// still have outputs (padding 1, kernel 2 gives one window per row): they are written, -inf (max)
// or 0 (avg) for a window without x elements, as on the CPU.
bool no_outputs(const PoolGeometry& p) { return p.N <= 0 || p.C <= 0 || p.P <= 0 || p.Q <= 0; }
bool no_inputs(const PoolGeometry& p) { return p.N <= 0 || p.C <= 0 || p.H <= 0 || p.W <= 0; }

}  // namespace

void max_pool2d_forward(const float* x, float* y, const PoolGeometry& p, cudaStream_t s) {
  if (no_outputs(p)) return;
  max_pool2d_forward_kernel<<<detail::grid_for(p.N * p.C * p.P * p.Q), kThreads, 0, s>>>(x, y, p);
  check_launch("max_pool2d_forward");
}

void max_pool2d_backward(const float* dy, const float* x, float* dx, const PoolGeometry& p, cudaStream_t s) {
  if (no_inputs(p)) return;
  if (pool::tiles_exactly(p)) {
    tiled_pool2d_backward_kernel<true><<<detail::grid_for(p.N * p.C * p.P * p.Q), kThreads, 0, s>>>(dy, x, dx, p);
    check_launch("max_pool2d_backward_tiled");
    return;
  }
  max_pool2d_backward_kernel<<<detail::grid_for(p.N * p.C * p.H * p.W), kThreads, 0, s>>>(dy, x, dx, p);
  check_launch("max_pool2d_backward");
}

void avg_pool2d_forward(const float* x, float* y, const PoolGeometry& p, cudaStream_t s) {
  if (no_outputs(p)) return;
  avg_pool2d_forward_kernel<<<detail::grid_for(p.N * p.C * p.P * p.Q), kThreads, 0, s>>>(x, y, p);
  check_launch("avg_pool2d_forward");
}

void avg_pool2d_backward(const float* dy, float* dx, const PoolGeometry& p, cudaStream_t s) {
  if (no_inputs(p)) return;
  if (pool::tiles_exactly(p)) {
    tiled_pool2d_backward_kernel<false><<<detail::grid_for(p.N * p.C * p.P * p.Q), kThreads, 0, s>>>(dy, nullptr,
                                                                                                    dx, p);
    check_launch("avg_pool2d_backward_tiled");
    return;
  }
  avg_pool2d_backward_kernel<<<detail::grid_for(p.N * p.C * p.H * p.W), kThreads, 0, s>>>(dy, dx, p);
  check_launch("avg_pool2d_backward");
}

void global_avg_pool2d_forward(const float* x, float* y, int64_t NC, int64_t HW, cudaStream_t s) {
  if (NC <= 0 || HW <= 0) return;
  global_avg_pool2d_forward_kernel<<<detail::grid_for(NC * detail::kWarp), kThreads, 0, s>>>(x, y, NC, HW);
  check_launch("global_avg_pool2d_forward");
}

void global_avg_pool2d_backward(const float* dy, float* dx, int64_t NC, int64_t HW, cudaStream_t s) {
  if (NC <= 0 || HW <= 0) return;
  const float inv = 1.0f / static_cast<float>(HW);
  global_avg_pool2d_backward_kernel<<<detail::grid_for(NC * HW), kThreads, 0, s>>>(dy, dx, NC, HW, inv);
  check_launch("global_avg_pool2d_backward");
}

}  // namespace fastcnn::cuda
