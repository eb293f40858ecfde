// Fully connected layer on the shared GEMM.
#include "cpu/kernels/linear.h"

#include <algorithm>

#include "cpu/gemm/sgemm.h"
#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

// x is (N,C), w is (K,C), b is (K,) or null, y is (N,K): y = x w^T + b.
void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t N,
                    int64_t C, int64_t K) {
  if (N == 0 || K == 0) return;
  // The bias goes in with the first k-block's write (same bits as seeding y with it, one pass less).
  if (b)
    sgemm_bias(false, true, N, K, C, x, C, w, C, b, y, K);
  else
    sgemm(false, true, N, K, C, 1.f, x, C, w, C, 0.f, y, K);
}

// dy is (N,K), x is (N,C), w is (K,C); dx is (N,C) or null (skipped), dw is (K,C), db is (K,) or null.
void linear_backward(const float* dy, const float* x, const float* w, float* dx, float* dw,
                     float* db, int64_t N, int64_t C, int64_t K) {
  if (dx) sgemm(false, false, N, C, K, 1.f, dy, K, w, C, 0.f, dx, C);  // dx = dy w
  sgemm(true, false, K, C, N, 1.f, dy, K, x, C, 0.f, dw, C);   // dw = dy^T x
  if (!db) return;
  // db[k] = sum over n of dy[n,k], in double, rows in order; column blocks are independent.
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (K + kBlock - 1) / kBlock;
  parallel_for(0, blocks, std::max<int64_t>(1, kParallelGrain / (N * kBlock + 1)),
               [&](int64_t b0, int64_t b1) {
                 double acc[kBlock];
                 for (int64_t blk = b0; blk < b1; ++blk) {
                   const int64_t k0 = blk * kBlock, kn = std::min(kBlock, K - k0);
                   std::fill(acc, acc + kn, 0.0);
                   for (int64_t n = 0; n < N; ++n) {
                     const float* row = dy + n * K + k0;
                     for (int64_t k = 0; k < kn; ++k) acc[k] += row[k];
                   }
                   for (int64_t k = 0; k < kn; ++k) db[k0 + k] = static_cast<float>(acc[k]);
                 }
               });
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
