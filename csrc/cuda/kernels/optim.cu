// CUDA optimizer steps: grid-stride loops over float4 groups when every array is 16-byte aligned,
// then a scalar tail.
#include "cuda/kernels/optim.h"

#include "cuda/kernels/ops_common.cuh"

namespace fastcnn::cuda {

namespace {

using detail::global_thread;
using detail::grid_threads;
using detail::kThreads;

// velocity null: plain SGD (a null pointer counts as aligned).
template <bool kVec>
__global__ void sgd_kernel(float* param, const float* grad, float* velocity, int64_t n, float lr, float momentum,
                           bool nesterov, float weight_decay) {
  const int64_t t = global_thread(), stride = grid_threads();
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n / 4;
    float4* p4 = reinterpret_cast<float4*>(param);
    const float4* g4 = reinterpret_cast<const float4*>(grad);
    float4* v4 = reinterpret_cast<float4*>(velocity);
    for (int64_t i = t; i < n4; i += stride) {
      float4 p = p4[i];
      const float4 g = g4[i];
      if (velocity) {
        float4 v = v4[i];
        math::sgd_momentum_update(p.x, v.x, g.x, lr, momentum, nesterov, weight_decay);
        math::sgd_momentum_update(p.y, v.y, g.y, lr, momentum, nesterov, weight_decay);
        math::sgd_momentum_update(p.z, v.z, g.z, lr, momentum, nesterov, weight_decay);
        math::sgd_momentum_update(p.w, v.w, g.w, lr, momentum, nesterov, weight_decay);
        v4[i] = v;
      } else {
        math::sgd_update(p.x, g.x, lr, weight_decay);
        math::sgd_update(p.y, g.y, lr, weight_decay);
        math::sgd_update(p.z, g.z, lr, weight_decay);
        math::sgd_update(p.w, g.w, lr, weight_decay);
      }
      p4[i] = p;
    }
    done = n4 * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) {
    if (velocity)
      math::sgd_momentum_update(param[i], velocity[i], grad[i], lr, momentum, nesterov, weight_decay);
    else
      math::sgd_update(param[i], grad[i], lr, weight_decay);
  }
}

template <bool kVec>
__global__ void adam_kernel(float* param, const float* grad, float* m, float* v, int64_t n, math::AdamCoefs c) {
  const int64_t t = global_thread(), stride = grid_threads();
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n / 4;
    for (int64_t i = t; i < n4; i += stride) {
      float4 p = reinterpret_cast<float4*>(param)[i];
      float4 mi = reinterpret_cast<float4*>(m)[i];
      float4 vi = reinterpret_cast<float4*>(v)[i];
      const float4 g = reinterpret_cast<const float4*>(grad)[i];
      math::adam_update(p.x, mi.x, vi.x, g.x, c);
      math::adam_update(p.y, mi.y, vi.y, g.y, c);
      math::adam_update(p.z, mi.z, vi.z, g.z, c);
      math::adam_update(p.w, mi.w, vi.w, g.w, c);
      reinterpret_cast<float4*>(param)[i] = p;
      reinterpret_cast<float4*>(m)[i] = mi;
      reinterpret_cast<float4*>(v)[i] = vi;
    }
    done = n4 * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) math::adam_update(param[i], m[i], v[i], grad[i], c);
}

template <bool kVec>
__global__ void rmsprop_kernel(float* param, const float* grad, float* square_avg, int64_t n, float lr, float alpha,
                               float one_minus_alpha, float eps) {
  const int64_t t = global_thread(), stride = grid_threads();
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n / 4;
    for (int64_t i = t; i < n4; i += stride) {
      float4 p = reinterpret_cast<float4*>(param)[i];
      float4 sq = reinterpret_cast<float4*>(square_avg)[i];
      const float4 g = reinterpret_cast<const float4*>(grad)[i];
      math::rmsprop_update(p.x, sq.x, g.x, lr, alpha, one_minus_alpha, eps);
      math::rmsprop_update(p.y, sq.y, g.y, lr, alpha, one_minus_alpha, eps);
      math::rmsprop_update(p.z, sq.z, g.z, lr, alpha, one_minus_alpha, eps);
      math::rmsprop_update(p.w, sq.w, g.w, lr, alpha, one_minus_alpha, eps);
      reinterpret_cast<float4*>(param)[i] = p;
      reinterpret_cast<float4*>(square_avg)[i] = sq;
    }
    done = n4 * 4;
  }
  for (int64_t i = done + t; i < n; i += stride)
    math::rmsprop_update(param[i], square_avg[i], grad[i], lr, alpha, one_minus_alpha, eps);
}

unsigned grid_of(int64_t n, bool vec) { return detail::grid_for(vec ? (n + 3) / 4 : n); }

}  // namespace

void sgd_step(float* param, const float* grad, float* velocity, int64_t n, float lr, float momentum, bool nesterov,
              float weight_decay, cudaStream_t s) {
  if (n <= 0) return;
  const bool vec = detail::aligned(param, 16) && detail::aligned(grad, 16) && detail::aligned(velocity, 16);
  if (vec)
    sgd_kernel<true><<<grid_of(n, vec), kThreads, 0, s>>>(param, grad, velocity, n, lr, momentum, nesterov,
                                                          weight_decay);
  else
    sgd_kernel<false><<<grid_of(n, vec), kThreads, 0, s>>>(param, grad, velocity, n, lr, momentum, nesterov,
                                                           weight_decay);
  check_launch("sgd_step");
}

void adam_step(float* param, const float* grad, float* m, float* v, int64_t n, const math::AdamCoefs& c,
               cudaStream_t s) {
  if (n <= 0) return;
  const bool vec = detail::aligned(param, 16) && detail::aligned(grad, 16) && detail::aligned(m, 16) &&
                   detail::aligned(v, 16);
  if (vec)
    adam_kernel<true><<<grid_of(n, vec), kThreads, 0, s>>>(param, grad, m, v, n, c);
  else
    adam_kernel<false><<<grid_of(n, vec), kThreads, 0, s>>>(param, grad, m, v, n, c);
  check_launch("adam_step");
}

void rmsprop_step(float* param, const float* grad, float* square_avg, int64_t n, float lr, float alpha,
                  float one_minus_alpha, float eps, cudaStream_t s) {
  if (n <= 0) return;
  const bool vec = detail::aligned(param, 16) && detail::aligned(grad, 16) && detail::aligned(square_avg, 16);
  if (vec)
    rmsprop_kernel<true><<<grid_of(n, vec), kThreads, 0, s>>>(param, grad, square_avg, n, lr, alpha, one_minus_alpha,
                                                              eps);
  else
    rmsprop_kernel<false><<<grid_of(n, vec), kThreads, 0, s>>>(param, grad, square_avg, n, lr, alpha,
                                                               one_minus_alpha, eps);
  check_launch("rmsprop_step");
}

}  // namespace fastcnn::cuda
