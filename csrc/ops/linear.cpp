#include "ops/linear.h"

#include "cpu/kernels/linear.h"
#include "fastcnn/common.h"

namespace fastcnn::ops {

namespace {
void check_sizes(const char* fn, int64_t N, int64_t C, int64_t K) {
  FASTCNN_CHECK(N >= 0 && C >= 0 && K >= 0, fn, ": negative size");
  checked_mul(N, C, fn);
  checked_mul(N, K, fn);
  checked_mul(K, C, fn);
}
}  // namespace

void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t C,
                    int64_t K) {
  check_sizes("linear", N, C, K);
  FASTCNN_DISPATCH(linear_forward)(x, w, b, y, N, C, K);
}

void linear_backward(const float* dy, const float* x, const float* w, float* dx, float* dw,
                     float* db, int64_t N, int64_t C, int64_t K) {
  check_sizes("linear_backward", N, C, K);
  FASTCNN_DISPATCH(linear_backward)(dy, x, w, dx, dw, db, N, C, K);
}

}  // namespace fastcnn::ops
