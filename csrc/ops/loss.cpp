#include "ops/loss.h"

#include "cpu/kernels/loss.h"
#include "fastcnn/common.h"

namespace fastcnn::ops {

namespace {
void check(const char* fn, const int64_t* ids, const float* probs, int64_t N, int64_t K) {
  FASTCNN_CHECK(N >= 0 && K >= 0, fn, ": negative size");
  checked_mul(N, K, fn);
  FASTCNN_CHECK((ids == nullptr) != (probs == nullptr), fn,
                ": exactly one of class ids and probabilities is needed");
  FASTCNN_CHECK(N == 0 || K >= 1, fn, ": argument 'logits' got 0 classes, needed at least 1");
  if (!ids) return;
  for (int64_t n = 0; n < N; ++n)
    FASTCNN_CHECK(ids[n] >= 0 && ids[n] < K, fn, ": argument 'target' got class id ", ids[n],
                  " at index ", n, ", needed ids in [0, ", K, ")");
}
}  // namespace

double cross_entropy_forward(const float* z, const int64_t* ids, const float* probs, int64_t N,
                             int64_t K) {
  check("cross_entropy", ids, probs, N, K);
  return FASTCNN_DISPATCH(cross_entropy_forward)(z, ids, probs, N, K);
}

void cross_entropy_backward(const float* z, const int64_t* ids, const float* probs, float* dz,
                            int64_t N, int64_t K) {
  check("cross_entropy_backward", ids, probs, N, K);
  if (N == 0) return;
  FASTCNN_DISPATCH(cross_entropy_backward)(z, ids, probs, dz, N, K);
}

double cross_entropy_forward_backward(const float* z, const int64_t* ids, float* dz, int64_t N,
                                      int64_t K, int64_t* hits) {
  FASTCNN_CHECK(ids != nullptr, "cross_entropy_forward_backward: class ids are needed");
  check("cross_entropy_forward_backward", ids, nullptr, N, K);
  return FASTCNN_DISPATCH(cross_entropy_forward_backward)(z, ids, dz, N, K, hits);
}

}  // namespace fastcnn::ops
