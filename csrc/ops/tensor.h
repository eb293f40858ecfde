// Front end of the tensor family: checks the row indices, then calls the kernel for this CPU.
// src is (M,L), idx is (B,), y is (B,L).
#pragma once
#include <cstdint>

namespace fastcnn::ops {

// y[b] = float32(src[idx[b]]) / divisor; every idx[b] must lie in [0, M).
void gather_rows_u8(const uint8_t* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, float divisor,
                  float* y);
void gather_rows_f32(const float* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, float divisor,
                   float* y);

}  // namespace fastcnn::ops
