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

// param, grad, m, v are (n,).
void adam_step(float* param, const float* grad, float* m, float* v, int64_t n, const AdamCoefs& c) {
  const AdamCoefs k = c;  // by value: the loop reads registers, not memory that param may alias
  parallel_for(0, n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float g = grad[i] + decay_term(k.weight_decay, param[i]);
      const float mi = k.beta1 * m[i] + k.one_minus_beta1 * g;
      const float vi = k.beta2 * v[i] + k.one_minus_beta2 * g * g;
      m[i] = mi;
      v[i] = vi;
      param[i] = param[i] * k.decay - k.step_size * mi / (std::sqrt(vi) * k.inv_sqrt_bc2 + k.eps);
    }
  });
}

// param, grad, square_avg are (n,).
void rmsprop_step(float* param, const float* grad, float* square_avg, int64_t n, float lr,
                  float alpha, float one_minus_alpha, float eps) {
  parallel_for(0, n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float g = grad[i];
      const float sq = alpha * square_avg[i] + one_minus_alpha * g * g;
      square_avg[i] = sq;
      param[i] -= lr * g / (std::sqrt(sq) + eps);
    }
  });
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
