// Per-element math of the CUDA activation, dropout and optimizer kernels, as __host__ __device__
// inline functions: the same formulas, comparisons and NaN rules as the CPU kernels
// (csrc/cpu/kernels/act.cpp, optim.cpp), written once here so that a plain C++ driver
// (tests/test_cuda_ops_math.py) can check them without a GPU. Transcendentals are the C library's
// expf / expm1f / tanhf (CUDA's device versions on the GPU, within 2 ulp): close to the CPU's
// vec::math results, not bit-identical. The random draws (rrelu, dropout) ARE bit-identical: the
// same splitmix64 stream, element i's draw a hash of (seed, i).
//
// Plain C++: compiles with g++ (no CUDA headers) and with nvcc.
#pragma once
#include <math.h>

#include <cstdint>

#if defined(__CUDACC__)
#define FASTCNN_HD __host__ __device__ __forceinline__
#else
#define FASTCNN_HD inline
#endif

namespace fastcnn::cuda::math {

// ---- counter-based random numbers: csrc/cpu/kernels/act.cpp's stream ---------------------------
// splitmix64: the stream for `seed` visits key + (i+1)*gamma, key = mix64(seed + gamma).
constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;

FASTCNN_HD uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
FASTCNN_HD uint64_t stream_key(uint64_t seed) { return mix64(seed + kGamma); }
// Element i's uniform draw in [0,1), 24 random bits (exact in float).
FASTCNN_HD float uniform01(uint64_t key, uint64_t i) {
  return static_cast<float>(mix64(key + (i + 1) * kGamma) >> 40) * 0x1.0p-24f;
}

// ---- activations (dy: the incoming gradient) -----------------------------------------------------

FASTCNN_HD float relu(float x) { return (x > 0.0f || x != x) ? x : 0.0f; }  // NaN stays NaN
// 0 at x == 0 (PyTorch's threshold_backward); a NaN x passes dy through, as on the CPU.
FASTCNN_HD float relu_grad(float dy, float x) { return x <= 0.0f ? 0.0f : dy; }

FASTCNN_HD float leaky_relu(float x, float alpha) { return x > 0.0f ? x : x * alpha; }
FASTCNN_HD float leaky_relu_grad(float dy, float x, float alpha) { return x > 0.0f ? dy : dy * alpha; }

FASTCNN_HD float prelu(float x, float a) { return x > 0.0f ? x : a * x; }
FASTCNN_HD float prelu_grad(float dy, float x, float a) { return x > 0.0f ? dy : a * dy; }
// This element's term of dalpha (summed in double).
FASTCNN_HD double prelu_dalpha_term(float dy, float x) { return x > 0.0f ? 0.0 : static_cast<double>(x) * dy; }

// rrelu's slope of element i: 1 where x >= 0, else lower + draw * (upper - lower) in training,
// (lower + upper) / 2 otherwise. y = x * slope. The draw is scaled with one fused multiply-add,
// as the CPU kernel compiled for AVX2+FMA computes it (GCC contracts it there), so the slopes are
// bit-identical to the CPU's on any x86 CPU with FMA (the CPU's no-FMA baseline build may differ
// in the last bit).
FASTCNN_HD float rrelu_slope(float x, uint64_t i, uint64_t key, float lower, float range, float mid, bool training) {
  const float neg = training ? fmaf(uniform01(key, i), range, lower) : mid;
  return x >= 0.0f ? 1.0f : neg;
}

FASTCNN_HD float elu(float x, float alpha) { return x > 0.0f ? x : alpha * expm1f(x); }
FASTCNN_HD float elu_grad(float dy, float x, float alpha) { return x > 0.0f ? dy : dy * alpha * expf(x); }

// 1 / (1 + e^-x) from t = e^-|x| (nothing overflows).
FASTCNN_HD float sigmoid(float x) {
  const float t = expf(-fabsf(x));
  return (x < 0.0f ? t : 1.0f) / (1.0f + t);
}
// s(1-s) = t/(1+t)^2: no cancellation for large |x|.
FASTCNN_HD float sigmoid_grad(float dy, float x) {
  const float t = expf(-fabsf(x)), d = 1.0f + t;
  return dy * (t / (d * d));
}

FASTCNN_HD float tanh_fwd(float x) { return tanhf(x); }
// 1 - tanh^2 = 4t/(1+t)^2 with t = e^(-2|x|).
FASTCNN_HD float tanh_grad(float dy, float x) {
  const float t = expf(-2.0f * fabsf(x)), d = 1.0f + t;
  return dy * (4.0f * t / (d * d));
}

// ---- dropout: keep (mask 1) when the draw is >= p; scale = 1 / (1 - p) in float -----------------
FASTCNN_HD bool dropout_keep(uint64_t key, uint64_t i, float p) { return uniform01(key, i) >= p; }
// x * mask * scale as x * (mask * scale): Inf * 0 gives NaN, as in PyTorch and on the CPU.
FASTCNN_HD float dropout_apply(float x, bool keep, float scale) { return x * (static_cast<float>(keep) * scale); }

// ---- optimizers (PyTorch's update rules, in place) ------------------------------------------------

// weight_decay * p, skipped when the decay is 0 so that an infinite p stays infinite.
FASTCNN_HD float decay_term(float weight_decay, float p) { return weight_decay != 0.f ? weight_decay * p : 0.f; }

FASTCNN_HD void sgd_update(float& p, float grad, float lr, float weight_decay) {
  p -= lr * (grad + decay_term(weight_decay, p));
}
FASTCNN_HD void sgd_momentum_update(float& p, float& velocity, float grad, float lr, float momentum, bool nesterov,
                                    float weight_decay) {
  const float g = grad + decay_term(weight_decay, p);
  const float buf = momentum * velocity + g;
  velocity = buf;
  p -= lr * (nesterov ? g + momentum * buf : buf);
}

// Adam's constants for one step, computed in double on the host and rounded once to float
// (the same values as the CPU front end, csrc/ops/optim.cpp).
struct AdamCoefs {
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float step_size;     // lr / (1 - beta1^step)
  float inv_sqrt_bc2;  // 1 / sqrt(1 - beta2^step)
  float eps;
  float decay;         // AdamW's 1 - lr * weight_decay (1 for Adam)
  float weight_decay;  // Adam's L2 term added to the gradient (0 for AdamW)
};

inline AdamCoefs adam_coefs(int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay,
                            bool decoupled) {
  const double bc1 = 1 - pow(beta1, static_cast<double>(step));
  const double bc2 = 1 - pow(beta2, static_cast<double>(step));
  AdamCoefs c;
  c.beta1 = static_cast<float>(beta1);
  c.one_minus_beta1 = static_cast<float>(1 - beta1);
  c.beta2 = static_cast<float>(beta2);
  c.one_minus_beta2 = static_cast<float>(1 - beta2);
  c.step_size = static_cast<float>(lr / bc1);
  c.inv_sqrt_bc2 = static_cast<float>(1 / sqrt(bc2));
  c.eps = static_cast<float>(eps);
  c.decay = static_cast<float>(decoupled ? 1 - lr * weight_decay : 1.0);
  c.weight_decay = static_cast<float>(decoupled ? 0.0 : weight_decay);
  return c;
}

FASTCNN_HD void adam_update(float& p, float& m, float& v, float grad, const AdamCoefs& k) {
  const float g = grad + decay_term(k.weight_decay, p);
  const float mi = k.beta1 * m + k.one_minus_beta1 * g;
  const float vi = k.beta2 * v + k.one_minus_beta2 * g * g;
  m = mi;
  v = vi;
  p = p * k.decay - k.step_size * mi / (sqrtf(vi) * k.inv_sqrt_bc2 + k.eps);
}

FASTCNN_HD void rmsprop_update(float& p, float& square_avg, float g, float lr, float alpha, float one_minus_alpha,
                               float eps) {
  const float sq = alpha * square_avg + one_minus_alpha * g * g;
  square_avg = sq;
  p -= lr * g / (sqrtf(sq) + eps);
}

}  // namespace fastcnn::cuda::math
