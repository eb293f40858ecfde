// CUDA activation kernels. Elementwise ops are grid-stride loops over float4 (16-byte loads and
// stores) when every pointer is 16-byte aligned, with a scalar tail; the per-element math is
// cuda/kernels/elementwise_math.h, shared with the host-side test. Softmax: one warp per row when
// the reduced axis is contiguous (I == 1), else one thread per (o, i) column (coalesced across i).
// prelu's dalpha is a per-channel chunked reduction (ops_common.cuh), deterministic.
#include "cuda/kernels/act.h"

#include "cuda/kernels/elementwise_math.h"
#include "cuda/kernels/ops_common.cuh"

namespace fastcnn::cuda {

namespace {

using detail::global_thread;
using detail::grid_threads;
using detail::kThreads;

// ---- generic elementwise maps: y = f(x) and dx = f(dy, x) ---------------------------------------

template <class F, bool kVec>
__global__ void map1_kernel(const float* x, float* y, int64_t n, F f) {
  const int64_t t = global_thread(), stride = grid_threads();
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n / 4;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t v = t; v < n4; v += stride) {
      float4 a = x4[v];
      a.x = f(a.x), a.y = f(a.y), a.z = f(a.z), a.w = f(a.w);
      y4[v] = a;
    }
    done = n4 * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) y[i] = f(x[i]);
}

template <class F, bool kVec>
__global__ void map2_kernel(const float* dy, const float* x, float* dx, int64_t n, F f) {
  const int64_t t = global_thread(), stride = grid_threads();
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n / 4;
    const float4* g4 = reinterpret_cast<const float4*>(dy);
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* d4 = reinterpret_cast<float4*>(dx);
    for (int64_t v = t; v < n4; v += stride) {
      const float4 g = g4[v], a = x4[v];
      d4[v] = make_float4(f(g.x, a.x), f(g.y, a.y), f(g.z, a.z), f(g.w, a.w));
    }
    done = n4 * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) dx[i] = f(dy[i], x[i]);
}

// Work items of a map: float4 groups (plus the tail) when vectorized.
int64_t map_work(int64_t n, bool vec) { return vec ? (n + 3) / 4 : n; }

template <class F>
void map1(const float* x, float* y, int64_t n, F f, cudaStream_t s, const char* name) {
  if (n <= 0) return;
  const bool vec = detail::aligned(x, 16) && detail::aligned(y, 16);
  const unsigned grid = detail::grid_for(map_work(n, vec));
  if (vec)
    map1_kernel<F, true><<<grid, kThreads, 0, s>>>(x, y, n, f);
  else
    map1_kernel<F, false><<<grid, kThreads, 0, s>>>(x, y, n, f);
  check_launch(name);
}

template <class F>
void map2(const float* dy, const float* x, float* dx, int64_t n, F f, cudaStream_t s, const char* name) {
  if (n <= 0) return;
  const bool vec = detail::aligned(dy, 16) && detail::aligned(x, 16) && detail::aligned(dx, 16);
  const unsigned grid = detail::grid_for(map_work(n, vec));
  if (vec)
    map2_kernel<F, true><<<grid, kThreads, 0, s>>>(dy, x, dx, n, f);
  else
    map2_kernel<F, false><<<grid, kThreads, 0, s>>>(dy, x, dx, n, f);
  check_launch(name);
}

struct Relu {
  __device__ float operator()(float x) const { return math::relu(x); }
};
struct ReluGrad {
  __device__ float operator()(float dy, float x) const { return math::relu_grad(dy, x); }
};
struct LeakyRelu {
  float alpha;
  __device__ float operator()(float x) const { return math::leaky_relu(x, alpha); }
};
struct LeakyReluGrad {
  float alpha;
  __device__ float operator()(float dy, float x) const { return math::leaky_relu_grad(dy, x, alpha); }
};
struct Elu {
  float alpha;
  __device__ float operator()(float x) const { return math::elu(x, alpha); }
};
struct EluGrad {
  float alpha;
  __device__ float operator()(float dy, float x) const { return math::elu_grad(dy, x, alpha); }
};
struct Sigmoid {
  __device__ float operator()(float x) const { return math::sigmoid(x); }
};
struct SigmoidGrad {
  __device__ float operator()(float dy, float x) const { return math::sigmoid_grad(dy, x); }
};
struct Tanh {
  __device__ float operator()(float x) const { return math::tanh_fwd(x); }
};
struct TanhGrad {
  __device__ float operator()(float dy, float x) const { return math::tanh_grad(dy, x); }
};
// dy * slope (rrelu's backward)
struct Scale {
  __device__ float operator()(float dy, float slope) const { return dy * slope; }
};

// ---- prelu ---------------------------------------------------------------------------------------

// x, y are (N,C,S). kVec: S % 4 == 0 and aligned pointers, so a float4 never spans two channels.
template <bool kVec>
__global__ void prelu_forward_kernel(const float* x, const float* alpha, float* y, int64_t N, int64_t C, int64_t S,
                                     bool shared_alpha) {
  const int64_t t = global_thread(), stride = grid_threads();
  const int64_t n = N * C * S;
  if constexpr (kVec) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t v = t; v < n / 4; v += stride) {
      const float a = alpha[shared_alpha ? 0 : (v * 4 / S) % C];
      float4 e = x4[v];
      e.x = math::prelu(e.x, a), e.y = math::prelu(e.y, a), e.z = math::prelu(e.z, a), e.w = math::prelu(e.w, a);
      y4[v] = e;
    }
  } else {
    for (int64_t i = t; i < n; i += stride) y[i] = math::prelu(x[i], alpha[shared_alpha ? 0 : (i / S) % C]);
  }
}

// Block (c, split) of grid C*splits: dx for its chunk of channel c, and the chunk's dalpha partial.
__global__ void prelu_backward_kernel(const float* dy, const float* x, const float* alpha, float* dx, int64_t N,
                                      int64_t C, int64_t S, bool shared_alpha, int64_t splits, double* partial) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x / splits, split = blockIdx.x % splits;
  int64_t begin, end;
  detail::chunk_range(N * S, splits, split, begin, end);
  const float a = alpha[shared_alpha ? 0 : c];
  double acc = 0.0;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const int64_t i = detail::channel_value_index(j, c, C, S);
    const float g = dy[i], xi = x[i];
    dx[i] = math::prelu_grad(g, xi, a);
    acc += math::prelu_dalpha_term(g, xi);
  }
  acc = detail::block_sum(acc, scratch);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// dalpha[c] = channel c's partials in chunk order (one thread per channel).
__global__ void prelu_dalpha_kernel(const double* partial, float* dalpha, int64_t C, int64_t splits) {
  for (int64_t c = global_thread(); c < C; c += grid_threads()) {
    double sum = 0.0;
    for (int64_t k = 0; k < splits; ++k) sum += partial[c * splits + k];
    dalpha[c] = static_cast<float>(sum);
  }
}

// Shared alpha: dalpha[0] = all C*splits partials, by one block's fixed tree.
__global__ void prelu_dalpha_shared_kernel(const double* partial, float* dalpha, int64_t count) {
  __shared__ double scratch[32];
  double acc = 0.0;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) acc += partial[k];
  acc = detail::block_sum(acc, scratch);
  if (threadIdx.x == 0) dalpha[0] = static_cast<float>(acc);
}

// ---- rrelu ---------------------------------------------------------------------------------------

template <bool kVec>
__global__ void rrelu_forward_kernel(const float* x, float* y, float* slope, int64_t n, float lower, float range,
                                     float mid, bool training, uint64_t key) {
  const int64_t t = global_thread(), stride = grid_threads();
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n / 4;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    for (int64_t v = t; v < n4; v += stride) {
      const float4 e = x4[v];
      const uint64_t i = static_cast<uint64_t>(v) * 4;
      const float4 sl = make_float4(math::rrelu_slope(e.x, i, key, lower, range, mid, training),
                                    math::rrelu_slope(e.y, i + 1, key, lower, range, mid, training),
                                    math::rrelu_slope(e.z, i + 2, key, lower, range, mid, training),
                                    math::rrelu_slope(e.w, i + 3, key, lower, range, mid, training));
      reinterpret_cast<float4*>(slope)[v] = sl;
      reinterpret_cast<float4*>(y)[v] = make_float4(e.x * sl.x, e.y * sl.y, e.z * sl.z, e.w * sl.w);
    }
    done = n4 * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) {
    const float sl = math::rrelu_slope(x[i], static_cast<uint64_t>(i), key, lower, range, mid, training);
    slope[i] = sl;
    y[i] = x[i] * sl;
  }
}

// ---- dropout -------------------------------------------------------------------------------------

// kVec: x, y 16-byte and mask 4-byte aligned.
template <bool kVec>
__global__ void dropout_forward_kernel(const float* x, float* y, uint8_t* mask, int64_t n, float p, float scale,
                                       uint64_t key) {
  const int64_t t = global_thread(), stride = grid_threads();
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n / 4;
    for (int64_t v = t; v < n4; v += stride) {
      const float4 e = reinterpret_cast<const float4*>(x)[v];
      const uint64_t i = static_cast<uint64_t>(v) * 4;
      const bool k0 = math::dropout_keep(key, i, p), k1 = math::dropout_keep(key, i + 1, p);
      const bool k2 = math::dropout_keep(key, i + 2, p), k3 = math::dropout_keep(key, i + 3, p);
      reinterpret_cast<uchar4*>(mask)[v] = make_uchar4(k0, k1, k2, k3);
      reinterpret_cast<float4*>(y)[v] =
          make_float4(math::dropout_apply(e.x, k0, scale), math::dropout_apply(e.y, k1, scale),
                      math::dropout_apply(e.z, k2, scale), math::dropout_apply(e.w, k3, scale));
    }
    done = n4 * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) {
    const bool keep = math::dropout_keep(key, static_cast<uint64_t>(i), p);
    mask[i] = keep;
    y[i] = math::dropout_apply(x[i], keep, scale);
  }
}

template <bool kVec>
__global__ void dropout_backward_kernel(const float* dy, const uint8_t* mask, float* dx, int64_t n, float scale) {
  const int64_t t = global_thread(), stride = grid_threads();
  int64_t done = 0;
  if (kVec) {
    const int64_t n4 = n / 4;
    for (int64_t v = t; v < n4; v += stride) {
      const float4 g = reinterpret_cast<const float4*>(dy)[v];
      const uchar4 m = reinterpret_cast<const uchar4*>(mask)[v];
      reinterpret_cast<float4*>(dx)[v] =
          make_float4(math::dropout_apply(g.x, m.x != 0, scale), math::dropout_apply(g.y, m.y != 0, scale),
                      math::dropout_apply(g.z, m.z != 0, scale), math::dropout_apply(g.w, m.w != 0, scale));
    }
    done = n4 * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) dx[i] = math::dropout_apply(dy[i], mask[i] != 0, scale);
}

// ---- softmax over D of (O,D,I) -------------------------------------------------------------------
// As csrc/cpu/kernels/act.cpp: max-subtracted, the sum of e = exp(x - max) in double. softmax's
// backward is y * ((dy - c) - sum(y * (dy - c))) with c the dy of the last maximal x (a pivot that
// keeps a saturated row's tiny gradients); log_softmax's is dy - softmax(x) * sum(dy).

enum class Pass { forward, backward };

// The dy of the last d with x == m among the lane's elements: (index, value), index -1 if none.
struct Pivot {
  int64_t d;
  float dy;
};

// Pivot of the whole warp: the largest index wins (every lane ends with the same).
__device__ __forceinline__ Pivot warp_last_pivot(Pivot p) {
  for (int offset = detail::kWarp / 2; offset > 0; offset /= 2) {
    const int64_t od = __shfl_xor_sync(0xffffffffu, p.d, offset);
    const float ov = __shfl_xor_sync(0xffffffffu, p.dy, offset);
    if (od > p.d) p = {od, ov};
  }
  return p;
}

// One warp per contiguous row of D (I == 1); rows are grid-strided over the warps.
template <bool kLog, Pass kPass>
__global__ void softmax_rows_kernel(const float* x, const float* dy, float* out, int64_t O, int64_t D) {
  const int lane = threadIdx.x % detail::kWarp;
  const int64_t warps = grid_threads() / detail::kWarp;
  for (int64_t row = global_thread() / detail::kWarp; row < O; row += warps) {
    const float* xr = x + row * D;
    const float* dyr = kPass == Pass::backward ? dy + row * D : nullptr;
    float* outr = out + row * D;
    float m = -INFINITY;
    for (int64_t d = lane; d < D; d += detail::kWarp) m = xr[d] > m ? xr[d] : m;
    m = detail::warp_max(m);
    double s = 0.0;
    for (int64_t d = lane; d < D; d += detail::kWarp) s += static_cast<double>(expf(xr[d] - m));
    s = detail::warp_sum(s);
    const double inv_s = 1.0 / s;
    const float log_s = static_cast<float>(log(s));
    if (kPass == Pass::forward) {
      for (int64_t d = lane; d < D; d += detail::kWarp)
        outr[d] = kLog ? (xr[d] - m) - log_s : static_cast<float>(expf(xr[d] - m) * inv_s);
    } else if (kLog) {
      double sdy = 0.0;
      for (int64_t d = lane; d < D; d += detail::kWarp) sdy += static_cast<double>(dyr[d]);
      const float g = static_cast<float>(detail::warp_sum(sdy));
      for (int64_t d = lane; d < D; d += detail::kWarp)
        outr[d] = dyr[d] - static_cast<float>(expf(xr[d] - m) * inv_s) * g;
    } else {
      Pivot pv{-1, 0.0f};
      for (int64_t d = lane; d < D; d += detail::kWarp)
        if (xr[d] == m) pv = {d, dyr[d]};
      const double c = warp_last_pivot(pv).dy;  // 0 when no x equals m (all NaN)
      double dot = 0.0;
      for (int64_t d = lane; d < D; d += detail::kWarp)
        dot += (static_cast<double>(dyr[d]) - c) * static_cast<double>(expf(xr[d] - m));
      dot = inv_s * detail::warp_sum(dot);
      for (int64_t d = lane; d < D; d += detail::kWarp) {
        const float e = expf(xr[d] - m);
        outr[d] = static_cast<float>(e * inv_s * ((static_cast<double>(dyr[d]) - c) - dot));
      }
    }
  }
}

// One thread per (o, i) column of D elements I apart (I > 1): neighbouring threads read
// neighbouring addresses.
template <bool kLog, Pass kPass>
__global__ void softmax_columns_kernel(const float* x, const float* dy, float* out, int64_t O, int64_t D, int64_t I) {
  const int64_t columns = O * I;
  for (int64_t u = global_thread(); u < columns; u += grid_threads()) {
    const int64_t o = u / I;
    const int64_t base = o * D * I + (u - o * I);
    const float* xc = x + base;
    const float* dyc = kPass == Pass::backward ? dy + base : nullptr;
    float* outc = out + base;
    float m = -INFINITY;
    for (int64_t d = 0; d < D; ++d) m = xc[d * I] > m ? xc[d * I] : m;
    double s = 0.0;
    for (int64_t d = 0; d < D; ++d) s += static_cast<double>(expf(xc[d * I] - m));
    const double inv_s = 1.0 / s;
    const float log_s = static_cast<float>(log(s));
    if (kPass == Pass::forward) {
      for (int64_t d = 0; d < D; ++d)
        outc[d * I] = kLog ? (xc[d * I] - m) - log_s : static_cast<float>(expf(xc[d * I] - m) * inv_s);
    } else if (kLog) {
      double sdy = 0.0;
      for (int64_t d = 0; d < D; ++d) sdy += static_cast<double>(dyc[d * I]);
      const float g = static_cast<float>(sdy);
      for (int64_t d = 0; d < D; ++d) outc[d * I] = dyc[d * I] - expf((xc[d * I] - m) - log_s) * g;
    } else {
      float c = 0.0f;
      for (int64_t d = 0; d < D; ++d) c = xc[d * I] == m ? dyc[d * I] : c;
      double dot = 0.0;
      for (int64_t d = 0; d < D; ++d)
        dot += (static_cast<double>(dyc[d * I]) - c) * static_cast<double>(expf(xc[d * I] - m));
      dot *= inv_s;
      for (int64_t d = 0; d < D; ++d) {
        const float e = expf(xc[d * I] - m);
        outc[d * I] = static_cast<float>(e * inv_s * ((static_cast<double>(dyc[d * I]) - c) - dot));
      }
    }
  }
}

template <bool kLog, Pass kPass>
void softmax_run(const float* x, const float* dy, float* out, int64_t O, int64_t D, int64_t I, cudaStream_t s,
                 const char* name) {
  if (O <= 0 || D <= 0 || I <= 0) return;
  if (I == 1) {
    softmax_rows_kernel<kLog, kPass><<<detail::grid_for(O * detail::kWarp), kThreads, 0, s>>>(x, dy, out, O, D);
  } else {
    softmax_columns_kernel<kLog, kPass><<<detail::grid_for(O * I), kThreads, 0, s>>>(x, dy, out, O, D, I);
  }
  check_launch(name);
}

}  // namespace

void relu_forward(const float* x, float* y, int64_t n, cudaStream_t s) { map1(x, y, n, Relu{}, s, "relu_forward"); }
void relu_backward(const float* dy, const float* x, float* dx, int64_t n, cudaStream_t s) {
  map2(dy, x, dx, n, ReluGrad{}, s, "relu_backward");
}
void leaky_relu_forward(const float* x, float* y, int64_t n, float alpha, cudaStream_t s) {
  map1(x, y, n, LeakyRelu{alpha}, s, "leaky_relu_forward");
}
void leaky_relu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha, cudaStream_t s) {
  map2(dy, x, dx, n, LeakyReluGrad{alpha}, s, "leaky_relu_backward");
}
void elu_forward(const float* x, float* y, int64_t n, float alpha, cudaStream_t s) {
  map1(x, y, n, Elu{alpha}, s, "elu_forward");
}
void elu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha, cudaStream_t s) {
  map2(dy, x, dx, n, EluGrad{alpha}, s, "elu_backward");
}
void sigmoid_forward(const float* x, float* y, int64_t n, cudaStream_t s) {
  map1(x, y, n, Sigmoid{}, s, "sigmoid_forward");
}
void sigmoid_backward(const float* dy, const float* x, float* dx, int64_t n, cudaStream_t s) {
  map2(dy, x, dx, n, SigmoidGrad{}, s, "sigmoid_backward");
}
void tanh_forward(const float* x, float* y, int64_t n, cudaStream_t s) { map1(x, y, n, Tanh{}, s, "tanh_forward"); }
void tanh_backward(const float* dy, const float* x, float* dx, int64_t n, cudaStream_t s) {
  map2(dy, x, dx, n, TanhGrad{}, s, "tanh_backward");
}

void prelu_forward(const float* x, const float* alpha, float* y, int64_t N, int64_t C, int64_t S, bool shared_alpha,
                   cudaStream_t s) {
  const int64_t n = N * C * S;
  if (n <= 0) return;
  const bool vec = S % 4 == 0 && detail::aligned(x, 16) && detail::aligned(y, 16);
  const unsigned grid = detail::grid_for(vec ? n / 4 : n);
  if (vec)
    prelu_forward_kernel<true><<<grid, kThreads, 0, s>>>(x, alpha, y, N, C, S, shared_alpha);
  else
    prelu_forward_kernel<false><<<grid, kThreads, 0, s>>>(x, alpha, y, N, C, S, shared_alpha);
  check_launch("prelu_forward");
}

std::size_t prelu_backward_workspace_bytes(int64_t N, int64_t C, int64_t S) {
  return static_cast<std::size_t>(C * detail::channel_splits(N * S)) * sizeof(double);
}

void prelu_backward(const float* dy, const float* x, const float* alpha, float* dx, float* dalpha, int64_t N,
                    int64_t C, int64_t S, bool shared_alpha, void* workspace, cudaStream_t s) {
  const int64_t alpha_size = shared_alpha ? 1 : C;
  if (N * C * S <= 0) {  // nothing to differentiate: dalpha is 0 (as on the CPU)
    if (alpha_size > 0)
      check(cudaMemsetAsync(dalpha, 0, static_cast<std::size_t>(alpha_size) * sizeof(float), s), "prelu_backward");
    return;
  }
  const int64_t splits = detail::channel_splits(N * S);
  double* partial = static_cast<double*>(workspace);
  prelu_backward_kernel<<<static_cast<unsigned>(C * splits), kThreads, 0, s>>>(dy, x, alpha, dx, N, C, S,
                                                                               shared_alpha, splits, partial);
  check_launch("prelu_backward");
  if (shared_alpha) {
    prelu_dalpha_shared_kernel<<<1, 1024, 0, s>>>(partial, dalpha, C * splits);
    check_launch("prelu_dalpha_shared");
  } else {
    prelu_dalpha_kernel<<<detail::grid_for(C), kThreads, 0, s>>>(partial, dalpha, C, splits);
    check_launch("prelu_dalpha");
  }
}

void rrelu_forward(const float* x, float* y, float* slope, int64_t n, float lower, float upper, bool training,
                   uint64_t seed, cudaStream_t s) {
  if (n <= 0) return;
  const uint64_t key = math::stream_key(seed);
  const float mid = (lower + upper) * 0.5f, range = upper - lower;
  const bool vec = detail::aligned(x, 16) && detail::aligned(y, 16) && detail::aligned(slope, 16);
  const unsigned grid = detail::grid_for(map_work(n, vec));
  if (vec)
    rrelu_forward_kernel<true><<<grid, kThreads, 0, s>>>(x, y, slope, n, lower, range, mid, training, key);
  else
    rrelu_forward_kernel<false><<<grid, kThreads, 0, s>>>(x, y, slope, n, lower, range, mid, training, key);
  check_launch("rrelu_forward");
}

void rrelu_backward(const float* dy, const float* slope, float* dx, int64_t n, cudaStream_t s) {
  map2(dy, slope, dx, n, Scale{}, s, "rrelu_backward");
}

void softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I, cudaStream_t s) {
  softmax_run<false, Pass::forward>(x, nullptr, y, O, D, I, s, "softmax_forward");
}
void softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I, cudaStream_t s) {
  softmax_run<false, Pass::backward>(x, dy, dx, O, D, I, s, "softmax_backward");
}
void log_softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I, cudaStream_t s) {
  softmax_run<true, Pass::forward>(x, nullptr, y, O, D, I, s, "log_softmax_forward");
}
void log_softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I,
                          cudaStream_t s) {
  softmax_run<true, Pass::backward>(x, dy, dx, O, D, I, s, "log_softmax_backward");
}

void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed, cudaStream_t s) {
  if (n <= 0) return;
  const uint64_t key = math::stream_key(seed);
  const float scale = 1.0f / (1.0f - p);
  const bool vec = detail::aligned(x, 16) && detail::aligned(y, 16) && detail::aligned(mask, 4);
  const unsigned grid = detail::grid_for(map_work(n, vec));
  if (vec)
    dropout_forward_kernel<true><<<grid, kThreads, 0, s>>>(x, y, mask, n, p, scale, key);
  else
    dropout_forward_kernel<false><<<grid, kThreads, 0, s>>>(x, y, mask, n, p, scale, key);
  check_launch("dropout_forward");
}

void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p, cudaStream_t s) {
  if (n <= 0) return;
  const float scale = 1.0f / (1.0f - p);
  const bool vec = detail::aligned(dy, 16) && detail::aligned(dx, 16) && detail::aligned(mask, 4);
  const unsigned grid = detail::grid_for(map_work(n, vec));
  if (vec)
    dropout_backward_kernel<true><<<grid, kThreads, 0, s>>>(dy, mask, dx, n, scale);
  else
    dropout_backward_kernel<false><<<grid, kThreads, 0, s>>>(dy, mask, dx, n, scale);
  check_launch("dropout_backward");
}

}  // namespace fastcnn::cuda
