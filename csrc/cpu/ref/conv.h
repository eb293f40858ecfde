// Scalar reference convolution: direct loops, double accumulation. The ground truth that the
// fast kernels in cpu/kernels/conv.cpp (and faster algorithms later) are tested against.
// Shapes and Conv2dParams as in cpu/kernels/conv.h: x is (N,C,H,W), w is (K,C/g,R,S), y is (N,K,P,Q).
#pragma once
#include "cpu/kernels/conv.h"

namespace fastcnn::ref {

// y = conv(x, w) [+ b]; b is (K,) or null.
void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y);
// dx = the gradient of <conv(x, w), dy> with respect to x.
void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx);
// dw = the gradient with respect to w; db (K,) = dy summed over N, P, Q, when not null.
void conv2d_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw,
                            float* db);

}  // namespace fastcnn::ref
