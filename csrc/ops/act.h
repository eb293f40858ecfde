// Front end of the act family: checks sizes and parameters, then dispatches the kernels.
// Shapes as in cpu/kernels/act.h: flat (n), channel-wise (N,C,S), softmax (O,D,I).
#pragma once
#include <cstdint>

namespace fastcnn::ops {

void relu_forward(const float* x, float* y, int64_t n);
void relu_backward(const float* dy, const float* x, float* dx, int64_t n);
void leaky_relu_forward(const float* x, float* y, int64_t n, float alpha);
void leaky_relu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha);
// alpha has alpha_size elements: C, or 1 (shared by all channels).
void prelu_forward(const float* x, const float* alpha, float* y, int64_t N, int64_t C, int64_t S,
                   int64_t alpha_size);
void prelu_backward(const float* dy, const float* x, const float* alpha, float* dx, float* dalpha, int64_t N,
                    int64_t C, int64_t S, int64_t alpha_size);
void rrelu_forward(const float* x, float* y, float* slope, int64_t n, float lower, float upper, bool training,
                   uint64_t seed);
void rrelu_backward(const float* dy, const float* slope, float* dx, int64_t n);
void elu_forward(const float* x, float* y, int64_t n, float alpha);
void elu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha);
void sigmoid_forward(const float* x, float* y, int64_t n);
void sigmoid_backward(const float* dy, const float* x, float* dx, int64_t n);
void tanh_forward(const float* x, float* y, int64_t n);
void tanh_backward(const float* dy, const float* x, float* dx, int64_t n);
void softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I);
void softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I);
void log_softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I);
void log_softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I);
void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed);
void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p);

}  // namespace fastcnn::ops
