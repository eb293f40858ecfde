// Kernels of the act family, declared once per built ISA (see fastcnn/dispatch.h).
// Elementwise kernels take flat arrays of n elements. Channel-wise ones (prelu) see x as (N,C,S)
// with S the product of the extents after the channel axis; softmax sees x as (O,D,I) with D the
// reduced axis. Randomness (rrelu, dropout) is counter-based: element i's draw is a hash of
// (seed, i), so results do not depend on the thread count.
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_ACT_KERNELS                                                                              \
  void relu_forward(const float* x, float* y, int64_t n);                                                \
  void relu_backward(const float* dy, const float* x, float* dx, int64_t n);                             \
  void leaky_relu_forward(const float* x, float* y, int64_t n, float alpha);                             \
  void leaky_relu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha);          \
  void prelu_forward(const float* x, const float* alpha, float* y, int64_t N, int64_t C, int64_t S,      \
                     bool shared_alpha);                                                                 \
  void prelu_backward(const float* dy, const float* x, const float* alpha, float* dx, float* dalpha,     \
                      int64_t N, int64_t C, int64_t S, bool shared_alpha);                               \
  void rrelu_forward(const float* x, float* y, float* slope, int64_t n, float lower, float upper,        \
                     bool training, uint64_t seed);                                                      \
  void rrelu_backward(const float* dy, const float* slope, float* dx, int64_t n);                        \
  void elu_forward(const float* x, float* y, int64_t n, float alpha);                                    \
  void elu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha);                 \
  void sigmoid_forward(const float* x, float* y, int64_t n);                                             \
  void sigmoid_backward(const float* dy, const float* x, float* dx, int64_t n);                          \
  void tanh_forward(const float* x, float* y, int64_t n);                                                \
  void tanh_backward(const float* dy, const float* x, float* dx, int64_t n);                             \
  void softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I);                       \
  void softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I);    \
  void log_softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I);                   \
  void log_softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I); \
  void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed);      \
  void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p);

FASTCNN_DECLARE_KERNELS(FASTCNN_ACT_KERNELS)
