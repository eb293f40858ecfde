#include "ops/optim.h"

#include <cmath>

#include "cpu/kernels/optim.h"
#include "fastcnn/common.h"

namespace fastcnn::ops {

namespace {
// lo <= v (or lo < v) and v < hi (or v <= hi), and not NaN.
void check_range(const char* fn, const char* name, double v, double lo, bool lo_open, double hi,
                 bool hi_open) {
  const bool ok = (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  FASTCNN_CHECK(ok, fn, ": argument '", name, "' got ", v, ", needed a number in ",
                lo_open ? "(" : "[", lo, ", ", hi, hi_open ? ")" : "]");
}
constexpr double kInf = INFINITY;
}  // namespace

namespace {
void check_sgd(const char* fn, double lr, double momentum, bool nesterov, double weight_decay) {
  check_range(fn, "lr", lr, 0, false, kInf, true);
  check_range(fn, "momentum", momentum, 0, false, kInf, true);
  check_range(fn, "weight_decay", weight_decay, 0, false, kInf, true);
  FASTCNN_CHECK(!nesterov || momentum > 0, fn,
                ": argument 'nesterov' got True with momentum 0, needed momentum > 0");
}
}  // namespace

void sgd_step(float* param, const float* grad, float* velocity, int64_t n, double lr,
              double momentum, bool nesterov, double weight_decay) {
  const char* fn = "sgd_step";
  FASTCNN_CHECK(n >= 0, fn, ": negative size");
  check_sgd(fn, lr, momentum, nesterov, weight_decay);
  FASTCNN_CHECK(velocity || momentum == 0, fn,
                ": argument 'velocity' got None, needed an array when momentum != 0");
  FASTCNN_DISPATCH(sgd_step)(param, grad, momentum == 0 ? nullptr : velocity, n,
                             static_cast<float>(lr), static_cast<float>(momentum), nesterov,
                             static_cast<float>(weight_decay));
}

void sgd_step_many(float* const* param, const float* const* grad, float* const* velocity,
                   const int64_t* n, int64_t count, double lr, double momentum, bool nesterov,
                   double weight_decay) {
  const char* fn = "sgd_step_many";
  check_sgd(fn, lr, momentum, nesterov, weight_decay);
  for (int64_t i = 0; i < count; ++i) {  // every check before the first update
    FASTCNN_CHECK(n[i] >= 0, fn, ": negative size");
    FASTCNN_CHECK(velocity[i] || momentum == 0, fn, ": argument 'velocities[", i,
                  "]' got None, needed an array when momentum != 0");
  }
  const auto step = FASTCNN_DISPATCH(sgd_step);
  for (int64_t i = 0; i < count; ++i)
    step(param[i], grad[i], momentum == 0 ? nullptr : velocity[i], n[i], static_cast<float>(lr),
         static_cast<float>(momentum), nesterov, static_cast<float>(weight_decay));
}

void adam_step(float* param, const float* grad, float* m, float* v, int64_t n, int64_t step,
               double lr, double beta1, double beta2, double eps, double weight_decay,
               bool decoupled) {
  const char* fn = "adam_step";
  FASTCNN_CHECK(n >= 0, fn, ": negative size");
  FASTCNN_CHECK(step >= 1, fn, ": argument 'step' got ", step, ", needed an int >= 1");
  check_range(fn, "lr", lr, 0, false, kInf, true);
  check_range(fn, "beta1", beta1, 0, false, 1, true);
  check_range(fn, "beta2", beta2, 0, false, 1, true);
  check_range(fn, "eps", eps, 0, true, kInf, true);
  check_range(fn, "weight_decay", weight_decay, 0, false, kInf, true);
  const double bc1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1 - std::pow(beta2, static_cast<double>(step));
  AdamCoefs c;
  c.beta1 = static_cast<float>(beta1);
  c.one_minus_beta1 = static_cast<float>(1 - beta1);
  c.beta2 = static_cast<float>(beta2);
  c.one_minus_beta2 = static_cast<float>(1 - beta2);
  c.step_size = static_cast<float>(lr / bc1);
  c.inv_sqrt_bc2 = static_cast<float>(1 / std::sqrt(bc2));
  c.eps = static_cast<float>(eps);
  c.decay = static_cast<float>(decoupled ? 1 - lr * weight_decay : 1.0);
  c.weight_decay = static_cast<float>(decoupled ? 0.0 : weight_decay);
  FASTCNN_DISPATCH(adam_step)(param, grad, m, v, n, c);
}

void rmsprop_step(float* param, const float* grad, float* square_avg, int64_t n, double lr,
                  double alpha, double eps) {
  const char* fn = "rmsprop_step";
  FASTCNN_CHECK(n >= 0, fn, ": negative size");
  check_range(fn, "lr", lr, 0, false, kInf, true);
  check_range(fn, "alpha", alpha, 0, false, 1, false);
  check_range(fn, "eps", eps, 0, true, kInf, true);
  FASTCNN_DISPATCH(rmsprop_step)(param, grad, square_avg, n, static_cast<float>(lr),
                                 static_cast<float>(alpha), static_cast<float>(1 - alpha),
                                 static_cast<float>(eps));
}

}  // namespace fastcnn::ops
