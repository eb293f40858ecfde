// Kernels of the tensor family (data movement), declared once per built ISA (see fastcnn/dispatch.h).
// src is (M,L) (rows of a data set, flattened), idx is (B,) row numbers in [0, M), y is (B,L).
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_TENSOR_KERNELS                                                                  \
  void gather_rows_u8(const uint8_t* src, int64_t L, const int64_t* idx, int64_t B, float divisor, \
                    float* y);                                                                  \
  void gather_rows_f32(const float* src, int64_t L, const int64_t* idx, int64_t B, float divisor,  \
                     float* y);

FASTCNN_DECLARE_KERNELS(FASTCNN_TENSOR_KERNELS)
