// Dilated stride-1 convolution by phase splitting (see dilated.h for the decomposition).
// x is (N,C,H,W), w is (K,C/g,R,S), y is (N,K,P,Q); the phase batch is (N,dh,dw) images:
// xph is (N*dh*dw, C, H', W') and yph (N*dh*dw, K, P', Q'), P' = ceil(P/dh), Q' = ceil(Q/dw),
// H' = P' + R - 1, W' = Q' + S - 1. Image (n, a, b) is number (n*dh + a)*dw + b.
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

// xph[(n, a, b), c, j, l] = x[n, c, a - pad_top + dh*j, b - pad_left + dw*l], zero outside x.
void gather_input(const Conv2dParams& p, const Conv2dParams& q, const float* x, float* xph) {
  const int64_t dh = p.dil_h, dw = p.dil_w, plane = q.H * q.W;
  parallel_for(0, p.N * p.C, grain_for(dh * dw * plane), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / p.C, c = i % p.C;
      const float* xc = x + i * p.H * p.W;
      for (int64_t a = 0; a < dh; ++a)
        for (int64_t b = 0; b < dw; ++b) {
          float* dst = xph + (((n * dh + a) * dw + b) * p.C + c) * plane;
          const int64_t off_w = b - p.pad_left;
          int64_t lo, hi;
          valid_range(off_w, dw, p.W, q.W, lo, hi);
          for (int64_t j = 0; j < q.H; ++j) {
            float* d = dst + j * q.W;
            const int64_t ih = a - p.pad_top + dh * j;
            if (ih < 0 || ih >= p.H) {
              std::fill(d, d + q.W, 0.f);
              continue;
            }
            const float* row = xc + ih * p.W + off_w;
            std::fill(d, d + lo, 0.f);
            if (dw == 1) {
              std::copy(row + lo, row + hi, d + lo);
            } else {
              for (int64_t l = lo; l < hi; ++l) d[l] = row[l * dw];
            }
            std::fill(d + hi, d + q.W, 0.f);
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
      for (int64_t a = 0; a < dh; ++a)
        for (int64_t b = 0; b < dw; ++b) {
          float* dst = dyph + (((n * dh + a) * dw + b) * p.K + k) * plane;
          const int64_t vb = std::min(q.Q, std::max<int64_t>(0, (p.Q - b + dw - 1) / dw));
          for (int64_t u = 0; u < q.P; ++u) {
            float* d = dst + u * q.Q;
            const int64_t op = a + dh * u;
            if (op >= p.P) {
              std::fill(d, d + q.Q, 0.f);
              continue;
            }
            const float* row = dy + (i * p.P + op) * p.Q + b;
            for (int64_t v = 0; v < vb; ++v) d[v] = row[v * dw];
            std::fill(d + vb, d + q.Q, 0.f);
          }
        }
    }
  });
}

// y[n, k, a + dh*u, b + dw*v] = yph[(n, a, b), k, u, v] for the outputs inside (P, Q).
void scatter_output(const Conv2dParams& p, const Conv2dParams& q, const float* yph, float* y) {
  const int64_t dh = p.dil_h, dw = p.dil_w;
  parallel_for(0, p.N * p.K, grain_for(p.P * p.Q), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / p.K, k = i % p.K;
      for (int64_t op = 0; op < p.P; ++op) {
        const int64_t a = op % dh, u = op / dh;
        float* d = y + (i * p.P + op) * p.Q;
        for (int64_t b = 0; b < dw && b < p.Q; ++b) {
          const float* src = yph + ((((n * dh + a) * dw + b) * p.K + k) * q.P + u) * q.Q;
          const int64_t vb = (p.Q - b + dw - 1) / dw;
          if (dw == 1) {
            std::copy(src, src + vb, d);
          } else {
            for (int64_t v = 0; v < vb; ++v) d[b + dw * v] = src[v];
          }
        }
      }
    }
  });
}

// dx[n, c, ih, iw] = dxph[(n, a, b), c, j, l] (+ bias[c]) for the one (a, j, b, l) with
// ih = a - pad_top + dh*j, iw = b - pad_left + dw*l; positions of x in no phase image (read by no
// output) get 0 (+ bias[c]).
void scatter_input(const Conv2dParams& p, const Conv2dParams& q, const float* dxph,
                   const float* bias, float* dx) {
  const int64_t dh = p.dil_h, dw = p.dil_w;
  parallel_for(0, p.N * p.C, grain_for(p.H * p.W), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / p.C, c = i % p.C;
      const float bc = bias ? bias[c] : 0.f;
      for (int64_t ih = 0; ih < p.H; ++ih) {
        float* d = dx + (i * p.H + ih) * p.W;
        const int64_t a = floor_mod(ih + p.pad_top, dh), j = floor_div(ih + p.pad_top, dh);
        const bool in_rows = j >= 0 && j < q.H;  // pad_top < 0 (a crop) can make j negative
        int64_t covered = 0;                         // columns written from a phase image
        for (int64_t b = 0; b < dw && in_rows; ++b) {
          const float* src = dxph + ((((n * dh + a) * dw + b) * p.C + c) * q.H + j) * q.W;
          const int64_t off_w = b - p.pad_left;
          int64_t lo, hi;
          valid_range(off_w, dw, p.W, q.W, lo, hi);
          float* dd = d + off_w;
          if (bias) {
            for (int64_t l = lo; l < hi; ++l) dd[l * dw] = src[l] + bc;
          } else {
            for (int64_t l = lo; l < hi; ++l) dd[l * dw] = src[l];
          }
          covered += hi - lo;
        }
        if (covered == p.W) continue;
        // Some columns (or the whole row) are read by no output: recompute which, rarely needed.
        for (int64_t iw = 0; iw < p.W; ++iw) {
          const int64_t l = floor_div(iw + p.pad_left, dw);
          if (!in_rows || l < 0 || l >= q.W) d[iw] = bc;
        }
      }
    }
  });
}

}  // namespace

Conv2dParams dilated_phase_problem(const Conv2dParams& p) {
  const int64_t Pq = (p.P + p.dil_h - 1) / p.dil_h, Qq = (p.Q + p.dil_w - 1) / p.dil_w;
  return Conv2dParams{p.N * p.dil_h * p.dil_w, p.C, Pq + p.R - 1, Qq + p.S - 1, p.K, p.R, p.S,
                      Pq, Qq, 1, 1, 0, 0, 1, 1, p.groups};
}

// x is (N,C,H,W), w is (K,C/g,R,S), b is (K,) or null, y is (N,K,P,Q); stride 1.
void dilated_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                     float* y) {
  const Conv2dParams q = dilated_phase_problem(p);
  float* xph = workspace<0>(q.N * q.C * q.H * q.W);
  float* yph = workspace<1>(q.N * q.K * q.P * q.Q);
  gather_input(p, q, x, xph);
  conv2d_forward(q, xph, w, b, yph);  // the bias once, on every phase output
  scatter_output(p, q, yph, y);
}

// dy is (N,K,P,Q), w is (K,C/g,R,S), b is (C,) or null (conv_transpose2d's bias), dx is (N,C,H,W).
void dilated_backward_data(const Conv2dParams& p, const float* dy, const float* w, const float* b,
                           float* dx) {
  const Conv2dParams q = dilated_phase_problem(p);
  float* dyph = workspace<1>(q.N * q.K * q.P * q.Q);
  float* dxph = workspace<2>(q.N * q.C * q.H * q.W);
  gather_output(p, q, dy, dyph);
  conv2d_backward_data(q, dyph, w, nullptr, dxph);
  scatter_input(p, q, dxph, b, dx);  // the bias here: dx positions in no phase image need it too
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
