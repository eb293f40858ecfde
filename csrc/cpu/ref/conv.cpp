// Scalar reference convolution (see conv.h): each output element is one plain loop nest.
#include "cpu/ref/conv.h"

namespace fastcnn::ref {

// x is (N,C,H,W), w is (K,C/g,R,S), b is (K,) or null, y is (N,K,P,Q).
void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k) {
      const int64_t g = k / Kg;
      for (int64_t op = 0; op < p.P; ++op)
        for (int64_t oq = 0; oq < p.Q; ++oq) {
          double acc = b ? b[k] : 0.0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < p.R; ++r) {
              const int64_t ih = op * p.stride_h - p.pad_top + r * p.dil_h;
              if (ih < 0 || ih >= p.H) continue;
              for (int64_t s = 0; s < p.S; ++s) {
                const int64_t iw = oq * p.stride_w - p.pad_left + s * p.dil_w;
                if (iw < 0 || iw >= p.W) continue;
                acc += double(w[((k * Cg + c) * p.R + r) * p.S + s]) *
                       x[((n * p.C + g * Cg + c) * p.H + ih) * p.W + iw];
              }
            }
          y[((n * p.K + k) * p.P + op) * p.Q + oq] = float(acc);
        }
    }
}

// dy is (N,K,P,Q), w is (K,C/g,R,S), dx is (N,C,H,W). Gathers, for each input element, the
// outputs whose window reads it: op*stride_h = ih + pad_top - r*dil_h, likewise for columns.
void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t c = 0; c < p.C; ++c) {
      const int64_t g = c / Cg, cg = c % Cg;
      for (int64_t ih = 0; ih < p.H; ++ih)
        for (int64_t iw = 0; iw < p.W; ++iw) {
          double acc = 0.0;
          for (int64_t k = g * Kg; k < (g + 1) * Kg; ++k)
            for (int64_t r = 0; r < p.R; ++r) {
              const int64_t th = ih + p.pad_top - r * p.dil_h;
              if (th < 0 || th % p.stride_h != 0 || th / p.stride_h >= p.P) continue;
              for (int64_t s = 0; s < p.S; ++s) {
                const int64_t tw = iw + p.pad_left - s * p.dil_w;
                if (tw < 0 || tw % p.stride_w != 0 || tw / p.stride_w >= p.Q) continue;
                acc += double(w[((k * Cg + cg) * p.R + r) * p.S + s]) *
                       dy[((n * p.K + k) * p.P + th / p.stride_h) * p.Q + tw / p.stride_w];
              }
            }
          dx[((n * p.C + c) * p.H + ih) * p.W + iw] = float(acc);
        }
    }
}

// dy is (N,K,P,Q), x is (N,C,H,W), dw is (K,C/g,R,S), db is (K,) or null.
void conv2d_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw,
                            float* db) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  for (int64_t k = 0; k < p.K; ++k) {
    const int64_t g = k / Kg;
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t r = 0; r < p.R; ++r)
        for (int64_t s = 0; s < p.S; ++s) {
          double acc = 0.0;
          for (int64_t n = 0; n < p.N; ++n)
            for (int64_t op = 0; op < p.P; ++op) {
              const int64_t ih = op * p.stride_h - p.pad_top + r * p.dil_h;
              if (ih < 0 || ih >= p.H) continue;
              for (int64_t oq = 0; oq < p.Q; ++oq) {
                const int64_t iw = oq * p.stride_w - p.pad_left + s * p.dil_w;
                if (iw < 0 || iw >= p.W) continue;
                acc += double(dy[((n * p.K + k) * p.P + op) * p.Q + oq]) *
                       x[((n * p.C + g * Cg + c) * p.H + ih) * p.W + iw];
              }
            }
          dw[((k * Cg + c) * p.R + r) * p.S + s] = float(acc);
        }
    if (db) {
      double acc = 0.0;
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t i = 0; i < p.P * p.Q; ++i) acc += dy[(n * p.K + k) * p.P * p.Q + i];
      db[k] = float(acc);
    }
  }
}

}  // namespace fastcnn::ref
