// Front end of the optim family: checks hyperparameters, then calls the kernel for this CPU.
// Every array is (n,) (a parameter and its state, flattened); updates are in place.
#pragma once
#include <cstdint>

namespace fastcnn::ops {

// velocity may be null only when momentum == 0.
void sgd_step(float* param, const float* grad, float* velocity, int64_t n, double lr,
              double momentum, bool nesterov, double weight_decay);
// sgd_step for `count` parameters with one set of hyperparameters (an optimizer step over a whole
// model in one call): param[i], grad[i], velocity[i] have n[i] elements; the same bits as count
// sgd_step calls.
void sgd_step_many(float* const* param, const float* const* grad, float* const* velocity,
                   const int64_t* n, int64_t count, double lr, double momentum, bool nesterov,
                   double weight_decay);
// step is the 1-based count of steps taken, this one included.
void adam_step(float* param, const float* grad, float* m, float* v, int64_t n, int64_t step,
               double lr, double beta1, double beta2, double eps, double weight_decay,
               bool decoupled);
void rmsprop_step(float* param, const float* grad, float* square_avg, int64_t n, double lr,
                  double alpha, double eps);

}  // namespace fastcnn::ops
