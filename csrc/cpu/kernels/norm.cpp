// Batch norm and local response norm, forward and backward.
// x is (N,C,S): S is the product of the spatial extents (1 for (N,C) input).
#include "cpu/kernels/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

// ---- batch norm ---------------------------------------------------------------------------------
// Channels are processed in blocks, one block per task, so every per-channel sum is accumulated by
// one thread in a fixed order. With S > 1 a block is one channel and the sum runs along each plane
// in kLanes interleaved double accumulators (vectorizable, order fixed by s alone); with S == 1 a
// block is kRowBlock channels and the vector runs across channels, rows in order.
constexpr int64_t kLanes = 8;
constexpr int64_t kRowBlock = 64;

// Shifted sums of one channel: s1 = sum(x-K), s2 = sum((x-K)^2), sdy = sum(dy), sdyx = sum(dy*(x-K)).
// K is a value close to the data (the channel's first value, or the running mean), which keeps the
// one-pass variance free of cancellation.
struct Sums {
  double s1 = 0, s2 = 0, sdy = 0, sdyx = 0;
};

int64_t channel_block(int64_t S) { return S == 1 ? kRowBlock : 1; }

// Sums for channels [c0, c1) (at most kRowBlock of them); shift[i] is K of channel c0 + i.
template <bool kStats, bool kGrad>
void channel_sums(const float* x, const float* dy, int64_t N, int64_t C, int64_t S, int64_t c0,
                  int64_t c1, const double* shift, Sums* out) {
  const int64_t nc = c1 - c0;
  if (S == 1) {
    double s1[kRowBlock] = {}, s2[kRowBlock] = {}, sdy[kRowBlock] = {}, sdyx[kRowBlock] = {};
    for (int64_t n = 0; n < N; ++n) {
      const float* xr = x + n * C + c0;
      const float* dyr = kGrad ? dy + n * C + c0 : nullptr;
      for (int64_t i = 0; i < nc; ++i) {
        const double d = static_cast<double>(xr[i]) - shift[i];
        if (kStats) { s1[i] += d; s2[i] += d * d; }
        if (kGrad) { sdy[i] += dyr[i]; sdyx[i] += dyr[i] * d; }
      }
    }
    for (int64_t i = 0; i < nc; ++i) out[i] = {s1[i], s2[i], sdy[i], sdyx[i]};
    return;
  }
  for (int64_t c = c0; c < c1; ++c) {
    const double K = shift[c - c0];
    double s1[kLanes] = {}, s2[kLanes] = {}, sdy[kLanes] = {}, sdyx[kLanes] = {};
    for (int64_t n = 0; n < N; ++n) {
      const float* xp = x + (n * C + c) * S;
      const float* dyp = kGrad ? dy + (n * C + c) * S : nullptr;
      int64_t s = 0;
      for (; s + kLanes <= S; s += kLanes) {
        for (int64_t j = 0; j < kLanes; ++j) {
          const double d = static_cast<double>(xp[s + j]) - K;
          if (kStats) { s1[j] += d; s2[j] += d * d; }
          if (kGrad) { sdy[j] += dyp[s + j]; sdyx[j] += dyp[s + j] * d; }
        }
      }
      for (int64_t j = 0; s < S; ++s, ++j) {
        const double d = static_cast<double>(xp[s]) - K;
        if (kStats) { s1[j] += d; s2[j] += d * d; }
        if (kGrad) { sdy[j] += dyp[s]; sdyx[j] += dyp[s] * d; }
      }
    }
    Sums& o = out[c - c0];
    for (int64_t j = 0; j < kLanes; ++j) {
      o.s1 += s1[j]; o.s2 += s2[j]; o.sdy += sdy[j]; o.sdyx += sdyx[j];
    }
  }
}

// The batch mean as a float pair hi + lo (lo: what rounding m to float dropped). x - mean is then
// (x - hi) - lo: x - hi is exact for x near the mean, so the deviation keeps its bits when the data
// sit far from 0 relative to their spread (offset 50, std 0.3: one float rounding of the mean alone
// was 1e-5 of y).
inline void split_mean(double m, float& hi, float& lo) {
  hi = static_cast<float>(m);
  lo = static_cast<float>(m - hi);
}

// y = ((x - mean) - mean_lo) * scale + shift per channel, for channels [c0, c1).
void bn_apply(const float* x, float* y, int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1,
              const float* mean, const float* mean_lo, const float* scale, const float* shift) {
  for (int64_t n = 0; n < N; ++n) {
    if (S == 1) {
      const float* xr = x + n * C + c0;
      float* yr = y + n * C + c0;
      for (int64_t i = 0; i < c1 - c0; ++i) yr[i] = ((xr[i] - mean[i]) - mean_lo[i]) * scale[i] + shift[i];
      continue;
    }
    for (int64_t c = c0; c < c1; ++c) {
      const float m = mean[c - c0], ml = mean_lo[c - c0], a = scale[c - c0], b = shift[c - c0];
      const float* xp = x + (n * C + c) * S;
      float* yp = y + (n * C + c) * S;
      for (int64_t s = 0; s < S; ++s) yp[s] = ((xp[s] - m) - ml) * a + b;
    }
  }
}

// dx = a * (dy - mdy - (x - mean) * kx) per channel, for channels [c0, c1).
void bn_apply_grad(const float* dy, const float* x, float* dx, int64_t N, int64_t C, int64_t S,
                   int64_t c0, int64_t c1, const float* a, const float* mdy, const float* mean,
                   const float* mean_lo, const float* kx) {
  for (int64_t n = 0; n < N; ++n) {
    if (S == 1) {
      const int64_t o = n * C + c0;
      for (int64_t i = 0; i < c1 - c0; ++i)
        dx[o + i] = a[i] * (dy[o + i] - mdy[i] - ((x[o + i] - mean[i]) - mean_lo[i]) * kx[i]);
      continue;
    }
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i = c - c0, o = (n * C + c) * S;
      const float ai = a[i], mi = mdy[i], me = mean[i], ml = mean_lo[i], ki = kx[i];
      for (int64_t s = 0; s < S; ++s) dx[o + s] = ai * (dy[o + s] - mi - ((x[o + s] - me) - ml) * ki);
    }
  }
}

// Runs body(c0, c1) over the channel blocks, in parallel when there is enough work.
template <typename F>
void for_channel_blocks(int64_t N, int64_t C, int64_t S, const F& body) {
  const int64_t cb = channel_block(S), blocks = (C + cb - 1) / cb;
  const int64_t work = std::max<int64_t>(1, N * S * cb);
  parallel_for(0, blocks, kParallelGrain / work, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) body(b * cb, std::min(C, (b + 1) * cb));
  });
}

// ---- local response norm ------------------------------------------------------------------------
// Work is split into (sample, block of kLrnBlock spatial positions) tasks; each task walks the
// channels and sums the squares of its window directly (no running sum), so the order is fixed.
constexpr int64_t kLrnBlock = 256;

// acc[0:L] = k + alpha/size * sum of x^2 over the channel window of c, for one sample's block.
inline void lrn_base(const float* xs, int64_t C, int64_t S, int64_t L, int64_t c, int64_t size,
                     float alpha_n, float k, float* acc) {
  const int64_t lo = std::max<int64_t>(0, c - size / 2), hi = std::min(C - 1, c + (size - 1) / 2);
  std::fill(acc, acc + L, 0.f);
  for (int64_t j = lo; j <= hi; ++j) {
    const float* p = xs + j * S;
    for (int64_t s = 0; s < L; ++s) acc[s] += p[s] * p[s];
  }
  for (int64_t s = 0; s < L; ++s) acc[s] = k + alpha_n * acc[s];
}

template <typename F>
void for_lrn_tasks(int64_t N, int64_t C, int64_t S, int64_t size, const F& body) {
  const int64_t blocks = (S + kLrnBlock - 1) / kLrnBlock;
  const int64_t work = std::max<int64_t>(1, C * std::min(S, kLrnBlock) * (size + 2));
  parallel_for(0, N * blocks, kParallelGrain / work, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / blocks, s0 = (t % blocks) * kLrnBlock;
      body(n, s0, std::min(kLrnBlock, S - s0));
    }
  });
}

}  // namespace

// x, y are (N,C,S); gamma, beta, running_mean, running_var are (C,) (gamma/beta null: 1 and 0;
// running arrays null: not tracked, training only). Training normalizes with the batch mean and
// biased variance and blends the unbiased variance into running_var; eval uses the running stats.
void batch_norm_forward(const float* x, const float* gamma, const float* beta,
                        float* running_mean, float* running_var, float* y, int64_t N, int64_t C,
                        int64_t S, bool training, double momentum, double eps) {
  const int64_t M = N * S;  // values per channel (the front end guarantees M >= 2 in training)
  for_channel_blocks(N, C, S, [&](int64_t c0, int64_t c1) {
    float mean[kRowBlock], mean_lo[kRowBlock] = {}, scale[kRowBlock], shift[kRowBlock];
    if (training) {
      double K[kRowBlock];
      Sums sums[kRowBlock];
      for (int64_t c = c0; c < c1; ++c) K[c - c0] = x[c * S];
      channel_sums<true, false>(x, nullptr, N, C, S, c0, c1, K, sums);
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t i = c - c0;
        const double d = sums[i].s1 / M;
        const double m = K[i] + d, var = std::max(sums[i].s2 / M - d * d, 0.0);
        const double g = gamma ? gamma[c] : 1.0;
        split_mean(m, mean[i], mean_lo[i]);
        scale[i] = static_cast<float>(g / std::sqrt(var + eps));
        shift[i] = beta ? beta[c] : 0.f;
        if (running_mean)
          running_mean[c] = static_cast<float>((1 - momentum) * running_mean[c] + momentum * m);
        if (running_var)
          running_var[c] = static_cast<float>((1 - momentum) * running_var[c] +
                                              momentum * var * M / (M - 1));
      }
    } else {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t i = c - c0;
        const double g = gamma ? gamma[c] : 1.0;
        mean[i] = running_mean[c];
        scale[i] = static_cast<float>(g / std::sqrt(static_cast<double>(running_var[c]) + eps));
        shift[i] = beta ? beta[c] : 0.f;
      }
    }
    bn_apply(x, y, N, C, S, c0, c1, mean, mean_lo, scale, shift);
  });
}

// dy, x, dx are (N,C,S); gamma (null: 1), running_mean, running_var (eval only) are (C,);
// dgamma, dbeta are (C,) or null. Training differentiates through the batch statistics.
void batch_norm_backward(const float* dy, const float* x, const float* gamma,
                         const float* running_mean, const float* running_var, float* dx,
                         float* dgamma, float* dbeta, int64_t N, int64_t C, int64_t S,
                         bool training, double eps) {
  const int64_t M = N * S;
  for_channel_blocks(N, C, S, [&](int64_t c0, int64_t c1) {
    double K[kRowBlock];
    Sums sums[kRowBlock];
    float a[kRowBlock], mdy[kRowBlock], mean[kRowBlock], mean_lo[kRowBlock], kx[kRowBlock];
    for (int64_t c = c0; c < c1; ++c) K[c - c0] = training ? x[c * S] : running_mean[c];
    if (training)
      channel_sums<true, true>(x, dy, N, C, S, c0, c1, K, sums);
    else
      channel_sums<false, true>(x, dy, N, C, S, c0, c1, K, sums);
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i = c - c0;
      const Sums& q = sums[i];
      const double g = gamma ? gamma[c] : 1.0;
      double m = K[i], invstd, sdym;  // sdym = sum(dy * (x - mean))
      if (training) {
        const double d = q.s1 / M;
        m += d;
        invstd = 1.0 / std::sqrt(std::max(q.s2 / M - d * d, 0.0) + eps);
        sdym = q.sdyx - d * q.sdy;
      } else {
        invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
        sdym = q.sdyx;
      }
      if (dgamma) dgamma[c] = static_cast<float>(sdym * invstd);
      if (dbeta) dbeta[c] = static_cast<float>(q.sdy);
      a[i] = static_cast<float>(g * invstd);
      split_mean(m, mean[i], mean_lo[i]);
      mdy[i] = training ? static_cast<float>(q.sdy / M) : 0.f;
      kx[i] = training ? static_cast<float>(sdym * invstd * invstd / M) : 0.f;
    }
    if (training) {
      bn_apply_grad(dy, x, dx, N, C, S, c0, c1, a, mdy, mean, mean_lo, kx);
    } else {
      float zero[kRowBlock] = {};
      bn_apply(dy, dx, N, C, S, c0, c1, zero, zero, a, zero);  // dx = dy * gamma * invstd
    }
  });
}

// x, y are (N,C,S): y = x / (k + alpha/size * sum of x^2 over channels c-size/2 .. c+(size-1)/2)^beta.
void local_response_norm_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S,
                                 int64_t size, float alpha, float beta, float k) {
  const float alpha_n = alpha / size;
  for_lrn_tasks(N, C, S, size, [&](int64_t n, int64_t s0, int64_t L) {
    float base[kLrnBlock];
    const float* xs = x + n * C * S + s0;
    float* ys = y + n * C * S + s0;
    for (int64_t c = 0; c < C; ++c) {
      lrn_base(xs, C, S, L, c, size, alpha_n, k, base);
      const float* xp = xs + c * S;
      float* yp = ys + c * S;
      for (int64_t s = 0; s < L; ++s) yp[s] = xp[s] * std::pow(base[s], -beta);
    }
  });
}

// dy, x, dx are (N,C,S). With d_c the base above and t_c = dy_c x_c d_c^(-beta-1):
// dx_j = dy_j d_j^(-beta) - 2 alpha beta / size * x_j * sum of t_c over c in j-(size-1)/2 .. j+size/2.
void local_response_norm_backward(const float* dy, const float* x, float* dx, int64_t N,
                                  int64_t C, int64_t S, int64_t size, float alpha, float beta,
                                  float k) {
  const float alpha_n = alpha / size, coef = 2.f * alpha * beta / size;
  for_lrn_tasks(N, C, S, size, [&](int64_t n, int64_t s0, int64_t L) {
    static thread_local std::vector<float> work;  // scale (C*L) then t (C*L)
    if (static_cast<int64_t>(work.size()) < 2 * C * kLrnBlock) work.resize(2 * C * kLrnBlock);
    float* scale = work.data();
    float* t = scale + C * L;
    const float* xs = x + n * C * S + s0;
    const float* dys = dy + n * C * S + s0;
    float* dxs = dx + n * C * S + s0;
    for (int64_t c = 0; c < C; ++c) {
      float* sc = scale + c * L;
      float* tc = t + c * L;
      lrn_base(xs, C, S, L, c, size, alpha_n, k, sc);
      const float* xp = xs + c * S;
      const float* dyp = dys + c * S;
      for (int64_t s = 0; s < L; ++s) {
        const float p = std::pow(sc[s], -beta);
        tc[s] = dyp[s] * xp[s] * p / sc[s];
        sc[s] = p;
      }
    }
    float acc[kLrnBlock];
    for (int64_t j = 0; j < C; ++j) {
      const int64_t lo = std::max<int64_t>(0, j - (size - 1) / 2), hi = std::min(C - 1, j + size / 2);
      std::fill(acc, acc + L, 0.f);
      for (int64_t c = lo; c <= hi; ++c) {
        const float* tc = t + c * L;
        for (int64_t s = 0; s < L; ++s) acc[s] += tc[s];
      }
      const float* xp = xs + j * S;
      const float* dyp = dys + j * S;
      const float* sc = scale + j * L;
      float* dxp = dxs + j * S;
      for (int64_t s = 0; s < L; ++s) dxp[s] = dyp[s] * sc[s] - coef * xp[s] * acc[s];
    }
  });
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
