// Front end of the linear family: checks sizes, then calls the kernel for this CPU.
// x is (N,C), w is (K,C), b is (K,) or null, y is (N,K).
#pragma once
#include <cstdint>

namespace fastcnn::ops {

void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t C,
                    int64_t K);
// dy is (N,K); dx is (N,C) or null (skipped), dw is (K,C), db is (K,) or null.
void linear_backward(const float* dy, const float* x, const float* w, float* dx, float* dw,
                     float* db, int64_t N, int64_t C, int64_t K);

}  // namespace fastcnn::ops
