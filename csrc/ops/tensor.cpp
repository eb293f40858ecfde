#include "ops/tensor.h"

#include <cmath>

#include "cpu/kernels/tensor.h"
#include "fastcnn/common.h"

namespace fastcnn::ops {

namespace {
void check(const char* fn, int64_t M, int64_t L, const int64_t* idx, int64_t B, float divisor) {
  FASTCNN_CHECK(M >= 0 && L >= 0 && B >= 0, fn, ": negative size");
  checked_mul(M, L, fn);
  checked_mul(B, L, fn);
  FASTCNN_CHECK(std::isfinite(divisor) && divisor != 0.f, fn, ": argument 'divisor' got ", divisor,
                ", needed a finite non-zero number");
  for (int64_t b = 0; b < B; ++b)
    FASTCNN_CHECK(idx[b] >= 0 && idx[b] < M, fn, ": argument 'idx' got row ", idx[b], " at index ", b,
                  ", needed rows in [0, ", M, ")");
}
}  // namespace

void gather_rows_u8(const uint8_t* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, float divisor,
                  float* y) {
  check("gather_rows", M, L, idx, B, divisor);
  if (B == 0 || L == 0) return;
  FASTCNN_DISPATCH(gather_rows_u8)(src, L, idx, B, divisor, y);
}

void gather_rows_f32(const float* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, float divisor,
                   float* y) {
  check("gather_rows", M, L, idx, B, divisor);
  if (B == 0 || L == 0) return;
  FASTCNN_DISPATCH(gather_rows_f32)(src, L, idx, B, divisor, y);
}

}  // namespace fastcnn::ops
