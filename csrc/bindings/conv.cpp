// _C conv functions. Python (functional/conv.py) validates, allocates the outputs and passes
// stride/dilation as (h, w) and padding as (top, bottom, left, right) (conv_transpose2d: (h, w)).
//   conv2d_forward(x, w, b, y, ...)              x (N,C,H,W), w (K,C/g,R,S), y (N,K,P,Q)
//   conv2d_backward_data(dy, w, dx, ...)          dx has x's shape
//   conv2d_backward_weight(dy, x, dw, db, ...)    db (K,) or None
//   conv_transpose2d_forward(x, w, b, y, ...)     x (N,C,H,W), w (C,K/g,R,S), y (N,K,Ho,Wo)
//   conv_transpose2d_backward_data(dy, w, dx, ...), conv_transpose2d_backward_weight(dy, x, dw, db, ...)
//   ref_conv2d_forward / ref_conv2d_backward_data / ref_conv2d_backward_weight: the scalar reference.
//   conv2d_algorithm(x, w, ..., pass) -> "gemm" | "wide" | "filters" | "winograd": what the kernels pick.
#include "bind_util.h"
#include "cpu/ref/conv.h"
#include "ops/conv.h"
#include "ops/pool.h"

#include <pybind11/stl.h>

namespace fastcnn::bind {

namespace {

using ops::Pair;
using ops::Quad;

// The conv2d problem of x's and w's shapes; checks 4-D arrays.
Conv2dParams conv_problem(const char* fn, const py::array& x, const char* xname, const py::array& w,
                          Pair stride, Quad padding, Pair dilation, int64_t groups) {
  check_shape(x, fn, xname, {-1, -1, -1, -1});
  check_shape(w, fn, "w", {-1, -1, -1, -1});
  return ops::conv2d_params(fn, x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0),
                            w.shape(1), w.shape(2), w.shape(3), stride, padding, dilation, groups);
}

// The conv2d problem equivalent to conv_transpose2d with input shaped like x and output like y.
Conv2dParams transpose_problem(const char* fn, const py::array& x, const char* xname,
                               const py::array& w, const py::array& y, const char* yname,
                               Pair stride, Pair padding, Pair dilation, int64_t groups) {
  check_shape(x, fn, xname, {-1, -1, -1, -1});
  check_shape(w, fn, "w", {-1, -1, -1, -1});
  check_shape(y, fn, yname, {x.shape(0), w.shape(1) * groups, -1, -1});
  return ops::conv_transpose2d_params(fn, x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0),
                                      w.shape(1), w.shape(2), w.shape(3), y.shape(2), y.shape(3),
                                      stride, padding, dilation, groups);
}

const float* bias(const py::object& b, const char* fn, int64_t n) {
  if (b.is_none()) return nullptr;
  py::array a = b.cast<py::array>();
  check_shape(a, fn, "b", {n});
  return in(a, fn, "b");
}

float* bias_grad(const py::object& db, const char* fn, int64_t n) {
  if (db.is_none()) return nullptr;
  py::array a = db.cast<py::array>();
  check_shape(a, fn, "db", {n});
  return out(a, fn, "db");
}

}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d_forward", [](py::array x, py::array w, py::object b, py::array y, Pair stride,
                             Quad padding, Pair dilation, int64_t groups) {
    const char* fn = "conv2d";
    const Conv2dParams p = conv_problem(fn, x, "x", w, stride, padding, dilation, groups);
    check_shape(y, fn, "y", {p.N, p.K, p.P, p.Q});
    const float *X = in(x, fn, "x"), *Wt = in(w, fn, "w"), *B = bias(b, fn, p.K);
    float* Y = out(y, fn, "y");
    py::gil_scoped_release nogil;
    ops::conv2d_forward(p, X, Wt, B, Y);
  }, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("y"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));
  m.def("conv2d_backward_data", [](py::array dy, py::array w, py::array dx, Pair stride,
                                   Quad padding, Pair dilation, int64_t groups) {
    const char* fn = "conv2d_backward";
    const Conv2dParams p = conv_problem(fn, dx, "dx", w, stride, padding, dilation, groups);
    check_shape(dy, fn, "dy", {p.N, p.K, p.P, p.Q});
    const float *DY = in(dy, fn, "dy"), *Wt = in(w, fn, "w");
    float* DX = out(dx, fn, "dx");
    py::gil_scoped_release nogil;
    ops::conv2d_backward_data(p, DY, Wt, nullptr, DX);
  }, py::arg("dy"), py::arg("w"), py::arg("dx"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));
  m.def("conv2d_backward_weight", [](py::array dy, py::array x, py::array dw, py::object db,
                                     Pair stride, Quad padding, Pair dilation, int64_t groups) {
    const char* fn = "conv2d_backward";
    const Conv2dParams p = conv_problem(fn, x, "x", dw, stride, padding, dilation, groups);
    check_shape(dy, fn, "dy", {p.N, p.K, p.P, p.Q});
    const float *DY = in(dy, fn, "dy"), *X = in(x, fn, "x");
    float *DW = out(dw, fn, "dw"), *DB = bias_grad(db, fn, p.K);
    py::gil_scoped_release nogil;
    ops::conv2d_backward_weight(p, DY, X, DW);
    if (DB) ops::conv_backward_bias(DY, p.N, p.K, p.P * p.Q, DB);
  }, py::arg("dy"), py::arg("x"), py::arg("dw"), py::arg("db"), py::arg("stride"),
     py::arg("padding"), py::arg("dilation"), py::arg("groups"));

  m.def("conv_transpose2d_forward", [](py::array x, py::array w, py::object b, py::array y,
                                       Pair stride, Pair padding, Pair dilation, int64_t groups) {
    const char* fn = "conv_transpose2d";
    const Conv2dParams p = transpose_problem(fn, x, "x", w, y, "y", stride, padding, dilation, groups);
    const float *X = in(x, fn, "x"), *Wt = in(w, fn, "w"), *B = bias(b, fn, p.C);
    float* Y = out(y, fn, "y");
    py::gil_scoped_release nogil;
    ops::conv2d_backward_data(p, X, Wt, B, Y);
  }, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("y"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));
  m.def("conv_transpose2d_backward_data", [](py::array dy, py::array w, py::array dx, Pair stride,
                                             Pair padding, Pair dilation, int64_t groups) {
    const char* fn = "conv_transpose2d_backward";
    const Conv2dParams p = transpose_problem(fn, dx, "dx", w, dy, "dy", stride, padding, dilation, groups);
    const float *DY = in(dy, fn, "dy"), *Wt = in(w, fn, "w");
    float* DX = out(dx, fn, "dx");
    py::gil_scoped_release nogil;
    ops::conv2d_forward(p, DY, Wt, nullptr, DX);
  }, py::arg("dy"), py::arg("w"), py::arg("dx"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));
  m.def("conv_transpose2d_backward_weight", [](py::array dy, py::array x, py::array dw,
                                               py::object db, Pair stride, Pair padding,
                                               Pair dilation, int64_t groups) {
    const char* fn = "conv_transpose2d_backward";
    const Conv2dParams p = transpose_problem(fn, x, "x", dw, dy, "dy", stride, padding, dilation, groups);
    const float *DY = in(dy, fn, "dy"), *X = in(x, fn, "x");
    float *DW = out(dw, fn, "dw"), *DB = bias_grad(db, fn, p.C);
    py::gil_scoped_release nogil;
    // In the equivalent conv2d, x is the output gradient and dy the input.
    ops::conv2d_backward_weight(p, X, DY, DW);
    if (DB) ops::conv_backward_bias(DY, p.N, p.C, p.H * p.W, DB);
  }, py::arg("dy"), py::arg("x"), py::arg("dw"), py::arg("db"), py::arg("stride"),
     py::arg("padding"), py::arg("dilation"), py::arg("groups"));

  m.def("conv2d_pool_forward", [](py::array x, py::array w, py::object b, py::object z, py::array y,
                                  Pair stride, Quad padding, Pair dilation, int64_t groups, Pair pool_kernel,
                                  Pair pool_stride, Quad pool_padding, bool ceil_mode) {
    // y = max_pool2d(conv2d(x, w, b)); z (the conv output, (N,K,P,Q)) written too unless None.
    const char* fn = "conv2d_pool_forward";
    const Conv2dParams p = conv_problem(fn, x, "x", w, stride, padding, dilation, groups);
    const Pool2dParams pp = ops::pool2d_params(
        "conv2d_pool_forward (its pooling)", p.N, p.K, p.P, p.Q, pool_kernel[0], pool_kernel[1], pool_stride[0],
        pool_stride[1], pool_padding[0], pool_padding[1], pool_padding[2], pool_padding[3], ceil_mode, false);
    check_shape(y, fn, "y", {p.N, p.K, pp.P, pp.Q});
    const float *X = in(x, fn, "x"), *Wt = in(w, fn, "w"), *B = bias(b, fn, p.K);
    float* Y = out(y, fn, "y");
    float* Z = nullptr;
    if (!z.is_none()) {
      py::array za = z.cast<py::array>();
      check_shape(za, fn, "z", {p.N, p.K, p.P, p.Q});
      Z = out(za, fn, "z");
    }
    py::gil_scoped_release nogil;
    ops::conv2d_pool_forward(p, X, Wt, B, Z, pp, Y);
  }, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("z"), py::arg("y"), py::arg("stride"),
     py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("pool_kernel"),
     py::arg("pool_stride"), py::arg("pool_padding"), py::arg("ceil_mode"));

  m.def("conv2d_algorithm", [](py::array x, py::array w, Pair stride, Quad padding, Pair dilation,
                               int64_t groups, const std::string& pass) {
    const Conv2dParams p = conv_problem("conv2d_algorithm", x, "x", w, stride, padding, dilation, groups);
    return std::string(ops::conv2d_algorithm(p, pass));
  }, py::arg("x"), py::arg("w"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
     py::arg("groups"), py::arg("pass"));

  m.def("ref_conv2d_forward", [](py::array x, py::array w, py::object b, py::array y, Pair stride,
                                 Quad padding, Pair dilation, int64_t groups) {
    const char* fn = "ref_conv2d_forward";
    const Conv2dParams p = conv_problem(fn, x, "x", w, stride, padding, dilation, groups);
    check_shape(y, fn, "y", {p.N, p.K, p.P, p.Q});
    const float *X = in(x, fn, "x"), *Wt = in(w, fn, "w"), *B = bias(b, fn, p.K);
    float* Y = out(y, fn, "y");
    py::gil_scoped_release nogil;
    ref::conv2d_forward(p, X, Wt, B, Y);
  }, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("y"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));
  m.def("ref_conv2d_backward_data", [](py::array dy, py::array w, py::array dx, Pair stride,
                                       Quad padding, Pair dilation, int64_t groups) {
    const char* fn = "ref_conv2d_backward_data";
    const Conv2dParams p = conv_problem(fn, dx, "dx", w, stride, padding, dilation, groups);
    check_shape(dy, fn, "dy", {p.N, p.K, p.P, p.Q});
    const float *DY = in(dy, fn, "dy"), *Wt = in(w, fn, "w");
    float* DX = out(dx, fn, "dx");
    py::gil_scoped_release nogil;
    ref::conv2d_backward_data(p, DY, Wt, DX);
  }, py::arg("dy"), py::arg("w"), py::arg("dx"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"));
  m.def("ref_conv2d_backward_weight", [](py::array dy, py::array x, py::array dw, py::object db,
                                         Pair stride, Quad padding, Pair dilation, int64_t groups) {
    const char* fn = "ref_conv2d_backward_weight";
    const Conv2dParams p = conv_problem(fn, x, "x", dw, stride, padding, dilation, groups);
    check_shape(dy, fn, "dy", {p.N, p.K, p.P, p.Q});
    const float *DY = in(dy, fn, "dy"), *X = in(x, fn, "x");
    float *DW = out(dw, fn, "dw"), *DB = bias_grad(db, fn, p.K);
    py::gil_scoped_release nogil;
    ref::conv2d_backward_weight(p, DY, X, DW, DB);
  }, py::arg("dy"), py::arg("x"), py::arg("dw"), py::arg("db"), py::arg("stride"),
     py::arg("padding"), py::arg("dilation"), py::arg("groups"));
}

}  // namespace fastcnn::bind
