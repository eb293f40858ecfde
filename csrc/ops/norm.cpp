#include "ops/norm.h"

#include <algorithm>
#include <cmath>

#include "cpu/kernels/norm.h"
#include "fastcnn/common.h"

namespace fastcnn::ops {

namespace {

void check_sizes(const char* fn, int64_t N, int64_t C, int64_t S) {
  FASTCNN_CHECK(N >= 0 && C >= 0 && S >= 0, fn, ": negative size");
  checked_mul(checked_mul(N, C, fn), S, fn);
}

void check_bn(const char* fn, int64_t N, int64_t C, int64_t S, bool training,
              const float* running_mean, const float* running_var, double eps) {
  check_sizes(fn, N, C, S);
  FASTCNN_CHECK(std::isfinite(eps) && eps >= 0, fn, ": argument 'eps' got ", eps,
                ", needed a number >= 0");
  // PyTorch's rule: one value per channel has no variance to normalize with.
  FASTCNN_CHECK(!training || N * S != 1, fn, ": argument 'x' got ", N * S,
                " value per channel, needed more than 1 value per channel when training");
  FASTCNN_CHECK(training || (running_mean && running_var), fn,
                ": arguments 'running_mean' and 'running_var' got None, needed arrays in eval mode");
}

}  // namespace

void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* running_mean,
                        float* running_var, float* y, int64_t N, int64_t C, int64_t S,
                        bool training, double momentum, double eps) {
  const char* fn = "batch_norm";
  check_bn(fn, N, C, S, training, running_mean, running_var, eps);
  FASTCNN_CHECK(std::isfinite(momentum), fn, ": argument 'momentum' got ", momentum,
                ", needed a finite number");
  if (N * S == 0) return;  // nothing to normalize; running statistics stay as they are
  FASTCNN_DISPATCH(batch_norm_forward)(x, gamma, beta, running_mean, running_var, y, N, C, S,
                                       training, momentum, eps);
}

void batch_norm_backward(const float* dy, const float* x, const float* gamma,
                         const float* running_mean, const float* running_var, float* dx,
                         float* dgamma, float* dbeta, int64_t N, int64_t C, int64_t S,
                         bool training, double eps) {
  check_bn("batch_norm_backward", N, C, S, training, running_mean, running_var, eps);
  if (N * S == 0) {
    if (dgamma) std::fill(dgamma, dgamma + C, 0.f);
    if (dbeta) std::fill(dbeta, dbeta + C, 0.f);
    return;
  }
  FASTCNN_DISPATCH(batch_norm_backward)(dy, x, gamma, running_mean, running_var, dx, dgamma, dbeta,
                                        N, C, S, training, eps);
}

namespace {
void check_lrn(const char* fn, int64_t N, int64_t C, int64_t S, int64_t size) {
  check_sizes(fn, N, C, S);
  FASTCNN_CHECK(size >= 1, fn, ": argument 'size' got ", size, ", needed an int >= 1");
}
}  // namespace

void local_response_norm_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S,
                                 int64_t size, double alpha, double beta, double k) {
  check_lrn("local_response_norm", N, C, S, size);
  FASTCNN_DISPATCH(local_response_norm_forward)(x, y, N, C, S, size, static_cast<float>(alpha),
                                                static_cast<float>(beta), static_cast<float>(k));
}

void local_response_norm_backward(const float* dy, const float* x, float* dx, int64_t N, int64_t C,
                                  int64_t S, int64_t size, double alpha, double beta, double k) {
  check_lrn("local_response_norm_backward", N, C, S, size);
  FASTCNN_DISPATCH(local_response_norm_backward)(dy, x, dx, N, C, S, size,
                                                 static_cast<float>(alpha),
                                                 static_cast<float>(beta), static_cast<float>(k));
}

}  // namespace fastcnn::ops
