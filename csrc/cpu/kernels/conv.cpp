// Convolution on the shared packed GEMM: im2col per sample and group, then one GEMM.
// Shapes (fixed letters, see conv.h): x is (N,C,H,W), w is (K,C/g,R,S), y is (N,K,P,Q);
// per group, col is (C/g*R*S, P*Q).
//
// Threads: over samples when the batch has at least as many samples as threads (each thread has
// its own im2col workspace and calls sgemm_serial), otherwise sample by sample with sgemm's own
// tile parallelism. Both give the same bits: sgemm and sgemm_serial accumulate each element in
// the same order. The weight gradient sums over the batch in a fixed number of chunks.
#include "cpu/kernels/conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/gemm/sgemm.h"
#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

// The weight gradient's batch reduction is split into at most this many chunks, whatever the
// thread count, so its rounding never depends on the number of threads.
constexpr int64_t kWeightChunks = 8;

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// im2col buffer of the calling thread, kept between calls.
float* col_workspace(int64_t size) {
  static thread_local std::vector<float> ws;
  if ((int64_t)ws.size() < size) ws.resize(size);
  return ws.data();
}

// 1x1, stride 1, no padding: the input itself is the GEMM operand (dilation is irrelevant).
bool is_pointwise(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
         p.pad_left == 0 && p.P == p.H && p.Q == p.W;
}

// [lo, hi): the q in [0, Q) with 0 <= q*stride + off < n.
void valid_range(int64_t off, int64_t stride, int64_t n, int64_t Q, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = n - off <= 0 ? 0 : (n - 1 - off) / stride + 1;
  lo = std::min(lo, Q);
  hi = std::max(lo, std::min(hi, Q));
}

// col[(c*R + r)*S + s, p*Q + q] = x[c, p*sh - pt + r*dh, q*sw - pl + s*dw] (0 outside), c in [c0, c1).
// x is (Cg,H,W) (one group of one sample), col is (Cg*R*S, P*Q).
void im2col(const Conv2dParams& p, const float* x, int64_t c0, int64_t c1, float* col) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  for (int64_t c = c0; c < c1; ++c) {
    for (int64_t r = 0; r < p.R; ++r) {
      for (int64_t s = 0; s < p.S; ++s) {
        float* dst = col + ((c * p.R + r) * p.S + s) * PQ;
        const int64_t off_w = s * p.dil_w - p.pad_left;
        int64_t q_lo, q_hi;
        valid_range(off_w, p.stride_w, p.W, p.Q, q_lo, q_hi);
        for (int64_t op = 0; op < p.P; ++op) {
          float* d = dst + op * p.Q;
          const int64_t ih = op * p.stride_h - p.pad_top + r * p.dil_h;
          if (ih < 0 || ih >= p.H) {
            std::fill(d, d + p.Q, 0.f);
            continue;
          }
          const float* row = x + c * HW + ih * p.W + off_w;
          std::fill(d, d + q_lo, 0.f);
          if (p.stride_w == 1) {
            std::memcpy(d + q_lo, row + q_lo, (q_hi - q_lo) * sizeof(float));
          } else {
            for (int64_t q = q_lo; q < q_hi; ++q) d[q] = row[q * p.stride_w];
          }
          std::fill(d + q_hi, d + p.Q, 0.f);
        }
      }
    }
  }
}

// The adjoint of im2col: dx[c] = sum of the col entries that read it, c in [c0, c1).
// Each channel is written by one caller only, in a fixed order, so it is race-free and deterministic.
void col2im(const Conv2dParams& p, const float* col, int64_t c0, int64_t c1, float* dx) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  for (int64_t c = c0; c < c1; ++c) {
    float* dxc = dx + c * HW;
    std::fill(dxc, dxc + HW, 0.f);
    for (int64_t r = 0; r < p.R; ++r) {
      for (int64_t s = 0; s < p.S; ++s) {
        const float* src = col + ((c * p.R + r) * p.S + s) * PQ;
        const int64_t off_w = s * p.dil_w - p.pad_left;
        int64_t q_lo, q_hi;
        valid_range(off_w, p.stride_w, p.W, p.Q, q_lo, q_hi);
        for (int64_t op = 0; op < p.P; ++op) {
          const int64_t ih = op * p.stride_h - p.pad_top + r * p.dil_h;
          if (ih < 0 || ih >= p.H) continue;
          const float* d = src + op * p.Q;
          float* row = dxc + ih * p.W + off_w;
          if (p.stride_w == 1) {
            for (int64_t q = q_lo; q < q_hi; ++q) row[q] += d[q];
          } else {
            for (int64_t q = q_lo; q < q_hi; ++q) row[q * p.stride_w] += d[q];
          }
        }
      }
    }
  }
}

// Channel loops of im2col/col2im: split over threads when asked (one sample at a time) and big enough.
template <typename F>
void for_channels(const Conv2dParams& p, int64_t channels, bool parallel, const F& f) {
  if (!parallel) {
    f(0, channels);
    return;
  }
  const int64_t per_channel = std::max<int64_t>(1, p.R * p.S * p.P * p.Q);
  parallel_for(0, channels, std::max<int64_t>(1, kParallelGrain / per_channel), f);
}

// Runs body(n, inner_parallel) for every sample: over samples in parallel when the batch can
// keep every thread busy, else one sample at a time with the parallelism inside (GEMM tiles).
template <typename F>
void for_each_sample(int64_t N, const F& body) {
  if (N >= max_threads()) {
    parallel_for(0, N, 0, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) body(n, false);
    });
  } else {
    for (int64_t n = 0; n < N; ++n) body(n, true);
  }
}

void gemm(bool parallel, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (parallel)
    sgemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
  else
    sgemm_serial(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

// x is (N,C,H,W), w is (K,C/g,R,S), b is (K,) or null, y is (N,K,P,Q).
// Per sample and group: y_g (K/g, PQ) = w_g (K/g, C/g*R*S) . col_g (C/g*R*S, PQ) [+ b].
void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                    float* y) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, CRS = Cg * p.R * p.S;
  const bool pointwise = is_pointwise(p);
  for_each_sample(p.N, [&](int64_t n, bool inner) {
    const float* xn = x + n * p.C * HW;
    float* yn = y + n * p.K * PQ;
    float* col = pointwise ? nullptr : col_workspace(CRS * PQ);
    for (int64_t g = 0; g < G; ++g) {
      const float* xg = xn + g * Cg * HW;
      if (!pointwise) {
        for_channels(p, Cg, inner, [&](int64_t c0, int64_t c1) { im2col(p, xg, c0, c1, col); });
      }
      float* yg = yn + g * Kg * PQ;
      if (b) {
        for (int64_t k = 0; k < Kg; ++k) std::fill(yg + k * PQ, yg + (k + 1) * PQ, b[g * Kg + k]);
      }
      gemm(inner, false, false, Kg, PQ, CRS, w + g * Kg * CRS, CRS, pointwise ? xg : col, PQ,
           b ? 1.f : 0.f, yg, PQ);
    }
  });
}

// dy is (N,K,P,Q), w is (K,C/g,R,S), b is (C,) or null, dx is (N,C,H,W).
// Per sample and group: dcol (C/g*R*S, PQ) = w_g^T . dy_g, then col2im into dx [+ b per channel;
// conv_transpose2d's forward is this kernel, and b is its bias].
void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, const float* b,
                          float* dx) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, CRS = Cg * p.R * p.S;
  const bool pointwise = is_pointwise(p);
  for_each_sample(p.N, [&](int64_t n, bool inner) {
    const float* dyn = dy + n * p.K * PQ;
    float* dxn = dx + n * p.C * HW;
    float* col = pointwise ? nullptr : col_workspace(CRS * PQ);
    for (int64_t g = 0; g < G; ++g) {
      float* dxg = dxn + g * Cg * HW;
      gemm(inner, true, false, CRS, PQ, Kg, w + g * Kg * CRS, CRS, dyn + g * Kg * PQ, PQ, 0.f,
           pointwise ? dxg : col, PQ);
      if (!pointwise) {
        for_channels(p, Cg, inner, [&](int64_t c0, int64_t c1) { col2im(p, col, c0, c1, dxg); });
      }
    }
    if (b) {
      for (int64_t c = 0; c < p.C; ++c) {
        float* dxc = dxn + c * HW;
        for (int64_t i = 0; i < HW; ++i) dxc[i] += b[c];
      }
    }
  });
}

// dy is (N,K,P,Q), x is (N,C,H,W), dw is (K,C/g,R,S).
// dw_g = sum_n dy_g[n] (K/g, PQ) . col_g[n]^T (PQ, C/g*R*S). The batch is split into
// min(N, kWeightChunks) chunks; each sums its samples in order into its own buffer (chunk 0 into
// dw), then the buffers are added in chunk order: the same bits for any thread count.
void conv2d_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, CRS = Cg * p.R * p.S, wsize = p.K * CRS;
  if (p.N == 0) {
    std::fill(dw, dw + wsize, 0.f);
    return;
  }
  const bool pointwise = is_pointwise(p);
  const int64_t chunks = std::min(p.N, kWeightChunks);
  static thread_local std::vector<float> partial_ws;
  if ((int64_t)partial_ws.size() < (chunks - 1) * wsize) partial_ws.resize((chunks - 1) * wsize);
  float* partials = partial_ws.data();

  auto chunk = [&](int64_t ci, bool inner) {
    float* acc = ci == 0 ? dw : partials + (ci - 1) * wsize;
    const int64_t n0 = ci * p.N / chunks, n1 = (ci + 1) * p.N / chunks;
    float* col = pointwise ? nullptr : col_workspace(CRS * PQ);
    for (int64_t n = n0; n < n1; ++n) {
      const float* xn = x + n * p.C * HW;
      const float* dyn = dy + n * p.K * PQ;
      for (int64_t g = 0; g < G; ++g) {
        const float* xg = xn + g * Cg * HW;
        if (!pointwise) {
        for_channels(p, Cg, inner, [&](int64_t c0, int64_t c1) { im2col(p, xg, c0, c1, col); });
      }
        gemm(inner, false, true, Kg, CRS, PQ, dyn + g * Kg * PQ, PQ, pointwise ? xg : col, PQ,
             n == n0 ? 0.f : 1.f, acc + g * Kg * CRS, CRS);
      }
    }
  };
  if (chunks > 1) {
    parallel_for(0, chunks, 0, [&](int64_t c0, int64_t c1) {
      for (int64_t ci = c0; ci < c1; ++ci) chunk(ci, false);
    });
  } else {
    chunk(0, true);
  }
  if (chunks > 1) {
    parallel_for(0, wsize, kParallelGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t ci = 1; ci < chunks; ++ci) {
        const float* part = partials + (ci - 1) * wsize;
        for (int64_t i = i0; i < i1; ++i) dw[i] += part[i];
      }
    });
  }
}

// dy is (N,K,L), db is (K,): db[k] = sum over n, then l, of dy[n,k,l], accumulated in double.
void conv_backward_bias(const float* dy, int64_t N, int64_t K, int64_t L, float* db) {
  const int64_t per_k = std::max<int64_t>(1, N * L);
  parallel_for(0, K, std::max<int64_t>(1, kParallelGrain / per_k), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double s = 0.0;
      for (int64_t n = 0; n < N; ++n) {
        const float* row = dy + (n * K + k) * L;
        for (int64_t l = 0; l < L; ++l) s += row[l];
      }
      db[k] = static_cast<float>(s);
    }
  });
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
