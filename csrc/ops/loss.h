// Front end of the loss family: checks sizes and class ids, then calls the kernel for this CPU.
// z (logits) is (N,K); exactly one of ids (N,) / probs (N,K) is non-null.
#pragma once
#include <cstdint>

namespace fastcnn::ops {

// Mean cross-entropy over the N rows (NaN when N == 0).
double cross_entropy_forward(const float* z, const int64_t* ids, const float* probs, int64_t N,
                             int64_t K);
// dz is (N,K): the gradient of the mean loss.
void cross_entropy_backward(const float* z, const int64_t* ids, const float* probs, float* dz,
                            int64_t N, int64_t K);
// Both of the above for class ids in one pass, and *hits = the rows whose argmax (the first
// maximum, as numpy's) is the class id; returns the mean loss. dz must not overlap z.
double cross_entropy_forward_backward(const float* z, const int64_t* ids, float* dz, int64_t N,
                                      int64_t K, int64_t* hits);

}  // namespace fastcnn::ops
