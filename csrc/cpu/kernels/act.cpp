// Activation kernels: elementwise loops split into contiguous blocks (parallel_for), channel-wise
// prelu, softmax over one axis, and the counter-based random ops (rrelu, dropout). No result depends
// on the thread count: every output is computed by one thread, and the one reduction across
// elements (prelu's dalpha) sums fixed chunks in a fixed order. The relu and leaky_relu outputs of
// at least vec::kStreamMinBytes are written with streaming stores (vec::map_store, cpu/vec/stream.h):
// the same values, without reading y's lines from memory first. Not elu, sigmoid, tanh: their
// exp/tanh arithmetic, not memory, bounds them (7-12 GB/s on one core here), and the staging through
// map_store's L1 tile measured slower for them.
#include "cpu/kernels/act.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/vec/math.h"
#include "cpu/vec/reduce.h"
#include "cpu/vec/stream.h"
#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// splitmix64: the stream for `seed` visits key + (i+1)*gamma, key = mix64(seed).
constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
inline uint64_t stream_key(uint64_t seed) { return mix64(seed + kGamma); }
// Element i's uniform draw in [0,1), 24 random bits.
inline float uniform01(uint64_t key, uint64_t i) {
  return static_cast<float>(mix64(key + (i + 1) * kGamma) >> 40) * 0x1.0p-24f;
}

// Runs f(begin, end, c) over the pieces of [b,e) that lie in one (n,c) plane of x seen as (N,C,S).
template <typename F>
void for_channel_runs(int64_t b, int64_t e, int64_t C, int64_t S, const F& f) {
  while (b < e) {
    const int64_t plane = b / S, run_end = std::min(e, (plane + 1) * S);
    f(b, run_end, plane % C);
    b = run_end;
  }
}

}  // namespace

// ---- relu family: x, y, dy, dx are flat (n) -------------------------------------------------

void relu_forward(const float* x, float* y, int64_t n) {
  const bool stream = vec::stream_pays(n * sizeof(float));
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    vec::map_store(y, b, e, stream, [&](int64_t i) {
      return (x[i] > 0.0f || x[i] != x[i]) ? x[i] : 0.0f;  // NaN stays NaN
    });
  });
}

// The gradient is 0 at x == 0 (PyTorch's threshold_backward). Both operands are loaded and picked
// with vec::select: `c ? 0 : dy[i]` leaves dy's load conditional, and GCC keeps that loop scalar.
void relu_backward(const float* dy, const float* x, float* dx, int64_t n) {
  const bool stream = vec::stream_pays(n * sizeof(float));
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    vec::map_store(dx, b, e, stream, [&](int64_t i) { return vec::select(x[i] <= 0.0f, 0.0f, dy[i]); });
  });
}

void leaky_relu_forward(const float* x, float* y, int64_t n, float alpha) {
  const bool stream = vec::stream_pays(n * sizeof(float));
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    vec::map_store(y, b, e, stream, [&](int64_t i) { return vec::select(x[i] > 0.0f, x[i], x[i] * alpha); });
  });
}

void leaky_relu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha) {
  const bool stream = vec::stream_pays(n * sizeof(float));
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    vec::map_store(dx, b, e, stream, [&](int64_t i) { return vec::select(x[i] > 0.0f, dy[i], dy[i] * alpha); });
  });
}

// x and y are (N,C,S); alpha is (C) or, when shared_alpha, (1).
void prelu_forward(const float* x, const float* alpha, float* y, int64_t N, int64_t C, int64_t S,
                   bool shared_alpha) {
  parallel_for(0, N * C * S, kParallelGrain, [&](int64_t b, int64_t e) {
    for_channel_runs(b, e, C, S, [&](int64_t rb, int64_t re, int64_t c) {
      const float a = alpha[shared_alpha ? 0 : c];
      for (int64_t i = rb; i < re; ++i) y[i] = x[i] > 0.0f ? x[i] : a * x[i];
    });
  });
}

// dy, x, dx are (N,C,S); alpha and dalpha are (C) or (1). dalpha = sum of dy*x where x <= 0, summed
// per chunk of at most kChunk elements of one plane (in double, over 8 lanes), then the chunks in
// index order: the same sums whatever the thread count.
void prelu_backward(const float* dy, const float* x, const float* alpha, float* dx, float* dalpha, int64_t N,
                    int64_t C, int64_t S, bool shared_alpha) {
  constexpr int64_t kChunk = 1 << 14, kLanes = 8;
  if (N * C * S == 0) {
    std::fill(dalpha, dalpha + (shared_alpha ? 1 : C), 0.0f);
    return;
  }
  const int64_t chunks_per_plane = (S + kChunk - 1) / kChunk, units = N * C * chunks_per_plane;
  thread_local std::vector<double> partial;
  if (static_cast<int64_t>(partial.size()) < units) partial.resize(units);
  double* part = partial.data();
  parallel_for(0, units, std::max<int64_t>(1, kParallelGrain / std::min(S, kChunk)), [&](int64_t b, int64_t e) {
    for (int64_t u = b; u < e; ++u) {
      const int64_t plane = u / chunks_per_plane, chunk = u % chunks_per_plane;
      const int64_t begin = plane * S + chunk * kChunk, end = plane * S + std::min(S, (chunk + 1) * kChunk);
      const float a = alpha[shared_alpha ? 0 : plane % C];
      double lane[kLanes] = {};
      int64_t i = begin;
      for (; i + kLanes <= end; i += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) {
          const float xi = x[i + l], g = dy[i + l];
          dx[i + l] = xi > 0.0f ? g : a * g;
          lane[l] += xi > 0.0f ? 0.0 : static_cast<double>(xi) * g;
        }
      for (; i < end; ++i) {
        dx[i] = x[i] > 0.0f ? dy[i] : a * dy[i];
        lane[0] += x[i] > 0.0f ? 0.0 : static_cast<double>(x[i]) * dy[i];
      }
      double sum = 0.0;
      for (int64_t l = 0; l < kLanes; ++l) sum += lane[l];
      part[u] = sum;
    }
  });
  if (shared_alpha) {
    double sum = 0.0;
    for (int64_t u = 0; u < units; ++u) sum += part[u];
    dalpha[0] = static_cast<float>(sum);
    return;
  }
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0.0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < chunks_per_plane; ++k) sum += part[(n * C + c) * chunks_per_plane + k];
    dalpha[c] = static_cast<float>(sum);
  }
}

// x, y, slope are (n); y = x * slope with slope 1 where x >= 0, else a uniform draw in [lower, upper]
// (training) or (lower + upper) / 2.
void rrelu_forward(const float* x, float* y, float* slope, int64_t n, float lower, float upper, bool training,
                   uint64_t seed) {
  const uint64_t key = stream_key(seed);
  const float mid = (lower + upper) * 0.5f, range = upper - lower;
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float neg = training ? lower + uniform01(key, static_cast<uint64_t>(i)) * range : mid;
      slope[i] = x[i] >= 0.0f ? 1.0f : neg;
      y[i] = x[i] * slope[i];
    }
  });
}

void rrelu_backward(const float* dy, const float* slope, float* dx, int64_t n) {
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = dy[i] * slope[i];
  });
}

void elu_forward(const float* x, float* y, int64_t n, float alpha) {
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = vec::select(x[i] > 0.0f, x[i], alpha * vec::expm1_f(x[i]));
  });
}

void elu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha) {
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = vec::select(x[i] > 0.0f, dy[i], dy[i] * alpha * vec::exp_f(x[i]));
  });
}

void sigmoid_forward(const float* x, float* y, int64_t n) {
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = vec::sigmoid_f(x[i]);
  });
}

// sigmoid' = s(1-s) = t/(1+t)^2 with t = exp(-|x|): no cancellation in 1-s for large x.
void sigmoid_backward(const float* dy, const float* x, float* dx, int64_t n) {
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float t = vec::exp_f(-std::fabs(x[i])), d = 1.0f + t;
      dx[i] = dy[i] * (t / (d * d));
    }
  });
}

void tanh_forward(const float* x, float* y, int64_t n) {
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = vec::tanh_f(x[i]);
  });
}

// tanh' = 1 - tanh^2 = 4t/(1+t)^2 with t = exp(-2|x|): no cancellation in 1 - tanh^2 for large x.
// t is exp_f's result with its clamps cut to the one that can act (the argument is <= 0 or NaN):
// |x| is clamped at 52 (e^-104, as exp_f's clamp; NaN passes) before the doubling. Same bits as
// exp_f(-2|x|), one compare and blend less on the chain.
void tanh_backward(const float* dy, const float* x, float* dx, int64_t n) {
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float ax = std::fabs(x[i]);
      const float t = vec::math_detail::exp_clamped(-2.0f * vec::select(ax > 52.0f, 52.0f, ax)), d = 1.0f + t;
      dx[i] = dy[i] * (4.0f * t / (d * d));
    }
  });
}

// ---- softmax over D: x, y, dy, dx are (O,D,I) -------------------------------------------------
// Each unit is one row (I == 1, contiguous) or a block of up to kBlock positions along I (strided by
// I along D, so the inner loops run over contiguous positions). Max-subtracted; the sum s of
// e = exp(x - max) is taken in double. softmax_backward computes dy_i - sum_j y_j dy_j as
// (dy_i - c) - sum_j y_j (dy_j - c) with c the dy of a maximal x (y = e / s in double): the pivot's
// term vanishes, so a saturated row (y ~ one-hot) keeps its tiny gradients instead of cancelling.

namespace {

constexpr int64_t kBlock = 256;

enum class Pass { forward, backward };

// One contiguous row of D elements; e = exp(x - max) goes to `out` first (a loop of its own, so it
// vectorizes), the sums over the row are vec::sum_f64.
template <bool kLog, Pass kPass>
void softmax_row(const float* x, const float* dy, float* out, int64_t D) {
  float m = -kInf;
  for (int64_t d = 0; d < D; ++d) m = x[d] > m ? x[d] : m;
  for (int64_t d = 0; d < D; ++d) out[d] = vec::exp_f(x[d] - m);
  const double s = vec::sum_f64(D, [&](int64_t d) { return static_cast<double>(out[d]); });
  const double inv_s = 1.0 / s;
  const float log_s = static_cast<float>(std::log(s));
  if (kPass == Pass::forward) {
    for (int64_t d = 0; d < D; ++d)
      out[d] = kLog ? (x[d] - m) - log_s : static_cast<float>(out[d] * inv_s);
  } else if (kLog) {  // dx = dy - softmax(x) * sum(dy)
    const float g = static_cast<float>(vec::sum_f64(D, [&](int64_t d) { return static_cast<double>(dy[d]); }));
    for (int64_t d = 0; d < D; ++d) out[d] = dy[d] - static_cast<float>(out[d] * inv_s) * g;
  } else {  // dx = y * (dy - sum(dy * y)), pivoted on c
    float c = 0.0f;
    for (int64_t d = 0; d < D; ++d) c = x[d] == m ? dy[d] : c;
    const double dot =
        inv_s * vec::sum_f64(D, [&](int64_t d) { return (static_cast<double>(dy[d]) - c) * out[d]; });
    for (int64_t d = 0; d < D; ++d)
      out[d] = static_cast<float>(out[d] * inv_s * ((static_cast<double>(dy[d]) - c) - dot));
  }
}

// w <= kBlock positions, each a column of D elements with stride I.
template <bool kLog, Pass kPass>
void softmax_block(const float* x, const float* dy, float* out, int64_t D, int64_t I, int64_t w) {
  float m[kBlock], log_s[kBlock], g[kBlock], c[kBlock];
  double s[kBlock], acc[kBlock];
  for (int64_t i = 0; i < w; ++i) m[i] = -kInf, s[i] = 0.0, acc[i] = 0.0;
  for (int64_t d = 0; d < D; ++d) {
    const float* xr = x + d * I;
    for (int64_t i = 0; i < w; ++i) m[i] = xr[i] > m[i] ? xr[i] : m[i];
  }
  for (int64_t d = 0; d < D; ++d) {
    const float* xr = x + d * I;
    for (int64_t i = 0; i < w; ++i) s[i] += vec::exp_f(xr[i] - m[i]);
  }
  for (int64_t i = 0; i < w; ++i) {
    log_s[i] = static_cast<float>(std::log(s[i]));
    s[i] = 1.0 / s[i];  // from here on, s holds 1/s
  }
  if (kPass == Pass::forward) {
    for (int64_t d = 0; d < D; ++d) {
      const float* xr = x + d * I;
      float* yr = out + d * I;
      for (int64_t i = 0; i < w; ++i)
        yr[i] = kLog ? (xr[i] - m[i]) - log_s[i] : static_cast<float>(vec::exp_f(xr[i] - m[i]) * s[i]);
    }
    return;
  }
  if (kLog) {  // dx = dy - softmax(x) * sum(dy)
    for (int64_t d = 0; d < D; ++d) {
      const float* dyr = dy + d * I;
      for (int64_t i = 0; i < w; ++i) acc[i] += dyr[i];
    }
    for (int64_t i = 0; i < w; ++i) g[i] = static_cast<float>(acc[i]);
    for (int64_t d = 0; d < D; ++d) {
      const float *xr = x + d * I, *dyr = dy + d * I;
      float* dxr = out + d * I;
      for (int64_t i = 0; i < w; ++i) dxr[i] = dyr[i] - vec::exp_f((xr[i] - m[i]) - log_s[i]) * g[i];
    }
    return;
  }
  // dx = y * (dy - sum(dy * y)), pivoted on c; e kept in dx between the passes
  for (int64_t i = 0; i < w; ++i) c[i] = 0.0f;
  for (int64_t d = 0; d < D; ++d) {
    const float *xr = x + d * I, *dyr = dy + d * I;
    for (int64_t i = 0; i < w; ++i) c[i] = xr[i] == m[i] ? dyr[i] : c[i];
  }
  for (int64_t d = 0; d < D; ++d) {
    const float *xr = x + d * I, *dyr = dy + d * I;
    float* dxr = out + d * I;
    for (int64_t i = 0; i < w; ++i) {
      dxr[i] = vec::exp_f(xr[i] - m[i]);
      acc[i] += (static_cast<double>(dyr[i]) - c[i]) * dxr[i];
    }
  }
  for (int64_t i = 0; i < w; ++i) acc[i] *= s[i];
  for (int64_t d = 0; d < D; ++d) {
    const float* dyr = dy + d * I;
    float* dxr = out + d * I;
    for (int64_t i = 0; i < w; ++i)
      dxr[i] = static_cast<float>(dxr[i] * s[i] * ((static_cast<double>(dyr[i]) - c[i]) - acc[i]));
  }
}

template <bool kLog, Pass kPass>
void softmax_run(const float* x, const float* dy, float* out, int64_t O, int64_t D, int64_t I) {
  if (O * D * I == 0) return;
  const int64_t blocks = (I + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / (D * std::min(I, kBlock)));
  parallel_for(0, O * blocks, grain, [&](int64_t b, int64_t e) {
    for (int64_t u = b; u < e; ++u) {
      const int64_t o = u / blocks, i0 = (u % blocks) * kBlock;
      const int64_t off = o * D * I + i0;
      const float* dyu = kPass == Pass::backward ? dy + off : nullptr;
      if (I == 1)
        softmax_row<kLog, kPass>(x + off, dyu, out + off, D);
      else
        softmax_block<kLog, kPass>(x + off, dyu, out + off, D, I, std::min(kBlock, I - i0));
    }
  });
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I) {
  softmax_run<false, Pass::forward>(x, nullptr, y, O, D, I);
}
void softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I) {
  softmax_run<false, Pass::backward>(x, dy, dx, O, D, I);
}
void log_softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I) {
  softmax_run<true, Pass::forward>(x, nullptr, y, O, D, I);
}
void log_softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I) {
  softmax_run<true, Pass::backward>(x, dy, dx, O, D, I);
}

// ---- dropout: x, y, mask, dy, dx are (n) ------------------------------------------------------
// mask[i] = 1 (keep) when element i's draw is >= p; y = x * mask / (1 - p), so Inf * 0 gives NaN
// as in PyTorch.

void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed) {
  const uint64_t key = stream_key(seed);
  const float scale = 1.0f / (1.0f - p);
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const uint8_t keep = uniform01(key, static_cast<uint64_t>(i)) >= p;
      mask[i] = keep;
      y[i] = x[i] * (static_cast<float>(keep) * scale);
    }
  });
}

void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p) {
  const float scale = 1.0f / (1.0f - p);
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = dy[i] * (static_cast<float>(mask[i] != 0) * scale);
  });
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
