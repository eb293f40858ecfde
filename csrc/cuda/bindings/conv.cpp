// _C_cuda conv functions: the same names, arguments and checks as _C's (csrc/bindings/conv.cpp), with
// DeviceArray in place of numpy arrays. Python (functional/conv.py) validates and allocates outputs and
// passes stride/dilation as (h, w) and padding as (top, bottom, left, right) (conv_transpose2d: (h, w)).
//   conv2d_forward(x, w, b, y, ...)              x (N,C,H,W), w (K,C/g,R,S), y (N,K,P,Q)
//   conv2d_backward_data(dy, w, dx, ...)          dx has x's shape
//   conv2d_backward_weight(dy, x, dw, db, ...)    db (K,) or None
//   conv_transpose2d_forward(x, w, b, y, ...)     x (N,C,H,W), w (C,K/g,R,S), y (N,K,Ho,Wo)
//   conv_transpose2d_backward_data(dy, w, dx, ...), conv_transpose2d_backward_weight(dy, x, dw, db, ...)
#include <algorithm>
#include <array>

#include "cuda/bindings/bind_util.h"
#include "cuda/kernels/conv.h"

namespace fastcnn::cuda::bind {

namespace {

using Pair = std::array<int64_t, 2>;
using Quad = std::array<int64_t, 4>;  // (top, bottom, left, right)

// The checks of ops/conv.cpp (same messages), which the CUDA module does not link.
void check_common(const char* fn, int64_t N, int64_t C, int64_t H, int64_t W, int64_t Cw, int64_t R, int64_t S,
                  Pair stride, Pair dilation, int64_t groups) {
  FASTCNN_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0, fn, ": argument 'x' got negative sizes");
  FASTCNN_CHECK(groups >= 1, fn, ": argument 'groups' got ", groups, ", needed an int >= 1");
  FASTCNN_CHECK(stride[0] >= 1 && stride[1] >= 1, fn, ": argument 'stride' got (", stride[0], ", ", stride[1],
                "), needed values >= 1");
  FASTCNN_CHECK(dilation[0] >= 1 && dilation[1] >= 1, fn, ": argument 'dilation' got (", dilation[0], ", ",
                dilation[1], "), needed values >= 1");
  FASTCNN_CHECK(R >= 1 && S >= 1 && Cw >= 0, fn, ": argument 'w' got kernel size (", R, ", ", S,
                "), needed a non-empty kernel");
  FASTCNN_CHECK(C % groups == 0, fn, ": argument 'groups' got ", groups, ", needed a divisor of the ", C,
                " input channels");
}

// Sizes the kernels index with 32-bit arithmetic (positions, taps, channels per group); whole arrays
// are indexed with 64 bits.
void check_sizes(const char* fn, const ConvParams& p) {
  constexpr int64_t lim = int64_t(1) << 30;
  const int64_t span_h = p.dil_h * (p.R - 1) + 1, span_w = p.dil_w * (p.S - 1) + 1;
  const bool ok = p.H < lim && p.W < lim && p.P < lim && p.Q < lim && p.stride_h < lim && p.stride_w < lim &&
                  p.pad_top < lim && p.pad_left < lim && span_h < lim && span_w < lim &&
                  p.H + p.pad_top + span_h < lim && p.W + p.pad_left + span_w < lim &&
                  p.P * p.stride_h < lim && p.Q * p.stride_w < lim && p.K / p.groups < lim &&
                  (p.C / p.groups) * p.R * p.S < lim;
  FASTCNN_CHECK(ok, fn, ": sizes too large for the CUDA kernels (spatial sizes, padding, kernel spans and "
                        "C/groups*R*S must stay below 2^30)");
  checked_mul(checked_mul(checked_mul(p.N, p.C, fn), p.H, fn), p.W, fn);
  checked_mul(checked_mul(checked_mul(p.N, p.K, fn), p.P, fn), p.Q, fn);
  checked_mul(checked_mul(checked_mul(p.K, p.C, fn), p.R, fn), p.S, fn);
}

ConvParams conv2d_params(const char* fn, int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t Cw,
                         int64_t R, int64_t S, Pair stride, Quad padding, Pair dilation, int64_t groups) {
  check_common(fn, N, C, H, W, Cw, R, S, stride, dilation, groups);
  FASTCNN_CHECK(Cw * groups == C, fn, ": argument 'w' got ", Cw, " input channels per filter, needed ", C,
                " / groups = ", C / groups);
  FASTCNN_CHECK(K >= 0 && K % groups == 0, fn, ": argument 'groups' got ", groups, ", needed a divisor of the ",
                K, " filters of w");
  for (int64_t v : padding) FASTCNN_CHECK(v >= 0, fn, ": argument 'padding' got ", v, ", needed non-negative padding");
  const int64_t span_h = dilation[0] * (R - 1) + 1, span_w = dilation[1] * (S - 1) + 1;
  const int64_t Hp = H + padding[0] + padding[1], Wp = W + padding[2] + padding[3];
  FASTCNN_CHECK(Hp >= span_h && Wp >= span_w, fn, ": argument 'w' got a kernel spanning (", span_h, ", ", span_w,
                ") with dilation, needed at most the padded input size (", Hp, ", ", Wp, ")");
  ConvParams p{N, C, H, W, K, R, S, (Hp - span_h) / stride[0] + 1, (Wp - span_w) / stride[1] + 1,
               stride[0], stride[1], padding[0], padding[2], dilation[0], dilation[1], groups};
  check_sizes(fn, p);
  return p;
}

ConvParams conv_transpose2d_params(const char* fn, int64_t N, int64_t C, int64_t H, int64_t W, int64_t Cw,
                                   int64_t Kg, int64_t R, int64_t S, int64_t Ho, int64_t Wo, Pair stride,
                                   Pair padding, Pair dilation, int64_t groups) {
  check_common(fn, N, C, H, W, Kg, R, S, stride, dilation, groups);
  FASTCNN_CHECK(Cw == C, fn, ": argument 'w' got ", Cw, " input channels, needed the ", C, " channels of x");
  FASTCNN_CHECK(H >= 1 && W >= 1, fn, ": argument 'x' got spatial size (", H, ", ", W,
                "), needed at least (1, 1)");
  FASTCNN_CHECK(padding[0] >= 0 && padding[1] >= 0, fn, ": argument 'padding' got (", padding[0], ", ",
                padding[1], "), needed non-negative padding");
  const int64_t base_h = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (R - 1) + 1;
  const int64_t base_w = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (S - 1) + 1;
  const int64_t extra_h = Ho - base_h, extra_w = Wo - base_w;
  FASTCNN_CHECK(Ho >= 1 && Wo >= 1 && extra_h >= 0 && extra_w >= 0 && extra_h < std::max(stride[0], dilation[0]) &&
                    extra_w < std::max(stride[1], dilation[1]),
                fn, ": argument 'output_padding' got output size (", Ho, ", ", Wo, "), needed (", base_h, ", ",
                base_w, ") plus output_padding below max(stride, dilation), and at least (1, 1)");
  // The equivalent conv2d reads the transposed output (K channels) and produces x (C channels).
  ConvParams p{N, Kg * groups, Ho, Wo, C, R, S, H, W, stride[0], stride[1], padding[0],
               padding[1], dilation[0], dilation[1], groups};
  check_sizes(fn, p);
  return p;
}

ConvParams conv_problem(const char* fn, const DeviceArray& x, const char* xname, const DeviceArray& w,
                        Pair stride, Quad padding, Pair dilation, int64_t groups) {
  check_shape(x, fn, xname, {-1, -1, -1, -1});
  check_shape(w, fn, "w", {-1, -1, -1, -1});
  return conv2d_params(fn, x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(1), w.dim(2), w.dim(3),
                       stride, padding, dilation, groups);
}

ConvParams transpose_problem(const char* fn, const DeviceArray& x, const char* xname, const DeviceArray& w,
                             const DeviceArray& y, const char* yname, Pair stride, Pair padding, Pair dilation,
                             int64_t groups) {
  check_shape(x, fn, xname, {-1, -1, -1, -1});
  check_shape(w, fn, "w", {-1, -1, -1, -1});
  check_shape(y, fn, yname, {x.dim(0), w.dim(1) * groups, -1, -1});
  return conv_transpose2d_params(fn, x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(1), w.dim(2),
                                 w.dim(3), y.dim(2), y.dim(3), stride, padding, dilation, groups);
}

const float* bias(const DeviceArray* b, const char* fn, int64_t n) {
  if (!b) return nullptr;
  check_shape(*b, fn, "b", {n});
  return in(*b, fn, "b");
}

float* bias_grad(const DeviceArray* db, const char* fn, int64_t n) {
  if (!db) return nullptr;
  check_shape(*db, fn, "db", {n});
  return out(*db, fn, "db");
}

}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d_forward", [](const DeviceArray& x, const DeviceArray& w, const DeviceArray* b, const DeviceArray& y,
                             Pair stride, Quad padding, Pair dilation, int64_t groups) {
    const char* fn = "conv2d";
    const ConvParams p = conv_problem(fn, x, "x", w, stride, padding, dilation, groups);
    check_shape(y, fn, "y", {p.N, p.K, p.P, p.Q});
    const float *X = in(x, fn, "x"), *Wt = in(w, fn, "w"), *B = bias(b, fn, p.K);
    float* Y = out(y, fn, "y");
    py::gil_scoped_release nogil;
    conv2d_forward(p, X, Wt, B, Y, stream());
  }, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("y"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));
  m.def("conv2d_backward_data", [](const DeviceArray& dy, const DeviceArray& w, const DeviceArray& dx, Pair stride,
                                   Quad padding, Pair dilation, int64_t groups) {
    const char* fn = "conv2d_backward";
    const ConvParams p = conv_problem(fn, dx, "dx", w, stride, padding, dilation, groups);
    check_shape(dy, fn, "dy", {p.N, p.K, p.P, p.Q});
    const float *DY = in(dy, fn, "dy"), *Wt = in(w, fn, "w");
    float* DX = out(dx, fn, "dx");
    py::gil_scoped_release nogil;
    conv2d_backward_data(p, DY, Wt, nullptr, DX, stream());
  }, py::arg("dy"), py::arg("w"), py::arg("dx"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
     py::arg("groups"));
  m.def("conv2d_backward_weight", [](const DeviceArray& dy, const DeviceArray& x, const DeviceArray& dw,
                                     const DeviceArray* db, Pair stride, Quad padding, Pair dilation, int64_t groups) {
    const char* fn = "conv2d_backward";
    const ConvParams p = conv_problem(fn, x, "x", dw, stride, padding, dilation, groups);
    check_shape(dy, fn, "dy", {p.N, p.K, p.P, p.Q});
    const float *DY = in(dy, fn, "dy"), *X = in(x, fn, "x");
    float *DW = out(dw, fn, "dw"), *DB = bias_grad(db, fn, p.K);
    py::gil_scoped_release nogil;
    conv2d_backward_weight(p, DY, X, DW, stream());
    if (DB) conv_backward_bias(DY, p.N, p.K, p.P * p.Q, DB, stream());
  }, py::arg("dy"), py::arg("x"), py::arg("dw"), py::arg("db"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));

  m.def("conv_transpose2d_forward", [](const DeviceArray& x, const DeviceArray& w, const DeviceArray* b,
                                       const DeviceArray& y, Pair stride, Pair padding, Pair dilation, int64_t groups) {
    const char* fn = "conv_transpose2d";
    const ConvParams p = transpose_problem(fn, x, "x", w, y, "y", stride, padding, dilation, groups);
    const float *X = in(x, fn, "x"), *Wt = in(w, fn, "w"), *B = bias(b, fn, p.C);
    float* Y = out(y, fn, "y");
    py::gil_scoped_release nogil;
    conv2d_backward_data(p, X, Wt, B, Y, stream());
  }, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("y"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));
  m.def("conv_transpose2d_backward_data", [](const DeviceArray& dy, const DeviceArray& w, const DeviceArray& dx,
                                             Pair stride, Pair padding, Pair dilation, int64_t groups) {
    const char* fn = "conv_transpose2d_backward";
    const ConvParams p = transpose_problem(fn, dx, "dx", w, dy, "dy", stride, padding, dilation, groups);
    const float *DY = in(dy, fn, "dy"), *Wt = in(w, fn, "w");
    float* DX = out(dx, fn, "dx");
    py::gil_scoped_release nogil;
    conv2d_forward(p, DY, Wt, nullptr, DX, stream());
  }, py::arg("dy"), py::arg("w"), py::arg("dx"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
     py::arg("groups"));
  m.def("conv_transpose2d_backward_weight", [](const DeviceArray& dy, const DeviceArray& x, const DeviceArray& dw,
                                               const DeviceArray* db, Pair stride, Pair padding, Pair dilation,
                                               int64_t groups) {
    const char* fn = "conv_transpose2d_backward";
    const ConvParams p = transpose_problem(fn, x, "x", dw, dy, "dy", stride, padding, dilation, groups);
    const float *DY = in(dy, fn, "dy"), *X = in(x, fn, "x");
    float *DW = out(dw, fn, "dw"), *DB = bias_grad(db, fn, p.C);
    py::gil_scoped_release nogil;
    // In the equivalent conv2d, x is the output gradient and dy the input.
    conv2d_backward_weight(p, X, DY, DW, stream());
    if (DB) conv_backward_bias(DY, p.N, p.C, p.H * p.W, DB, stream());
  }, py::arg("dy"), py::arg("x"), py::arg("dw"), py::arg("db"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));
}

}  // namespace fastcnn::cuda::bind
