// Depthwise convolution (see depthwise.h). x is (N,C,H,W), w is (K,1,R,S), y is (N,K,P,Q), K = C*M.
//  - forward: per output plane (n, k), correlate_plane(): the input plane copied zero-padded, then
//    each vector of 8 outputs summed in registers over the R*S taps (8-lane loads along the row).
//  - backward-data, stride 1: the same correlation of each dy plane with the flipped taps; for
//    several filters per channel (M > 1) they are added in filter order. Strided: per input plane,
//    each dy row is scattered into the dx rows it touched, tap by tap (an axpy along the row).
//  - backward-weight: per (batch chunk, filter), each tap is a dot product of the dy plane with
//    the shifted x plane (both copied zero-padded), on 8-lane vectors with 4 accumulators.
#include "cpu/kernels/depthwise.h"

#include <algorithm>
#include <vector>

#include "cpu/vec/vec.h"
#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

using vec::F32x8;

// The weight gradient's batch reduction is split into at most this many chunks, whatever the
// thread count, so its rounding never depends on the number of threads.
constexpr int64_t kWeightChunks = 8;

// [lo, hi): the q in [0, Q) with 0 <= q*stride + off < n.
void valid_range(int64_t off, int64_t stride, int64_t n, int64_t Q, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = n - off <= 0 ? 0 : (n - 1 - off) / stride + 1;
  lo = std::min(lo, Q);
  hi = std::max(lo, std::min(hi, Q));
}

// Planes per parallel chunk: enough multiply-adds that threading pays.
int64_t plane_grain(int64_t plane_work) {
  return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, plane_work));
}

// 8 floats src[l*stride] (l < n, zero beyond) as a vector. Built in memory, then loaded, so that
// the vectors that use it stay in registers (element writes to a vector spill it to the stack).
inline F32x8 load_lanes(const float* src, int64_t stride, int64_t n) {
  float lanes[8] = {};
  for (int64_t l = 0; l < n; ++l) lanes[l] = src[l * stride];
  return vec::load8(lanes);
}

// dst[q*stride] += a * src[q] for q in [0, n): the scatter of strided backward-data.
inline void axpy_scatter(int64_t n, float a, const float* __restrict src, int64_t stride,
                         float* __restrict dst) {
  if (stride == 1) {
    for (int64_t q = 0; q < n; ++q) dst[q] += a * src[q];
  } else {
    for (int64_t q = 0; q < n; ++q) dst[q * stride] += a * src[q];
  }
}


// Reused per-thread buffers: zero-padded planes; filter taps (flipped, or their accumulators).
float* pad_workspace(int64_t size) {
  static thread_local std::vector<float> ws;
  if ((int64_t)ws.size() < size) ws.resize(size);
  return ws.data();
}

float* taps_workspace(int64_t size) {
  static thread_local std::vector<float> ws;
  if ((int64_t)ws.size() < size) ws.resize(size);
  return ws.data();
}

// out (Hp,Wp)[i,j] = in (H,W)[i - pt, j - pl], zero outside in (pt, pl may be negative: cropping).
void pad_plane(const float* in, int64_t H, int64_t W, int64_t pt, int64_t pl, int64_t Hp,
               int64_t Wp, float* out) {
  const int64_t c0 = std::clamp<int64_t>(pl, 0, Wp), c1 = std::clamp<int64_t>(pl + W, c0, Wp);
  for (int64_t i = 0; i < Hp; ++i) {
    float* row = out + i * Wp;
    const int64_t ih = i - pt;
    if (ih < 0 || ih >= H || c0 == c1) {
      std::fill(row, row + Wp, 0.f);
      continue;
    }
    std::fill(row, row + c0, 0.f);
    std::copy(in + ih * W + (c0 - pl), in + ih * W + (c1 - pl), row + c0);
    std::fill(row + c1, row + Wp, 0.f);
  }
}

// One plane's correlation, with any stride, padding (negative = cropping) and dilation:
//   out[p,q] = (accumulate ? out[p,q] : init) + sum_{r,s} taps[r*S+s] * in[p*sh - pt + r*dh, q*sw - pl + s*dw]
// in is (H,W), zero outside; out is (P,Q). The input is first copied into a zero-padded plane
// wide enough for Q rounded up to 8, so every tap is an unconditional 8-lane load and each
// vector of 8 outputs is summed in registers, taps in (r,s) order, then stored once.
void correlate_plane(const float* in, int64_t H, int64_t W, const float* taps, int64_t R, int64_t S,
                     int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t dh, int64_t dw,
                     int64_t P, int64_t Q, float init, bool accumulate, float* out) {
  if (P == 0 || Q == 0) return;
  const int64_t Qr = (Q + 7) / 8 * 8;
  const int64_t Hp = (P - 1) * sh + (R - 1) * dh + 1, Wp = (Qr - 1) * sw + (S - 1) * dw + 1;
  float* pad = pad_workspace(Hp * Wp);
  pad_plane(in, H, W, pt, pl, Hp, Wp, pad);
  for (int64_t oh = 0; oh < P; ++oh) {
    float* yr = out + oh * Q;
    const float* base = pad + oh * sh * Wp;
    for (int64_t q0 = 0; q0 < Q; q0 += 8) {
      const int64_t n = std::min<int64_t>(8, Q - q0);
      F32x8 acc = vec::splat8(init);
      if (accumulate) acc = n == 8 ? vec::load8(yr + q0) : load_lanes(yr + q0, 1, n);
      for (int64_t r = 0; r < R; ++r) {
        const float* xr = base + r * dh * Wp + q0 * sw;
        for (int64_t s = 0; s < S; ++s) {
          const F32x8 xv = sw == 1 ? vec::load8(xr + s * dw) : load_lanes(xr + s * dw, sw, 8);
          acc += vec::splat8(taps[r * S + s]) * xv;
        }
      }
      if (n == 8) {
        vec::store8(yr + q0, acc);
      } else {
        float lanes[8];
        vec::store8(lanes, acc);
        std::copy(lanes, lanes + n, yr + q0);
      }
    }
  }
}

}  // namespace

bool depthwise_applies(const Conv2dParams& p) { return p.groups > 1 && p.groups == p.C; }

// x is (N,C,H,W), w is (K,1,R,S), b is (K,) or null, y is (N,K,P,Q):
// y[n,k,p,q] = b[k] + sum_{r,s} w[k,r,s] * x[n, k/M, p*sh - pt + r*dh, q*sw - pl + s*dw].
void depthwise_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                       float* y) {
  const int64_t M = p.K / p.C, HW = p.H * p.W, PQ = p.P * p.Q, RS = p.R * p.S;
  parallel_for(0, p.N * p.K, plane_grain(PQ * RS), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / p.K, k = i % p.K;
      const float* xc = x + (n * p.C + k / M) * HW;
      const float* wk = w + k * RS;
      correlate_plane(xc, p.H, p.W, wk, p.R, p.S, p.stride_h, p.stride_w, p.pad_top, p.pad_left,
                      p.dil_h, p.dil_w, p.P, p.Q, b ? b[k] : 0.f, false, y + i * PQ);
    }
  });
}

// dy is (N,K,P,Q), w is (K,1,R,S), b is (C,) or null, dx is (N,C,H,W):
// dx[n,c,h,v] = b[c] + sum over the M filters k of channel c and the (p,q,r,s) with
// h = p*sh - pt + r*dh, v = q*sw - pl + s*dw of w[k,r,s] * dy[n,k,p,q].
void depthwise_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                             const float* b, float* dx) {
  const int64_t M = p.K / p.C, HW = p.H * p.W, PQ = p.P * p.Q, RS = p.R * p.S;
  parallel_for(0, p.N * p.C, plane_grain(M * PQ * RS), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / p.C, c = i % p.C;
      float* dxc = dx + i * HW;
      if (p.stride_h == 1 && p.stride_w == 1) {
        // The forward of the flipped problem: taps reversed, padding (R-1)*dh - pt (crops if < 0).
        float* flipped = taps_workspace(RS);
        for (int64_t k = c * M; k < (c + 1) * M; ++k) {
          for (int64_t t = 0; t < RS; ++t) flipped[t] = w[k * RS + RS - 1 - t];
          correlate_plane(dy + (n * p.K + k) * PQ, p.P, p.Q, flipped, p.R, p.S, 1, 1,
                          (p.R - 1) * p.dil_h - p.pad_top, (p.S - 1) * p.dil_w - p.pad_left,
                          p.dil_h, p.dil_w, p.H, p.W, b ? b[c] : 0.f, k > c * M, dxc);
        }
        continue;
      }
      // Strided: each dy row scattered into the dx rows it touched, tap by tap.
      std::fill(dxc, dxc + HW, b ? b[c] : 0.f);
      for (int64_t k = c * M; k < (c + 1) * M; ++k) {
        const float* dyk = dy + (n * p.K + k) * PQ;
        const float* wk = w + k * RS;
        for (int64_t oh = 0; oh < p.P; ++oh) {
          const float* dyr = dyk + oh * p.Q;
          for (int64_t r = 0; r < p.R; ++r) {
            const int64_t ih = oh * p.stride_h - p.pad_top + r * p.dil_h;
            if (ih < 0 || ih >= p.H) continue;
            for (int64_t s = 0; s < p.S; ++s) {
              int64_t lo, hi;
              const int64_t off = s * p.dil_w - p.pad_left;
              valid_range(off, p.stride_w, p.W, p.Q, lo, hi);
              axpy_scatter(hi - lo, wk[r * p.S + s], dyr + lo,
                           p.stride_w, dxc + ih * p.W + lo * p.stride_w + off);
            }
          }
        }
      }
    }
  });
}

// dy is (N,K,P,Q), x is (N,C,H,W), dw is (K,1,R,S):
// dw[k,r,s] = sum_{n,p,q} dy[n,k,p,q] * x[n, k/M, p*sh - pt + r*dh, q*sw - pl + s*dw].
// The batch is split into min(N, kWeightChunks) chunks; each (chunk, filter) pair sums its samples
// in order into its own partial, and the partials are added in chunk order: the same bits for
// any thread count.
void depthwise_backward_weight(const Conv2dParams& p, const float* dy, const float* x,
                               float* dw) {
  const int64_t M = p.K / p.C, HW = p.H * p.W, PQ = p.P * p.Q, RS = p.R * p.S;
  const int64_t wsize = p.K * RS;
  if (p.N == 0 || PQ == 0) {
    std::fill(dw, dw + wsize, 0.f);
    return;
  }
  const int64_t chunks = std::min(p.N, kWeightChunks);
  static thread_local std::vector<float> partial_ws;
  if ((int64_t)partial_ws.size() < chunks * wsize) partial_ws.resize(chunks * wsize);
  float* partials = partial_ws.data();
  const int64_t chunk_work = (p.N + chunks - 1) / chunks * PQ * RS;
  const int64_t sw = p.stride_w, Qr = (p.Q + 7) / 8 * 8, nb = Qr / 8;
  const int64_t Hp = (p.P - 1) * p.stride_h + (p.R - 1) * p.dil_h + 1;
  const int64_t Wp = (Qr - 1) * sw + (p.S - 1) * p.dil_w + 1;
  auto xload = [sw](const float* src) { return sw == 1 ? vec::load8(src) : load_lanes(src, sw, 8); };
  parallel_for(0, chunks * p.K, plane_grain(chunk_work), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t ci = i / p.K, k = i % p.K;
      const int64_t n0 = ci * p.N / chunks, n1 = (ci + 1) * p.N / chunks;
      float* out = partials + i * RS;
      // x and dy planes copied zero-padded (dy rows to Qr columns), so every tap reads whole
      // vectors: per tap and sample, four accumulators (FMA latency) added into tap_acc[tap].
      float* xpad = pad_workspace(Hp * Wp + p.P * Qr);
      float* dypad = xpad + Hp * Wp;
      // 8 lanes per tap, as floats: a std::vector of vector types may lose their alignment.
      float* tap_acc = taps_workspace(8 * RS);
      std::fill(tap_acc, tap_acc + 8 * RS, 0.f);
      for (int64_t n = n0; n < n1; ++n) {
        pad_plane(x + (n * p.C + k / M) * HW, p.H, p.W, p.pad_top, p.pad_left, Hp, Wp, xpad);
        pad_plane(dy + (n * p.K + k) * PQ, p.P, p.Q, 0, 0, p.P, Qr, dypad);
        for (int64_t r = 0; r < p.R; ++r) {
          for (int64_t s = 0; s < p.S; ++s) {
            F32x8 a0 = {}, a1 = {}, a2 = {}, a3 = {};
            for (int64_t oh = 0; oh < p.P; ++oh) {
              const float* dyr = dypad + oh * Qr;
              const float* xr = xpad + (oh * p.stride_h + r * p.dil_h) * Wp + s * p.dil_w;
              int64_t j = 0;
              for (; j + 4 <= nb; j += 4) {
                a0 += vec::load8(dyr + 8 * j) * xload(xr + 8 * j * sw);
                a1 += vec::load8(dyr + 8 * j + 8) * xload(xr + (8 * j + 8) * sw);
                a2 += vec::load8(dyr + 8 * j + 16) * xload(xr + (8 * j + 16) * sw);
                a3 += vec::load8(dyr + 8 * j + 24) * xload(xr + (8 * j + 24) * sw);
              }
              if (j < nb) a0 += vec::load8(dyr + 8 * j) * xload(xr + 8 * j * sw);
              if (j + 1 < nb) a1 += vec::load8(dyr + 8 * j + 8) * xload(xr + (8 * j + 8) * sw);
              if (j + 2 < nb) a2 += vec::load8(dyr + 8 * j + 16) * xload(xr + (8 * j + 16) * sw);
            }
            float* lanes = tap_acc + 8 * (r * p.S + s);
            vec::store8(lanes, vec::load8(lanes) + ((a0 + a1) + (a2 + a3)));
          }
        }
      }
      for (int64_t t = 0; t < RS; ++t) {
        const F32x8 v = vec::load8(tap_acc + 8 * t);
        out[t] = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
      }
    }
  });
  for (int64_t i = 0; i < wsize; ++i) {
    float sum = partials[i];
    for (int64_t ci = 1; ci < chunks; ++ci) sum += partials[ci * wsize + i];
    dw[i] = sum;
  }
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
