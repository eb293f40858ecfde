// Host-side driver for tests/test_cuda_ops_math.py: runs the per-element math of the CUDA kernels
// (csrc/cuda/kernels/elementwise_math.h, pool_math.h) over whole arrays with plain loops, so that
// the formulas, the random stream and the pooling window/gather mapping are checked without a GPU.
// Built by the test with plain g++ (no CUDA) and loaded with ctypes.
#include <cstdint>
#include <vector>

#include "cuda/kernels/elementwise_math.h"
#include "cuda/kernels/pool_math.h"

using namespace fastcnn::cuda;

namespace {
enum Op { kRelu, kLeakyRelu, kElu, kSigmoid, kTanh };

PoolGeometry geometry(const int64_t* g, bool count_include_pad) {
  return {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], count_include_pad};
}
}  // namespace

extern "C" {

void act_forward(int op, const float* x, float* y, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; ++i) {
    switch (op) {
      case kRelu: y[i] = math::relu(x[i]); break;
      case kLeakyRelu: y[i] = math::leaky_relu(x[i], alpha); break;
      case kElu: y[i] = math::elu(x[i], alpha); break;
      case kSigmoid: y[i] = math::sigmoid(x[i]); break;
      default: y[i] = math::tanh_fwd(x[i]); break;
    }
  }
}

void act_backward(int op, const float* dy, const float* x, float* dx, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; ++i) {
    switch (op) {
      case kRelu: dx[i] = math::relu_grad(dy[i], x[i]); break;
      case kLeakyRelu: dx[i] = math::leaky_relu_grad(dy[i], x[i], alpha); break;
      case kElu: dx[i] = math::elu_grad(dy[i], x[i], alpha); break;
      case kSigmoid: dx[i] = math::sigmoid_grad(dy[i], x[i]); break;
      default: dx[i] = math::tanh_grad(dy[i], x[i]); break;
    }
  }
}

// x, y, dy, dx are (N,C,S); alpha, dalpha (C) or (1).
void prelu(const float* x, const float* alpha, float* y, int64_t N, int64_t C, int64_t S, int shared) {
  for (int64_t i = 0; i < N * C * S; ++i) y[i] = math::prelu(x[i], alpha[shared ? 0 : (i / S) % C]);
}
void prelu_backward(const float* dy, const float* x, const float* alpha, float* dx, float* dalpha, int64_t N,
                    int64_t C, int64_t S, int shared) {
  std::vector<double> sums(shared ? 1 : C, 0.0);
  for (int64_t i = 0; i < N * C * S; ++i) {
    const int64_t c = (i / S) % C;
    const float a = alpha[shared ? 0 : c];
    dx[i] = math::prelu_grad(dy[i], x[i], a);
    sums[shared ? 0 : c] += math::prelu_dalpha_term(dy[i], x[i]);
  }
  for (int64_t c = 0; c < (shared ? 1 : C); ++c) dalpha[c] = static_cast<float>(sums[c]);
}

// As the rrelu_forward launcher: mid and range in float, then the per-element slope.
void rrelu(const float* x, float* y, float* slope, int64_t n, float lower, float upper, int training, uint64_t seed) {
  const uint64_t key = math::stream_key(seed);
  const float mid = (lower + upper) * 0.5f, range = upper - lower;
  for (int64_t i = 0; i < n; ++i) {
    slope[i] = math::rrelu_slope(x[i], static_cast<uint64_t>(i), key, lower, range, mid, training != 0);
    y[i] = x[i] * slope[i];
  }
}

void dropout(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed) {
  const uint64_t key = math::stream_key(seed);
  const float scale = 1.0f / (1.0f - p);
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = math::dropout_keep(key, static_cast<uint64_t>(i), p);
    mask[i] = keep;
    y[i] = math::dropout_apply(x[i], keep, scale);
  }
}

void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p) {
  const float scale = 1.0f / (1.0f - p);
  for (int64_t i = 0; i < n; ++i) dx[i] = math::dropout_apply(dy[i], mask[i] != 0, scale);
}

// velocity null: plain SGD (as the binding passes it when momentum == 0).
void sgd(float* param, const float* grad, float* velocity, int64_t n, double lr, double momentum, int nesterov,
         double weight_decay) {
  for (int64_t i = 0; i < n; ++i) {
    if (velocity && momentum != 0)
      math::sgd_momentum_update(param[i], velocity[i], grad[i], static_cast<float>(lr), static_cast<float>(momentum),
                                nesterov != 0, static_cast<float>(weight_decay));
    else
      math::sgd_update(param[i], grad[i], static_cast<float>(lr), static_cast<float>(weight_decay));
  }
}

void adam(float* param, const float* grad, float* m, float* v, int64_t n, int64_t step, double lr, double beta1,
          double beta2, double eps, double weight_decay, int decoupled) {
  const math::AdamCoefs c = math::adam_coefs(step, lr, beta1, beta2, eps, weight_decay, decoupled != 0);
  for (int64_t i = 0; i < n; ++i) math::adam_update(param[i], m[i], v[i], grad[i], c);
}

void rmsprop(float* param, const float* grad, float* square_avg, int64_t n, double lr, double alpha, double eps) {
  for (int64_t i = 0; i < n; ++i)
    math::rmsprop_update(param[i], square_avg[i], grad[i], static_cast<float>(lr), static_cast<float>(alpha),
                         static_cast<float>(1 - alpha), static_cast<float>(eps));
}

// g = (N,C,H,W,P,Q,kh,kw,sh,sw,pad_top,pad_bottom,pad_left,pad_right); one call per output / input
// element, as the kernels' grid-stride loops.
void pool_forward(int is_max, const float* x, float* y, const int64_t* g, int count_include_pad) {
  const PoolGeometry p = geometry(g, count_include_pad != 0);
  for (int64_t o = 0; o < p.N * p.C * p.P * p.Q; ++o)
    y[o] = is_max ? pool::max_pool_output(x, p, o) : pool::avg_pool_output(x, p, o);
}

void pool_backward(int is_max, const float* dy, const float* x, float* dx, const int64_t* g, int count_include_pad) {
  const PoolGeometry p = geometry(g, count_include_pad != 0);
  for (int64_t i = 0; i < p.N * p.C * p.H * p.W; ++i)
    dx[i] = is_max ? pool::max_pool_input_grad(dy, x, p, i) : pool::avg_pool_input_grad(dy, p, i);
}

// The tiled path (one call per window); returns 0 (dx untouched) when the windows do not tile x.
int pool_backward_tiled(int is_max, const float* dy, const float* x, float* dx, const int64_t* g,
                        int count_include_pad) {
  const PoolGeometry p = geometry(g, count_include_pad != 0);
  if (!pool::tiles_exactly(p)) return 0;
  for (int64_t o = 0; o < p.N * p.C * p.P * p.Q; ++o) pool::tiled_window_grad(is_max != 0, dy, x, dx, p, o);
  return 1;
}

void covering_outputs(int64_t i, int64_t k, int64_t s, int64_t pad, int64_t out, int64_t* lo_hi) {
  const pool::Span span = pool::covering_outputs(i, k, s, pad, out);
  lo_hi[0] = span.lo;
  lo_hi[1] = span.hi;
}

}  // extern "C"
