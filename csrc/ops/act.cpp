#include "ops/act.h"

#include "cpu/kernels/act.h"
#include "fastcnn/common.h"

namespace fastcnn::ops {

namespace {

void check_dropout_p(const char* fn, float p) {
  FASTCNN_CHECK(p >= 0.0f && p < 1.0f, fn, ": argument 'p' got ", p, ", needed a number in [0, 1)");
}

void check_softmax_dims(const char* fn, int64_t O, int64_t D, int64_t I) {
  FASTCNN_CHECK(O >= 0 && D >= 0 && I >= 0, fn, ": argument 'x' got a negative extent");
  checked_mul(checked_mul(O, D, fn), I, fn);
}

bool shared_alpha(const char* fn, int64_t N, int64_t C, int64_t S, int64_t alpha_size) {
  FASTCNN_CHECK(alpha_size == C || alpha_size == 1, fn, ": argument 'alpha' got ", alpha_size,
                " elements, needed ", C, " (one per channel) or 1");
  checked_mul(checked_mul(N, C, fn), S, fn);
  return alpha_size == 1;
}

}  // namespace

void relu_forward(const float* x, float* y, int64_t n) { FASTCNN_DISPATCH(relu_forward)(x, y, n); }
void relu_backward(const float* dy, const float* x, float* dx, int64_t n) {
  FASTCNN_DISPATCH(relu_backward)(dy, x, dx, n);
}
void leaky_relu_forward(const float* x, float* y, int64_t n, float alpha) {
  FASTCNN_DISPATCH(leaky_relu_forward)(x, y, n, alpha);
}
void leaky_relu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha) {
  FASTCNN_DISPATCH(leaky_relu_backward)(dy, x, dx, n, alpha);
}

void prelu_forward(const float* x, const float* alpha, float* y, int64_t N, int64_t C, int64_t S,
                   int64_t alpha_size) {
  FASTCNN_DISPATCH(prelu_forward)(x, alpha, y, N, C, S, shared_alpha("prelu", N, C, S, alpha_size));
}
void prelu_backward(const float* dy, const float* x, const float* alpha, float* dx, float* dalpha, int64_t N,
                    int64_t C, int64_t S, int64_t alpha_size) {
  FASTCNN_DISPATCH(prelu_backward)(dy, x, alpha, dx, dalpha, N, C, S,
                                   shared_alpha("prelu_backward", N, C, S, alpha_size));
}

void rrelu_forward(const float* x, float* y, float* slope, int64_t n, float lower, float upper, bool training,
                   uint64_t seed) {
  FASTCNN_CHECK(lower >= 0.0f && lower <= 1.0f, "rrelu: argument 'lower' got ", lower,
                ", needed a number in [0, 1]");
  FASTCNN_CHECK(upper >= lower && upper <= 1.0f, "rrelu: argument 'upper' got ", upper,
                ", needed a number in [lower, 1] with lower = ", lower);
  FASTCNN_DISPATCH(rrelu_forward)(x, y, slope, n, lower, upper, training, seed);
}
void rrelu_backward(const float* dy, const float* slope, float* dx, int64_t n) {
  FASTCNN_DISPATCH(rrelu_backward)(dy, slope, dx, n);
}

void elu_forward(const float* x, float* y, int64_t n, float alpha) { FASTCNN_DISPATCH(elu_forward)(x, y, n, alpha); }
void elu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha) {
  FASTCNN_DISPATCH(elu_backward)(dy, x, dx, n, alpha);
}
void sigmoid_forward(const float* x, float* y, int64_t n) { FASTCNN_DISPATCH(sigmoid_forward)(x, y, n); }
void sigmoid_backward(const float* dy, const float* x, float* dx, int64_t n) {
  FASTCNN_DISPATCH(sigmoid_backward)(dy, x, dx, n);
}
void tanh_forward(const float* x, float* y, int64_t n) { FASTCNN_DISPATCH(tanh_forward)(x, y, n); }
void tanh_backward(const float* dy, const float* x, float* dx, int64_t n) {
  FASTCNN_DISPATCH(tanh_backward)(dy, x, dx, n);
}

void softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I) {
  check_softmax_dims("softmax", O, D, I);
  FASTCNN_DISPATCH(softmax_forward)(x, y, O, D, I);
}
void softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I) {
  check_softmax_dims("softmax_backward", O, D, I);
  FASTCNN_DISPATCH(softmax_backward)(dy, x, dx, O, D, I);
}
void log_softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I) {
  check_softmax_dims("log_softmax", O, D, I);
  FASTCNN_DISPATCH(log_softmax_forward)(x, y, O, D, I);
}
void log_softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I) {
  check_softmax_dims("log_softmax_backward", O, D, I);
  FASTCNN_DISPATCH(log_softmax_backward)(dy, x, dx, O, D, I);
}

void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed) {
  check_dropout_p("dropout", p);
  FASTCNN_DISPATCH(dropout_forward)(x, y, mask, n, p, seed);
}
void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p) {
  check_dropout_p("dropout_backward", p);
  FASTCNN_DISPATCH(dropout_backward)(dy, mask, dx, n, p);
}

}  // namespace fastcnn::ops
