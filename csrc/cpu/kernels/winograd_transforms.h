// The input transform shared by Winograd F(4x4, 3x3) (winograd.cpp) and F(2x2, 5x5)
// (winograd5.cpp): both interpolate at 0, +-1, +-2 and infinity over 6x6 tiles, so B^T is the same
// matrix. Header-only, for any GCC vector type V (F32x8, F32v): one source, the same bits. Inside
// the ISA's namespace (kernel files only): each ISA's objects keep their own instantiation.
#pragma once
#include <cstdint>

namespace fastcnn::cpu::FASTCNN_ISA_NAME::winograd_common {

// t = B^T d for a column of 6 values (t[i * ts]).
template <typename V>
inline void input_1d(V d0, V d1, V d2, V d3, V d4, V d5, V* t, int64_t ts) {
  const V two = V{} + 2.f, four = V{} + 4.f, five = V{} + 5.f;
  t[0] = four * d0 - five * d2 + d4;
  t[ts] = (d4 + d3) - four * (d1 + d2);
  t[2 * ts] = (d4 - d3) + four * (d1 - d2);
  t[3 * ts] = (d4 - d2) + two * (d3 - d1);
  t[4 * ts] = (d4 - d2) - two * (d3 - d1);
  t[5 * ts] = four * d1 - five * d3 + d5;
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME::winograd_common
