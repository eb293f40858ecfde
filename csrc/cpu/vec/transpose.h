// 8x8 transpose of float vectors in registers: the layout changes between channel-major and
// lane-major tiles (Winograd's transforms, the direct kernels' copy-outs, samples-in-lanes packing).
#pragma once
#include "cpu/vec/vec.h"

namespace fastcnn::vec {

// c[j] = column j of the 8x8 block r (c[j][i] = r[i][j]): three rounds of shuffles.
static inline void transpose8(const F32x8 r[8], F32x8 c[8]) {
  F32x8 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {  // t[i], t[i+1]: rows i, i+1 interleaved (columns 0,1,4,5 / 2,3,6,7)
    t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4)  // u[i + j]: rows i..i+3 of columns j and j + 4
    for (int h = 0; h < 2; ++h) {
      u[i + 2 * h] = __builtin_shufflevector(t[i + h], t[i + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      u[i + 2 * h + 1] = __builtin_shufflevector(t[i + h], t[i + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  for (int j = 0; j < 4; ++j) {
    c[j] = __builtin_shufflevector(u[j], u[j + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    c[j + 4] = __builtin_shufflevector(u[j], u[j + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

}  // namespace fastcnn::vec
