// Fused softmax + cross-entropy: each row's log-sum-exp in double, shifted by the row maximum.
#include "cpu/kernels/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

// Row max and log(sum(exp(z - max))) of one row of K logits.
inline void row_lse(const float* z, int64_t K, double& max, double& log_sum) {
  float m = z[0];
  for (int64_t k = 1; k < K; ++k) m = std::max(m, z[k]);
  if (std::isnan(m)) m = z[0];  // a NaN anywhere must reach the result, not be skipped by max
  double sum = 0;
  for (int64_t k = 0; k < K; ++k) sum += std::exp(static_cast<double>(z[k]) - m);
  max = m;
  log_sum = std::log(sum);
}

int64_t row_grain(int64_t K) { return kParallelGrain / std::max<int64_t>(1, 8 * K); }

}  // namespace

// z is (N,K), exactly one of ids (N,) / probs (N,K) is non-null (ids as one-hot rows t_n).
// Returns the mean over rows of -sum_k t_nk log softmax(z_n)_k; NaN for N == 0.
double cross_entropy_forward(const float* z, const int64_t* ids, const float* probs, int64_t N,
                             int64_t K) {
  if (N == 0) return std::nan("");
  static thread_local std::vector<double> row_loss;  // per-row losses, summed in row order
  row_loss.resize(N);
  double* rl = row_loss.data();
  parallel_for(0, N, row_grain(K), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const float* zr = z + n * K;
      double max, log_sum;
      row_lse(zr, K, max, log_sum);
      // -sum_k t_k log softmax_k = sum_k t_k (max - z_k) + sum(t) log_sum, kept in that form so
      // that log_sum is not lost against a huge max.
      if (ids) {
        rl[n] = (max - zr[ids[n]]) + log_sum;
      } else {
        const float* tr = probs + n * K;
        double st = 0, stz = 0;
        for (int64_t k = 0; k < K; ++k) {
          st += tr[k];
          stz += static_cast<double>(tr[k]) * (max - zr[k]);
        }
        rl[n] = stz + st * log_sum;
      }
    }
  });
  double total = 0;
  for (int64_t n = 0; n < N; ++n) total += rl[n];
  return total / N;
}

// z, dz are (N,K): the gradient of the mean loss, (softmax(z_n) * sum(t_n) - t_n) / N.
void cross_entropy_backward(const float* z, const int64_t* ids, const float* probs, float* dz,
                            int64_t N, int64_t K) {
  const double inv_n = 1.0 / static_cast<double>(N);
  parallel_for(0, N, row_grain(K), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const float* zr = z + n * K;
      float* dr = dz + n * K;
      double max, log_sum;
      row_lse(zr, K, max, log_sum);
      auto softmax = [&](int64_t k) { return std::exp((zr[k] - max) - log_sum); };
      if (ids) {
        for (int64_t k = 0; k < K; ++k) dr[k] = static_cast<float>(softmax(k) * inv_n);
        dr[ids[n]] = static_cast<float>((softmax(ids[n]) - 1.0) * inv_n);
      } else {
        const float* tr = probs + n * K;
        double st = 0;
        for (int64_t k = 0; k < K; ++k) st += tr[k];
        for (int64_t k = 0; k < K; ++k)
          dr[k] = static_cast<float>((softmax(k) * st - tr[k]) * inv_n);
      }
    }
  });
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
