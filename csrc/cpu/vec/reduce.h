// Vectorizable sums in double with a fixed order: 8 interleaved partial sums (lane l takes the
// terms i = l mod 8, the tail goes to lanes 0..), added pairwise at the end. The order depends on n
// only, so results never depend on the thread count. Plain code, usable from every ISA namespace.
#pragma once
#include <cstdint>

namespace fastcnn::vec {

// sum over i in [0, n) of term(i), term returning double.
template <typename Term>
inline double sum_f64(int64_t n, const Term& term) {
  constexpr int64_t kLanes = 8;
  double lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) lane[l] += term(i + l);
  for (int64_t l = 0; i < n; ++i, ++l) lane[l] += term(i);
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

}  // namespace fastcnn::vec
