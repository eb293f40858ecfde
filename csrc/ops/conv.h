// Front end of the conv family: validates sizes and parameters (ValueError naming the argument),
// then calls the dispatched kernel. Shapes as in cpu/kernels/conv.h.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "cpu/kernels/conv.h"

namespace fastcnn::ops {

using Pair = std::array<int64_t, 2>;
using Quad = std::array<int64_t, 4>;  // (top, bottom, left, right)

// x is (N,C,H,W), w is (K,Cw,R,S) with Cw = C/groups; P and Q follow from the four paddings.
Conv2dParams conv2d_params(const char* fn, int64_t N, int64_t C, int64_t H, int64_t W, int64_t K,
                           int64_t Cw, int64_t R, int64_t S, Pair stride, Quad padding,
                           Pair dilation, int64_t groups);

// conv_transpose2d: x is (N,C,H,W), w is (Cw,Kg,R,S) with Cw = C, y is (N,Kg*groups,Ho,Wo).
// Returns the conv2d whose backward-data it is: that conv's input is y's shape, its output x's.
// Ho must be (H-1)*stride - 2*padding + dilation*(R-1) + 1 + output_padding with
// output_padding < max(stride, dilation); likewise Wo.
Conv2dParams conv_transpose2d_params(const char* fn, int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t Cw, int64_t Kg, int64_t R, int64_t S, int64_t Ho,
                                     int64_t Wo, Pair stride, Pair padding, Pair dilation,
                                     int64_t groups);

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y);
void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, const float* b,
                          float* dx);
void conv2d_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw);
// dy is (N,K,L), db is (K,).
void conv_backward_bias(const float* dy, int64_t N, int64_t K, int64_t L, float* db);
// y = max_pool2d(conv2d(x, w, b)), pooled with pp over the conv output z (N,K,P,Q), z written
// too when not null (a training forward keeps it for the backward passes).
void conv2d_pool_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* z,
                         const Pool2dParams& pp, float* y);
// The algorithm conv2d's pass uses: pass is "forward", "backward_data" or "backward_weight".
const char* conv2d_algorithm(const Conv2dParams& p, const std::string& pass);

}  // namespace fastcnn::ops
