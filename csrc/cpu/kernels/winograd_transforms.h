// What Winograd F(4x4, 3x3) (winograd.cpp) and F(2x2, 5x5) (winograd5.cpp) share: both interpolate
// at 0, +-1, +-2 and infinity over 6x6 tiles, so B^T is the same matrix, and their filter
// transforms differ only in G (6 x R). Header-only, for any GCC vector type V (F32x8, F32v): one
// source, the same bits. Inside the ISA's namespace (kernel files only): each ISA's objects keep
// their own instantiation.
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

// d = B^T d B for a 6x6 tile d[6i + j] (row i, column j), in place: columns, then rows.
template <typename V>
inline void input_tile(V* d) {
  V t[36];
  for (int j = 0; j < 6; ++j)
    input_1d(d[j], d[6 + j], d[12 + j], d[18 + j], d[24 + j], d[30 + j], t + j, 6);
  for (int i = 0; i < 6; ++i)
    input_1d(t[6 * i], t[6 * i + 1], t[6 * i + 2], t[6 * i + 3], t[6 * i + 4], t[6 * i + 5],
             d + 6 * i, 1);
}

// u[6i + j] = (G g G^T)[i][j] for the R x R filter g (row-major), in double; each sum starts from
// its first product.
template <int R>
inline void filter_transform(const double (&G)[6][R], const float* g, double* u) {
  double gt[6][R];  // G g
  for (int i = 0; i < 6; ++i)
    for (int s = 0; s < R; ++s) {
      double acc = G[i][0] * g[s];
      for (int r = 1; r < R; ++r) acc += G[i][r] * g[r * R + s];
      gt[i][s] = acc;
    }
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) {
      double acc = gt[i][0] * G[j][0];
      for (int s = 1; s < R; ++s) acc += gt[i][s] * G[j][s];
      u[6 * i + j] = acc;
    }
}

// dg = G^T du G (R x R, row-major) for du[6i + j], in double: the adjoint of filter_transform,
// which maps the transform-domain weight gradient back to the filter's taps.
template <int R>
inline void filter_transform_adjoint(const double (&G)[6][R], const double* du, double* dg) {
  double t[6][R];  // du G
  for (int i = 0; i < 6; ++i)
    for (int s = 0; s < R; ++s) {
      double acc = 0;
      for (int j = 0; j < 6; ++j) acc += du[6 * i + j] * G[j][s];
      t[i][s] = acc;
    }
  for (int r = 0; r < R; ++r)
    for (int s = 0; s < R; ++s) {
      double acc = 0;
      for (int i = 0; i < 6; ++i) acc += G[i][r] * t[i][s];
      dg[r * R + s] = acc;
    }
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME::winograd_common
