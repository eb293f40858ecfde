// Fused softmax + cross-entropy: each row's log-sum-exp shifted by the row maximum, exp in float
// (vec::exp_f, vectorized), the sum and the log in double.
// cross_entropy_forward_backward is the host training step's one call: both passes for class ids
// and the accuracy count, from the same per-row helpers as the separate kernels (same bits).
#include "cpu/kernels/loss.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "cpu/vec/math.h"
#include "cpu/vec/reduce.h"
#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

// Row max of one row of K logits, e = exp(z - max) into e (K floats), and sum(e) in double.
inline void row_exp_sum(const float* z, int64_t K, float* e, double& max, double& sum) {
  float m = z[0];
  for (int64_t k = 1; k < K; ++k) m = std::max(m, z[k]);
  if (std::isnan(m)) m = z[0];  // a NaN anywhere must reach the result, not be skipped by max
  for (int64_t k = 0; k < K; ++k) e[k] = vec::exp_f(z[k] - m);
  max = m;
  sum = vec::sum_f64(K, [&](int64_t k) { return static_cast<double>(e[k]); });
}

int64_t row_grain(int64_t K) { return kParallelGrain / std::max<int64_t>(1, 8 * K); }

// The loss of one row with class id `id`: -log softmax_id = (max - z_id) + log(sum), kept in that
// form so that log(sum) is not lost against a huge max.
inline double row_loss_id(const float* z, int64_t id, double max, double sum) {
  return (max - z[id]) + std::log(sum);
}

// The gradient row of the mean loss for class id `id` from dr = e = exp(z - max) (in place):
// (e / sum - onehot(id)) / N. Shared by the backward and the fused kernel (same bits).
inline void row_grad_id(float* dr, int64_t K, int64_t id, double sum, double inv_n) {
  const double inv_sum = 1.0 / sum;
  const double e_id = dr[id];
  for (int64_t k = 0; k < K; ++k) dr[k] = static_cast<float>(dr[k] * inv_sum * inv_n);
  dr[id] = static_cast<float>((e_id * inv_sum - 1.0) * inv_n);
}

// numpy's argmax of one row: the first maximum, or the first NaN (a NaN compares as the largest).
inline int64_t row_argmax(const float* z, int64_t K) {
  int64_t best = 0;
  float m = z[0];
  if (std::isnan(m)) return 0;
  for (int64_t k = 1; k < K; ++k) {
    if (!(z[k] <= m)) {  // larger, or NaN
      best = k;
      m = z[k];
      if (std::isnan(m)) break;
    }
  }
  return best;
}

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
    static thread_local std::vector<float> exps;  // exp(z - max) of one row, per thread
    if (static_cast<int64_t>(exps.size()) < K) exps.resize(K);
    for (int64_t n = n0; n < n1; ++n) {
      const float* zr = z + n * K;
      double max, sum;
      row_exp_sum(zr, K, exps.data(), max, sum);
      // -sum_k t_k log softmax_k = sum_k t_k (max - z_k) + sum(t) log_sum, kept in that form so
      // that log_sum is not lost against a huge max.
      if (ids) {
        rl[n] = row_loss_id(zr, ids[n], max, sum);
      } else {
        const double log_sum = std::log(sum);
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
      double max, sum;
      row_exp_sum(zr, K, dr, max, sum);  // dr holds e = exp(z - max) until overwritten
      if (ids) {
        row_grad_id(dr, K, ids[n], sum, inv_n);
      } else {
        const double inv_sum = 1.0 / sum;
        const float* tr = probs + n * K;
        double st = 0;
        for (int64_t k = 0; k < K; ++k) st += tr[k];
        for (int64_t k = 0; k < K; ++k) dr[k] = static_cast<float>((dr[k] * inv_sum * st - tr[k]) * inv_n);
      }
    }
  });
}

// z, dz are (N,K), ids is (N,): the forward and the backward for class ids in one pass over the
// rows (each row's exp computed once), plus *hits = the number of rows whose argmax (numpy's) is
// the class id, for the accuracy metric. Same bits as cross_entropy_forward and _backward.
double cross_entropy_forward_backward(const float* z, const int64_t* ids, float* dz, int64_t N,
                                      int64_t K, int64_t* hits) {
  *hits = 0;
  if (N == 0) return std::nan("");
  static thread_local std::vector<double> row_loss;  // per-row losses, summed in row order
  row_loss.resize(N);
  double* rl = row_loss.data();
  const double inv_n = 1.0 / static_cast<double>(N);
  std::atomic<int64_t> total_hits{0};  // an integer count: the order of the adds does not matter
  parallel_for(0, N, row_grain(K), [&](int64_t n0, int64_t n1) {
    int64_t h = 0;
    for (int64_t n = n0; n < n1; ++n) {
      const float* zr = z + n * K;
      float* dr = dz + n * K;
      const int64_t id = ids[n];
      h += row_argmax(zr, K) == id;
      double max, sum;
      row_exp_sum(zr, K, dr, max, sum);
      rl[n] = row_loss_id(zr, id, max, sum);
      row_grad_id(dr, K, id, sum, inv_n);
    }
    total_hits.fetch_add(h, std::memory_order_relaxed);
  });
  *hits = total_hits.load();
  double total = 0;
  for (int64_t n = 0; n < N; ++n) total += rl[n];
  return total / N;
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
