// Dilated stride-1 convolution by phase splitting (see dilated.h for the decomposition).
// x is (N,C,H,W), w is (K,C/g,R,S), y is (N,K,P,Q); the phase batch is (N,dh,dw) images:
// xph is (N*dh*dw, C, H', W') and yph (N*dh*dw, K, P', Q'), P' = ceil(P/dh), Q' = ceil(Q/dw),
// H' = j1 - j0, W' = l1 - l0 (see dilated_phase_problem). Image (n, a, b) is number
// (n*dh + a)*dw + b.
#include "cpu/kernels/dilated.h"

#include <algorithm>
#include <vector>

#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

// The phase buffers of the calling thread, kept between calls (0: input phases, 1: output or
// output-gradient phases, 2: input-gradient phases).
template <int Slot>
float* workspace(int64_t size) {
  static thread_local std::vector<float> ws;
  if ((int64_t)ws.size() < size) ws.resize(size);
  return ws.data();
}

// a / b and a mod b rounded towards minus infinity (b > 0): pads may be negative (crops).
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

// [lo, hi): the l in [0, L) with 0 <= off + l*d < n.
void valid_range(int64_t off, int64_t d, int64_t n, int64_t L, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + d - 1) / d;
  hi = n - off <= 0 ? 0 : (n - 1 - off) / d + 1;
  lo = std::min(lo, L);
  hi = std::max(lo, std::min(hi, L));
}

// Elements copied per parallel item -> the grain of parallel_for over items.
inline int64_t grain_for(int64_t per_item) {
  return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, per_item));
}

// dst[b*ds + l] = src[dw*l + b + off] where 0 <= dw*l + b + off < n, else 0 (b < dw, l < L): one
// row split into its dw column phases. Dilation 2 has a loop of its own, which the compiler
// vectorizes (a loop with a runtime stride is not: with it, the copies of dilated_3x3's backward
// passes took about 11 ms, 3 ms with this one).
void deinterleave(const float* src, int64_t n, int64_t off, int64_t dw, int64_t L, float* dst,
                  int64_t ds) {
  auto one = [&](int64_t b, int64_t l) {
    const int64_t i = dw * l + b + off;
    dst[b * ds + l] = i >= 0 && i < n ? src[i] : 0.f;
  };
  if (dw == 2) {
    // l in [lo, hi): both 2l + off and 2l + 1 + off inside [0, n)
    const int64_t lo = std::min(L, std::max<int64_t>(0, (-off + 1) / 2));
    const int64_t hi = std::max(lo, std::min(L, floor_div(n - 2 - off, 2) + 1));
    float* d0 = dst;
    float* d1 = dst + ds;
    const float* s2 = src + off;
    for (int64_t l = 0; l < lo; ++l) one(0, l), one(1, l);
    for (int64_t l = lo; l < hi; ++l) {
      d0[l] = s2[2 * l];
      d1[l] = s2[2 * l + 1];
    }
    for (int64_t l = hi; l < L; ++l) one(0, l), one(1, l);
    return;
  }
  for (int64_t b = 0; b < dw; ++b) {
    int64_t lo, hi;
    valid_range(b + off, dw, n, L, lo, hi);
    float* d = dst + b * ds;
    const float* sb = src + b + off;
    std::fill(d, d + lo, 0.f);
    for (int64_t l = lo; l < hi; ++l) d[l] = sb[l * dw];
    std::fill(d + hi, d + L, 0.f);
  }
}

// The inverse: dst[i] = src[b*ss + l] (+ bias) for i = dw*l + b + off in [0, n) with l < L;
// the other i (in no phase) get 0 (+ bias).
template <bool Bias>
void interleave(const float* src, int64_t ss, int64_t dw, int64_t L, int64_t off, int64_t n,
                float bias, float* dst) {
  auto one = [&](int64_t i) {
    const int64_t m = i - off;
    const float v = m >= 0 && m < dw * L ? src[(m % dw) * ss + m / dw] : 0.f;
    dst[i] = Bias ? v + bias : v;
  };
  if (dw == 2) {
    // l in [lo, hi): both 2l + off and 2l + 1 + off inside [0, n)
    const int64_t lo = std::min(L, std::max<int64_t>(0, (-off + 1) / 2));
    const int64_t hi = std::max(lo, std::min(L, floor_div(n - 2 - off, 2) + 1));
    const int64_t i_lo = lo < hi ? 2 * lo + off : n, i_hi = lo < hi ? 2 * hi + off : n;
    for (int64_t i = 0; i < std::min(i_lo, n); ++i) one(i);
    const float* s0 = src;
    const float* s1 = src + ss;
    float* d2 = dst + off;
    for (int64_t l = lo; l < hi; ++l) {
      d2[2 * l] = Bias ? s0[l] + bias : s0[l];
      d2[2 * l + 1] = Bias ? s1[l] + bias : s1[l];
    }
    for (int64_t i = std::max<int64_t>(i_hi, 0); i < n; ++i) one(i);
    return;
  }
  for (int64_t i = 0; i < n; ++i) one(i);
}

// xph[(n, a, b), c, j, l] = x[n, c, a - pad_top + dh*(j + j0), b - pad_left + dw*(l + l0)], zero
// outside x, where j0, l0 are the phase problem's padding (see dilated_phase_problem).
void gather_input(const Conv2dParams& p, const Conv2dParams& q, const float* x, float* xph) {
  const int64_t dh = p.dil_h, dw = p.dil_w, plane = q.H * q.W;
  const int64_t off_w = dw * q.pad_left - p.pad_left;  // x column of phase column 0, less b
  parallel_for(0, p.N * p.C, grain_for(dh * dw * plane), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / p.C, c = i % p.C;
      for (int64_t a = 0; a < dh; ++a) {
        float* dst = xph + ((n * dh + a) * dw * p.C + c) * plane;  // phase (a, 0); b: + C*plane
        for (int64_t j = 0; j < q.H; ++j) {
          const int64_t ih = a - p.pad_top + dh * (j + q.pad_top);
          if (ih < 0 || ih >= p.H) {
            for (int64_t b = 0; b < dw; ++b)
              std::fill(dst + b * p.C * plane + j * q.W, dst + b * p.C * plane + (j + 1) * q.W, 0.f);
            continue;
          }
          deinterleave(x + (i * p.H + ih) * p.W, p.W, off_w, dw, q.W, dst + j * q.W, p.C * plane);
        }
      }
    }
  });
}

// dyph[(n, a, b), k, u, v] = dy[n, k, a + dh*u, b + dw*v], zero past P or Q (the dropped outputs
// of the phases with fewer rows or columns, so that they add nothing to any gradient).
void gather_output(const Conv2dParams& p, const Conv2dParams& q, const float* dy, float* dyph) {
  const int64_t dh = p.dil_h, dw = p.dil_w, plane = q.P * q.Q;
  parallel_for(0, p.N * p.K, grain_for(dh * dw * plane), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / p.K, k = i % p.K;
      for (int64_t a = 0; a < dh; ++a) {
        float* dst = dyph + ((n * dh + a) * dw * p.K + k) * plane;  // phase (a, 0); b: + K*plane
        for (int64_t u = 0; u < q.P; ++u) {
          const int64_t op = a + dh * u;
          if (op >= p.P) {
            for (int64_t b = 0; b < dw; ++b)
              std::fill(dst + b * p.K * plane + u * q.Q, dst + b * p.K * plane + (u + 1) * q.Q, 0.f);
            continue;
          }
          deinterleave(dy + (i * p.P + op) * p.Q, p.Q, 0, dw, q.Q, dst + u * q.Q, p.K * plane);
        }
      }
    }
  });
}

// y[n, k, a + dh*u, b + dw*v] = yph[(n, a, b), k, u, v] for the outputs inside (P, Q).
void scatter_output(const Conv2dParams& p, const Conv2dParams& q, const float* yph, float* y) {
  const int64_t dh = p.dil_h, dw = p.dil_w, plane = q.P * q.Q;
  parallel_for(0, p.N * p.K, grain_for(p.P * p.Q), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / p.K, k = i % p.K;
      for (int64_t op = 0; op < p.P; ++op) {
        const int64_t a = op % dh, u = op / dh;
        const float* src = yph + ((n * dh + a) * dw * p.K + k) * plane + u * q.Q;
        interleave<false>(src, p.K * plane, dw, q.Q, 0, p.Q, 0.f, y + (i * p.P + op) * p.Q);
      }
    }
  });
}

// dx[n, c, ih, iw] = dxph[(n, a, b), c, j, l] (+ bias[c]) for the one (a, j, b, l) with
// ih = a - pad_top + dh*(j + j0), iw = b - pad_left + dw*(l + l0); positions of x in no phase
// image (read by no output) get 0 (+ bias[c]).
void scatter_input(const Conv2dParams& p, const Conv2dParams& q, const float* dxph,
                   const float* bias, float* dx) {
  const int64_t dh = p.dil_h, dw = p.dil_w, plane = q.H * q.W;
  const int64_t off_w = dw * q.pad_left - p.pad_left;  // x column of phase column 0, less b
  parallel_for(0, p.N * p.C, grain_for(p.H * p.W), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / p.C, c = i % p.C;
      const float bc = bias ? bias[c] : 0.f;
      for (int64_t ih = 0; ih < p.H; ++ih) {
        float* d = dx + (i * p.H + ih) * p.W;
        const int64_t a = floor_mod(ih + p.pad_top, dh);
        const int64_t j = floor_div(ih + p.pad_top, dh) - q.pad_top;
        if (j < 0 || j >= q.H) {  // a row that no output reads
          std::fill(d, d + p.W, bc);
          continue;
        }
        const float* src = dxph + ((n * dh + a) * dw * p.C + c) * plane + j * q.W;
        if (bias)
          interleave<true>(src, p.C * plane, dw, q.W, off_w, p.W, bc, d);
        else
          interleave<false>(src, p.C * plane, dw, q.W, off_w, p.W, 0.f, d);
      }
    }
  });
}

}  // namespace

// Phase rows j (input row a - pad_top + dh*j of phase a) run over [j0, j1): from the first to the
// last that holds an input row in some phase and that some output u < P' reads (u + r, r < R).
// The phase image holds those rows only, and the phase conv has padding j0 on top (the zero
// rows above, and below whatever P' implies): with 'same' padding it is the undilated 'same' conv
// on P' x Q' images, and backward-data's output (the phase image) has no rows that are only
// padding (with rows 0 .. P' + R - 2 instead, 30x30 for the 28x28 phases of benchmarks'
// dilated_3x3: 1.3x Winograd's tiles). The same for columns.
static void phase_rows(int64_t n, int64_t pad, int64_t d, int64_t R, int64_t Pq, int64_t& j0,
                       int64_t& j1) {
  j0 = std::max<int64_t>(0, -floor_div(d - 1 - pad, d));       // min over a of ceil((pad - a)/d)
  j1 = std::min(Pq + R - 1, floor_div(n - 1 + pad, d) + 1);   // max over a of floor((..-a)/d)+1
  j1 = std::max(j1, j0 + 1);  // no row at all (only with crops past the input): one zero row
}

Conv2dParams dilated_phase_problem(const Conv2dParams& p) {
  const int64_t Pq = (p.P + p.dil_h - 1) / p.dil_h, Qq = (p.Q + p.dil_w - 1) / p.dil_w;
  int64_t j0, j1, l0, l1;
  phase_rows(p.H, p.pad_top, p.dil_h, p.R, Pq, j0, j1);
  phase_rows(p.W, p.pad_left, p.dil_w, p.S, Qq, l0, l1);
  return Conv2dParams{p.N * p.dil_h * p.dil_w, p.C, j1 - j0, l1 - l0, p.K, p.R, p.S,
                      Pq, Qq, 1, 1, j0, l0, 1, 1, p.groups};
}

namespace {

// Chunks of the forward and backward-data: the chunk's phase buffers (input and output
// phases, floats) stay within kChunkBytes, so that they are still in the L3 cache when the conv
// reads the gathered phases and when the scatter reads its output (32 MB of L3 here, and x and y
// pass through it too). Each output is computed the same way whatever the batch it is in (the
// kernels' sums run over channels and taps, not samples), so the chunking changes no bits. The
// chunks are of equal size (to a sample), so none is a small remainder: a chunk holds 1 sample
// only when its buffers take 4 MB, far more than Winograd's 16 tiles.
constexpr int64_t kChunkBytes = 8 << 20;

int64_t chunk_count(const Conv2dParams& p) {
  const Conv2dParams q = dilated_phase_problem(Conv2dParams{p.N > 0 ? 1 : 0, p.C, p.H, p.W, p.K,
      p.R, p.S, p.P, p.Q, 1, 1, p.pad_top, p.pad_left, p.dil_h, p.dil_w, p.groups});
  const int64_t per_sample = 4 * q.N * (q.C * q.H * q.W + q.K * q.P * q.Q);
  const int64_t step = std::max<int64_t>(1, kChunkBytes / std::max<int64_t>(1, per_sample));
  return (p.N + step - 1) / step;
}

// Chunk ci of `chunks` of p's batch, as a problem of its own; its first sample in n0.
Conv2dParams chunk_problem(const Conv2dParams& p, int64_t ci, int64_t chunks, int64_t& n0) {
  Conv2dParams c = p;
  n0 = ci * p.N / chunks;
  c.N = (ci + 1) * p.N / chunks - n0;
  return c;
}

}  // namespace

// x is (N,C,H,W), w is (K,C/g,R,S), b is (K,) or null, y is (N,K,P,Q); stride 1.
void dilated_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                     float* y) {
  const int64_t chunks = chunk_count(p);
  for (int64_t ci = 0; ci < chunks; ++ci) {
    int64_t n0;
    const Conv2dParams pc = chunk_problem(p, ci, chunks, n0);
    const Conv2dParams q = dilated_phase_problem(pc);
    float* xph = workspace<0>(q.N * q.C * q.H * q.W);
    float* yph = workspace<1>(q.N * q.K * q.P * q.Q);
    gather_input(pc, q, x + n0 * p.C * p.H * p.W, xph);
    conv2d_forward(q, xph, w, b, yph);  // the bias once, on every phase output
    scatter_output(pc, q, yph, y + n0 * p.K * p.P * p.Q);
  }
}

// dy is (N,K,P,Q), w is (K,C/g,R,S), b is (C,) or null (conv_transpose2d's bias), dx is (N,C,H,W).
void dilated_backward_data(const Conv2dParams& p, const float* dy, const float* w, const float* b,
                           float* dx) {
  const int64_t chunks = chunk_count(p);
  for (int64_t ci = 0; ci < chunks; ++ci) {
    int64_t n0;
    const Conv2dParams pc = chunk_problem(p, ci, chunks, n0);
    const Conv2dParams q = dilated_phase_problem(pc);
    float* dyph = workspace<1>(q.N * q.K * q.P * q.Q);
    float* dxph = workspace<2>(q.N * q.C * q.H * q.W);
    gather_output(pc, q, dy + n0 * p.K * p.P * p.Q, dyph);
    conv2d_backward_data(q, dyph, w, nullptr, dxph);
    // The bias here: the positions of dx in no phase image need it too.
    scatter_input(pc, q, dxph, b, dx + n0 * p.C * p.H * p.W);
  }
}

// dy is (N,K,P,Q), x is (N,C,H,W), dw is (K,C/g,R,S).
void dilated_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw) {
  const Conv2dParams q = dilated_phase_problem(p);
  float* xph = workspace<0>(q.N * q.C * q.H * q.W);
  float* dyph = workspace<1>(q.N * q.K * q.P * q.Q);
  gather_input(p, q, x, xph);
  gather_output(p, q, dy, dyph);
  conv2d_backward_weight(q, dyph, xph, dw);
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
