// Front end of the norm family: checks sizes and parameters, then calls the kernel for this CPU.
// x is (N,C,S), S the product of the spatial extents (1 for (N,C) input); per-channel arrays are (C,).
#pragma once
#include <cstdint>

namespace fastcnn::ops {

// gamma/beta null: 1 and 0. Training: running arrays may be null (not tracked); N*S == 1 is an
// error, N*S == 0 does nothing. Eval: running arrays required.
void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* running_mean,
                        float* running_var, float* y, int64_t N, int64_t C, int64_t S,
                        bool training, double momentum, double eps);
// dgamma/dbeta may be null (not wanted); dgamma/dbeta are zero when N*S == 0.
void batch_norm_backward(const float* dy, const float* x, const float* gamma,
                         const float* running_mean, const float* running_var, float* dx,
                         float* dgamma, float* dbeta, int64_t N, int64_t C, int64_t S,
                         bool training, double eps);

void local_response_norm_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S,
                                 int64_t size, double alpha, double beta, double k);
void local_response_norm_backward(const float* dy, const float* x, float* dx, int64_t N, int64_t C,
                                  int64_t S, int64_t size, double alpha, double beta, double k);

}  // namespace fastcnn::ops
