// Optimizer steps (PyTorch's formulas), elementwise and in place.
#include "cpu/kernels/optim.h"

#include <cmath>

#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {
// weight_decay * p, skipped (as PyTorch does) when the decay is 0, so that an infinite p stays
// infinite instead of turning the update into NaN. The condition is loop-invariant (unswitched).
inline float decay_term(float weight_decay, float p) {
  return weight_decay != 0.f ? weight_decay * p : 0.f;
}
}  // namespace

// param, grad, velocity are (n,); velocity is null when momentum == 0.
void sgd_step(float* param, const float* grad, float* velocity, int64_t n, float lr,
              float momentum, bool nesterov, float weight_decay) {
  parallel_for(0, n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    if (!velocity) {
      for (int64_t i = i0; i < i1; ++i)
        param[i] -= lr * (grad[i] + decay_term(weight_decay, param[i]));
      return;
    }
    for (int64_t i = i0; i < i1; ++i) {
      const float g = grad[i] + decay_term(weight_decay, param[i]);
      const float buf = momentum * velocity[i] + g;
      velocity[i] = buf;
      param[i] -= lr * (nesterov ? g + momentum * buf : buf);
    }
  });
}

// param, grad, m, v are (n,); bias_correction<i> = 1 - beta<i>^step.
void adam_step(float* param, const float* grad, float* m, float* v, int64_t n, float lr,
               float beta1, float beta2, float eps, float weight_decay, bool decoupled,
               double bias_correction1, double bias_correction2) {
  const float step_size = static_cast<float>(lr / bias_correction1);
  const float inv_bc2_sqrt = static_cast<float>(1.0 / std::sqrt(bias_correction2));
  const float decay = decoupled ? 1.f - lr * weight_decay : 1.f;
  const float coupled_wd = decoupled ? 0.f : weight_decay;
  parallel_for(0, n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float p = param[i] * decay;
      const float g = grad[i] + decay_term(coupled_wd, param[i]);
      const float mi = beta1 * m[i] + (1.f - beta1) * g;
      const float vi = beta2 * v[i] + (1.f - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      param[i] = p - step_size * mi / (std::sqrt(vi) * inv_bc2_sqrt + eps);
    }
  });
}

// param, grad, square_avg are (n,).
void rmsprop_step(float* param, const float* grad, float* square_avg, int64_t n, float lr,
                  float alpha, float eps) {
  parallel_for(0, n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float g = grad[i];
      const float sq = alpha * square_avg[i] + (1.f - alpha) * g * g;
      square_avg[i] = sq;
      param[i] -= lr * g / (std::sqrt(sq) + eps);
    }
  });
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
