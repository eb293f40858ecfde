// _C activation entry points. Outputs are allocated by Python with the input's shape; masks are
// uint8 arrays of x's shape.
#include <cstdint>

#include "bind_util.h"
#include "ops/act.h"

namespace fastcnn::bind {

namespace {

void check_same_shape(const py::array& a, const py::array& like, const char* fn, const char* name) {
  bool same = a.ndim() == like.ndim();
  for (py::ssize_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == like.shape(i);
  FASTCNN_CHECK(same, fn, ": argument '", name, "' got shape ", shape_str(a), ", needed ", shape_str(like));
}

void check_mask(const py::array& a, const char* fn, const char* name) {
  FASTCNN_CHECK(a.dtype().is(py::dtype::of<uint8_t>()), fn, ": argument '", name, "' got dtype ",
                std::string(py::str(a.dtype())), ", needed uint8");
  FASTCNN_CHECK(a.flags() & py::array::c_style, fn, ": argument '", name,
                "' is not C-contiguous, needed a C-contiguous uint8 array");
}

// x seen as (N,C,S) for the channel-wise ops: x must have a channel axis.
void channel_view(const py::array& x, const char* fn, int64_t& N, int64_t& C, int64_t& S) {
  FASTCNN_CHECK(x.ndim() >= 2, fn, ": argument 'x' got shape ", shape_str(x), ", needed at least 2 dimensions (N, C, ...)");
  N = x.shape(0), C = x.shape(1), S = 1;
  for (py::ssize_t i = 2; i < x.ndim(); ++i) S *= x.shape(i);
}

// x seen as (O,D,I) around the reduced axis.
void softmax_view(const py::array& x, int64_t axis, const char* fn, int64_t& O, int64_t& D, int64_t& I) {
  FASTCNN_CHECK(axis >= 0 && axis < x.ndim(), fn, ": argument 'axis' got ", axis, ", needed an axis in [0, ",
                x.ndim(), ")");
  O = 1, D = x.shape(axis), I = 1;
  for (int64_t i = 0; i < axis; ++i) O *= x.shape(i);
  for (int64_t i = axis + 1; i < x.ndim(); ++i) I *= x.shape(i);
}

using Unary = void (*)(const float*, float*, int64_t);
using UnaryBackward = void (*)(const float*, const float*, float*, int64_t);
using Scaled = void (*)(const float*, float*, int64_t, float);
using ScaledBackward = void (*)(const float*, const float*, float*, int64_t, float);
using Softmax = void (*)(const float*, float*, int64_t, int64_t, int64_t);
using SoftmaxBackward = void (*)(const float*, const float*, float*, int64_t, int64_t, int64_t);

void def_unary(py::module_& m, const char* name, const char* fn, Unary f, UnaryBackward fb, const char* fn_back) {
  m.def(
      (std::string(name) + "_forward").c_str(),
      [fn, f](py::array x, py::array y) {
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        check_same_shape(y, x, fn, "y");
        py::gil_scoped_release nogil;
        f(X, Y, x.size());
      },
      py::arg("x"), py::arg("y"));
  m.def(
      (std::string(name) + "_backward").c_str(),
      [fn_back, fb](py::array dy, py::array x, py::array dx) {
        const float* DY = in(dy, fn_back, "dy");
        const float* X = in(x, fn_back, "x");
        float* DX = out(dx, fn_back, "dx");
        check_same_shape(dy, x, fn_back, "dy");
        check_same_shape(dx, x, fn_back, "dx");
        py::gil_scoped_release nogil;
        fb(DY, X, DX, x.size());
      },
      py::arg("dy"), py::arg("x"), py::arg("dx"));
}

void def_scaled(py::module_& m, const char* name, const char* fn, Scaled f, ScaledBackward fb, const char* fn_back) {
  m.def(
      (std::string(name) + "_forward").c_str(),
      [fn, f](py::array x, py::array y, float alpha) {
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        check_same_shape(y, x, fn, "y");
        py::gil_scoped_release nogil;
        f(X, Y, x.size(), alpha);
      },
      py::arg("x"), py::arg("y"), py::arg("alpha"));
  m.def(
      (std::string(name) + "_backward").c_str(),
      [fn_back, fb](py::array dy, py::array x, py::array dx, float alpha) {
        const float* DY = in(dy, fn_back, "dy");
        const float* X = in(x, fn_back, "x");
        float* DX = out(dx, fn_back, "dx");
        check_same_shape(dy, x, fn_back, "dy");
        check_same_shape(dx, x, fn_back, "dx");
        py::gil_scoped_release nogil;
        fb(DY, X, DX, x.size(), alpha);
      },
      py::arg("dy"), py::arg("x"), py::arg("dx"), py::arg("alpha"));
}

void def_softmax(py::module_& m, const char* name, const char* fn, Softmax f, SoftmaxBackward fb,
                 const char* fn_back) {
  m.def(
      (std::string(name) + "_forward").c_str(),
      [fn, f](py::array x, py::array y, int64_t axis) {
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        check_same_shape(y, x, fn, "y");
        int64_t O, D, I;
        softmax_view(x, axis, fn, O, D, I);
        py::gil_scoped_release nogil;
        f(X, Y, O, D, I);
      },
      py::arg("x"), py::arg("y"), py::arg("axis"));
  m.def(
      (std::string(name) + "_backward").c_str(),
      [fn_back, fb](py::array dy, py::array x, py::array dx, int64_t axis) {
        const float* DY = in(dy, fn_back, "dy");
        const float* X = in(x, fn_back, "x");
        float* DX = out(dx, fn_back, "dx");
        check_same_shape(dy, x, fn_back, "dy");
        check_same_shape(dx, x, fn_back, "dx");
        int64_t O, D, I;
        softmax_view(x, axis, fn_back, O, D, I);
        py::gil_scoped_release nogil;
        fb(DY, X, DX, O, D, I);
      },
      py::arg("dy"), py::arg("x"), py::arg("dx"), py::arg("axis"));
}

}  // namespace

void bind_act(py::module_& m) {
  def_unary(m, "relu", "relu", ops::relu_forward, ops::relu_backward, "relu_backward");
  def_unary(m, "sigmoid", "sigmoid", ops::sigmoid_forward, ops::sigmoid_backward, "sigmoid_backward");
  def_unary(m, "tanh", "tanh", ops::tanh_forward, ops::tanh_backward, "tanh_backward");
  def_scaled(m, "leaky_relu", "leaky_relu", ops::leaky_relu_forward, ops::leaky_relu_backward,
             "leaky_relu_backward");
  def_scaled(m, "elu", "elu", ops::elu_forward, ops::elu_backward, "elu_backward");
  def_softmax(m, "softmax", "softmax", ops::softmax_forward, ops::softmax_backward, "softmax_backward");
  def_softmax(m, "log_softmax", "log_softmax", ops::log_softmax_forward, ops::log_softmax_backward,
              "log_softmax_backward");

  m.def(
      "prelu_forward",
      [](py::array x, py::array alpha, py::array y) {
        const char* fn = "prelu";
        const float* X = in(x, fn, "x");
        const float* A = in(alpha, fn, "alpha");
        float* Y = out(y, fn, "y");
        check_same_shape(y, x, fn, "y");
        check_shape(alpha, fn, "alpha", {-1});
        int64_t N, C, S;
        channel_view(x, fn, N, C, S);
        py::gil_scoped_release nogil;
        ops::prelu_forward(X, A, Y, N, C, S, alpha.shape(0));
      },
      py::arg("x"), py::arg("alpha"), py::arg("y"));
  m.def(
      "prelu_backward",
      [](py::array dy, py::array x, py::array alpha, py::array dx, py::array dalpha) {
        const char* fn = "prelu_backward";
        const float* DY = in(dy, fn, "dy");
        const float* X = in(x, fn, "x");
        const float* A = in(alpha, fn, "alpha");
        float* DX = out(dx, fn, "dx");
        float* DA = out(dalpha, fn, "dalpha");
        check_same_shape(dy, x, fn, "dy");
        check_same_shape(dx, x, fn, "dx");
        check_shape(alpha, fn, "alpha", {-1});
        check_same_shape(dalpha, alpha, fn, "dalpha");
        int64_t N, C, S;
        channel_view(x, fn, N, C, S);
        py::gil_scoped_release nogil;
        ops::prelu_backward(DY, X, A, DX, DA, N, C, S, alpha.shape(0));
      },
      py::arg("dy"), py::arg("x"), py::arg("alpha"), py::arg("dx"), py::arg("dalpha"));

  m.def(
      "rrelu_forward",
      [](py::array x, py::array y, py::array slope, float lower, float upper, bool training, uint64_t seed) {
        const char* fn = "rrelu";
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        float* SL = out(slope, fn, "slope");
        check_same_shape(y, x, fn, "y");
        check_same_shape(slope, x, fn, "slope");
        py::gil_scoped_release nogil;
        ops::rrelu_forward(X, Y, SL, x.size(), lower, upper, training, seed);
      },
      py::arg("x"), py::arg("y"), py::arg("slope"), py::arg("lower"), py::arg("upper"), py::arg("training"),
      py::arg("seed"));
  m.def(
      "rrelu_backward",
      [](py::array dy, py::array slope, py::array dx) {
        const char* fn = "rrelu_backward";
        const float* DY = in(dy, fn, "dy");
        const float* SL = in(slope, fn, "slope");
        float* DX = out(dx, fn, "dx");
        check_same_shape(dy, slope, fn, "dy");
        check_same_shape(dx, slope, fn, "dx");
        py::gil_scoped_release nogil;
        ops::rrelu_backward(DY, SL, DX, slope.size());
      },
      py::arg("dy"), py::arg("slope"), py::arg("dx"));

  m.def(
      "dropout_forward",
      [](py::array x, py::array y, py::array mask, float p, uint64_t seed) {
        const char* fn = "dropout";
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        check_mask(mask, fn, "mask");
        FASTCNN_CHECK(mask.writeable(), fn, ": argument 'mask' is read-only, needed a writable array");
        check_same_shape(y, x, fn, "y");
        check_same_shape(mask, x, fn, "mask");
        auto* M = static_cast<uint8_t*>(mask.mutable_data());
        py::gil_scoped_release nogil;
        ops::dropout_forward(X, Y, M, x.size(), p, seed);
      },
      py::arg("x"), py::arg("y"), py::arg("mask"), py::arg("p"), py::arg("seed"));
  m.def(
      "dropout_backward",
      [](py::array dy, py::array mask, py::array dx, float p) {
        const char* fn = "dropout_backward";
        const float* DY = in(dy, fn, "dy");
        check_mask(mask, fn, "mask");
        float* DX = out(dx, fn, "dx");
        check_same_shape(dy, mask, fn, "dy");
        check_same_shape(dx, mask, fn, "dx");
        const auto* M = static_cast<const uint8_t*>(mask.data());
        py::gil_scoped_release nogil;
        ops::dropout_backward(DY, M, DX, mask.size(), p);
      },
      py::arg("dy"), py::arg("mask"), py::arg("dx"), py::arg("p"));
}

}  // namespace fastcnn::bind
