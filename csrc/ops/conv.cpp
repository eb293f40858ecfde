// Front end of the conv family (see conv.h).
#include "ops/conv.h"

#include <algorithm>

#include "fastcnn/common.h"

namespace fastcnn::ops {

namespace {

void check_common(const char* fn, int64_t N, int64_t C, int64_t H, int64_t W, int64_t Cw,
                  int64_t R, int64_t S, Pair stride, Pair dilation, int64_t groups) {
  FASTCNN_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0, fn, ": argument 'x' got negative sizes");
  FASTCNN_CHECK(groups >= 1, fn, ": argument 'groups' got ", groups, ", needed an int >= 1");
  FASTCNN_CHECK(stride[0] >= 1 && stride[1] >= 1, fn, ": argument 'stride' got (", stride[0], ", ",
                stride[1], "), needed values >= 1");
  FASTCNN_CHECK(dilation[0] >= 1 && dilation[1] >= 1, fn, ": argument 'dilation' got (",
                dilation[0], ", ", dilation[1], "), needed values >= 1");
  FASTCNN_CHECK(R >= 1 && S >= 1 && Cw >= 0, fn, ": argument 'w' got kernel size (", R, ", ", S,
                "), needed a non-empty kernel");
  FASTCNN_CHECK(C % groups == 0, fn, ": argument 'groups' got ", groups, ", needed a divisor of the ",
                C, " input channels");
}

void check_sizes(const char* fn, const Conv2dParams& p) {
  checked_mul(checked_mul(checked_mul(p.N, p.C, fn), p.H, fn), p.W, fn);
  checked_mul(checked_mul(checked_mul(p.N, p.K, fn), p.P, fn), p.Q, fn);
  // The im2col workspace: (C*R*S, P*Q).
  checked_mul(checked_mul(checked_mul(p.C, p.R, fn), p.S, fn), checked_mul(p.P, p.Q, fn), fn);
  checked_mul(checked_mul(checked_mul(p.K, p.C, fn), p.R, fn), p.S, fn);
}

}  // namespace

Conv2dParams conv2d_params(const char* fn, int64_t N, int64_t C, int64_t H, int64_t W, int64_t K,
                           int64_t Cw, int64_t R, int64_t S, Pair stride, Quad padding,
                           Pair dilation, int64_t groups) {
  check_common(fn, N, C, H, W, Cw, R, S, stride, dilation, groups);
  FASTCNN_CHECK(Cw * groups == C, fn, ": argument 'w' got ", Cw, " input channels per filter, needed ",
                C, " / groups = ", C / groups);
  FASTCNN_CHECK(K >= 0 && K % groups == 0, fn, ": argument 'groups' got ", groups,
                ", needed a divisor of the ", K, " filters of w");
  for (int64_t v : padding)
    FASTCNN_CHECK(v >= 0, fn, ": argument 'padding' got ", v, ", needed non-negative padding");
  const int64_t span_h = dilation[0] * (R - 1) + 1, span_w = dilation[1] * (S - 1) + 1;
  const int64_t Hp = H + padding[0] + padding[1], Wp = W + padding[2] + padding[3];
  FASTCNN_CHECK(Hp >= span_h && Wp >= span_w, fn, ": argument 'w' got a kernel spanning (", span_h,
                ", ", span_w, ") with dilation, needed at most the padded input size (", Hp, ", ", Wp,
                ")");
  Conv2dParams p{N, C, H, W, K, R, S, (Hp - span_h) / stride[0] + 1, (Wp - span_w) / stride[1] + 1,
                 stride[0], stride[1], padding[0], padding[2], dilation[0], dilation[1], groups};
  check_sizes(fn, p);
  return p;
}

Conv2dParams conv_transpose2d_params(const char* fn, int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t Cw, int64_t Kg, int64_t R, int64_t S, int64_t Ho,
                                     int64_t Wo, Pair stride, Pair padding, Pair dilation,
                                     int64_t groups) {
  check_common(fn, N, C, H, W, Kg, R, S, stride, dilation, groups);
  FASTCNN_CHECK(Cw == C, fn, ": argument 'w' got ", Cw, " input channels, needed the ", C,
                " channels of x");
  FASTCNN_CHECK(H >= 1 && W >= 1, fn, ": argument 'x' got spatial size (", H, ", ", W,
                "), needed at least (1, 1)");
  FASTCNN_CHECK(padding[0] >= 0 && padding[1] >= 0, fn, ": argument 'padding' got (", padding[0],
                ", ", padding[1], "), needed non-negative padding");
  const int64_t base_h = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (R - 1) + 1;
  const int64_t base_w = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (S - 1) + 1;
  const int64_t extra_h = Ho - base_h, extra_w = Wo - base_w;
  FASTCNN_CHECK(Ho >= 1 && Wo >= 1 && extra_h >= 0 && extra_w >= 0 &&
                    extra_h < std::max(stride[0], dilation[0]) &&
                    extra_w < std::max(stride[1], dilation[1]),
                fn, ": argument 'output_padding' got output size (", Ho, ", ", Wo,
                "), needed (", base_h, ", ", base_w,
                ") plus output_padding below max(stride, dilation), and at least (1, 1)");
  // The equivalent conv2d reads the transposed output (K channels) and produces x (C channels).
  Conv2dParams p{N, Kg * groups, Ho, Wo, C, R, S, H, W, stride[0], stride[1], padding[0],
                 padding[1], dilation[0], dilation[1], groups};
  check_sizes(fn, p);
  return p;
}

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y) {
  FASTCNN_DISPATCH(conv2d_forward)(p, x, w, b, y);
}

void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, const float* b,
                          float* dx) {
  FASTCNN_DISPATCH(conv2d_backward_data)(p, dy, w, b, dx);
}

void conv2d_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw) {
  FASTCNN_DISPATCH(conv2d_backward_weight)(p, dy, x, dw);
}

void conv_backward_bias(const float* dy, int64_t N, int64_t K, int64_t L, float* db) {
  FASTCNN_DISPATCH(conv_backward_bias)(dy, N, K, L, db);
}

void conv2d_pool_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* z,
                         const Pool2dParams& pp, float* y) {
  FASTCNN_CHECK(pp.N == p.N && pp.C == p.K && pp.H == p.P && pp.W == p.Q, "conv2d_pool_forward: the pooling "
                "geometry is for input (", pp.N, ", ", pp.C, ", ", pp.H, ", ", pp.W, "), needed the conv output (",
                p.N, ", ", p.K, ", ", p.P, ", ", p.Q, ")");
  FASTCNN_DISPATCH(conv2d_pool_forward)(p, x, w, b, z, pp, y);
}

const char* conv2d_algorithm(const Conv2dParams& p, const std::string& pass) {
  const int index = pass == "forward" ? 0 : pass == "backward_data" ? 1 : pass == "backward_weight" ? 2 : -1;
  FASTCNN_CHECK(index >= 0, "conv2d_algorithm: argument 'pass' got '", pass,
                "', needed 'forward', 'backward_data' or 'backward_weight'");
  return FASTCNN_DISPATCH(conv2d_algorithm)(p, index);
}

}  // namespace fastcnn::ops
