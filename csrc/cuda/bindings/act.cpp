// _C_cuda activation entry points: the names, arguments and checks of csrc/bindings/act.cpp (and
// csrc/ops/act.cpp), with DeviceArrays. Outputs are allocated by Python with the input's shape;
// masks are uint8 arrays of x's shape.
#include <cstdint>
#include <string>

#include "cuda/bindings/ops_util.h"
#include "cuda/kernels/act.h"

namespace fastcnn::cuda::bind {

namespace {

void check_dropout_p(const char* fn, float p) {
  FASTCNN_CHECK(p >= 0.0f && p < 1.0f, fn, ": argument 'p' got ", p, ", needed a number in [0, 1)");
}

// x seen as (O,D,I) around the reduced axis.
struct SoftmaxView {
  int64_t O, D, I;
};
SoftmaxView softmax_view(const DeviceArray& x, int64_t axis, const char* fn) {
  FASTCNN_CHECK(axis >= 0 && axis < x.ndim(), fn, ": argument 'axis' got ", axis, ", needed an axis in [0, ",
                x.ndim(), ")");
  SoftmaxView v{1, x.dim(static_cast<int>(axis)), 1};
  for (int64_t i = 0; i < axis; ++i) v.O = checked_mul(v.O, x.dim(static_cast<int>(i)), fn);
  for (int64_t i = axis + 1; i < x.ndim(); ++i) v.I = checked_mul(v.I, x.dim(static_cast<int>(i)), fn);
  checked_mul(checked_mul(v.O, v.D, fn), v.I, fn);
  return v;
}

bool shared_alpha(const char* fn, const DeviceArray& alpha, const ChannelLayout& L) {
  check_shape(alpha, fn, "alpha", {-1});
  FASTCNN_CHECK(alpha.dim(0) == L.C || alpha.dim(0) == 1, fn, ": argument 'alpha' got ", alpha.dim(0),
                " elements, needed ", L.C, " (one per channel) or 1");
  return alpha.dim(0) == 1;
}

using Unary = void (*)(const float*, float*, int64_t, cudaStream_t);
using UnaryBackward = void (*)(const float*, const float*, float*, int64_t, cudaStream_t);
using Scaled = void (*)(const float*, float*, int64_t, float, cudaStream_t);
using ScaledBackward = void (*)(const float*, const float*, float*, int64_t, float, cudaStream_t);
using Softmax = void (*)(const float*, float*, int64_t, int64_t, int64_t, cudaStream_t);
using SoftmaxBackward = void (*)(const float*, const float*, float*, int64_t, int64_t, int64_t, cudaStream_t);

void def_unary(py::module_& m, const char* name, Unary f, UnaryBackward fb) {
  const std::string fn = name, fn_back = fn + "_backward";
  m.def(
      (fn + "_forward").c_str(),
      [fn, f](const DeviceArray& x, const DeviceArray& y) {
        const float* X = in(x, fn.c_str(), "x");
        float* Y = out(y, fn.c_str(), "y");
        check_same_shape(y, x, fn.c_str(), "y");
        py::gil_scoped_release nogil;
        f(X, Y, x.size(), stream());
      },
      py::arg("x"), py::arg("y"));
  m.def(
      fn_back.c_str(),
      [fn_back, fb](const DeviceArray& dy, const DeviceArray& x, const DeviceArray& dx) {
        const char* f = fn_back.c_str();
        const float* DY = in(dy, f, "dy");
        const float* X = in(x, f, "x");
        float* DX = out(dx, f, "dx");
        check_same_shape(dy, x, f, "dy");
        check_same_shape(dx, x, f, "dx");
        py::gil_scoped_release nogil;
        fb(DY, X, DX, x.size(), stream());
      },
      py::arg("dy"), py::arg("x"), py::arg("dx"));
}

void def_scaled(py::module_& m, const char* name, Scaled f, ScaledBackward fb) {
  const std::string fn = name, fn_back = fn + "_backward";
  m.def(
      (fn + "_forward").c_str(),
      [fn, f](const DeviceArray& x, const DeviceArray& y, float alpha) {
        const float* X = in(x, fn.c_str(), "x");
        float* Y = out(y, fn.c_str(), "y");
        check_same_shape(y, x, fn.c_str(), "y");
        py::gil_scoped_release nogil;
        f(X, Y, x.size(), alpha, stream());
      },
      py::arg("x"), py::arg("y"), py::arg("alpha"));
  m.def(
      fn_back.c_str(),
      [fn_back, fb](const DeviceArray& dy, const DeviceArray& x, const DeviceArray& dx, float alpha) {
        const char* f = fn_back.c_str();
        const float* DY = in(dy, f, "dy");
        const float* X = in(x, f, "x");
        float* DX = out(dx, f, "dx");
        check_same_shape(dy, x, f, "dy");
        check_same_shape(dx, x, f, "dx");
        py::gil_scoped_release nogil;
        fb(DY, X, DX, x.size(), alpha, stream());
      },
      py::arg("dy"), py::arg("x"), py::arg("dx"), py::arg("alpha"));
}

void def_softmax(py::module_& m, const char* name, Softmax f, SoftmaxBackward fb) {
  const std::string fn = name, fn_back = fn + "_backward";
  m.def(
      (fn + "_forward").c_str(),
      [fn, f](const DeviceArray& x, const DeviceArray& y, int64_t axis) {
        const float* X = in(x, fn.c_str(), "x");
        float* Y = out(y, fn.c_str(), "y");
        check_same_shape(y, x, fn.c_str(), "y");
        const SoftmaxView v = softmax_view(x, axis, fn.c_str());
        py::gil_scoped_release nogil;
        f(X, Y, v.O, v.D, v.I, stream());
      },
      py::arg("x"), py::arg("y"), py::arg("axis"));
  m.def(
      fn_back.c_str(),
      [fn_back, fb](const DeviceArray& dy, const DeviceArray& x, const DeviceArray& dx, int64_t axis) {
        const char* f = fn_back.c_str();
        const float* DY = in(dy, f, "dy");
        const float* X = in(x, f, "x");
        float* DX = out(dx, f, "dx");
        check_same_shape(dy, x, f, "dy");
        check_same_shape(dx, x, f, "dx");
        const SoftmaxView v = softmax_view(x, axis, f);
        py::gil_scoped_release nogil;
        fb(DY, X, DX, v.O, v.D, v.I, stream());
      },
      py::arg("dy"), py::arg("x"), py::arg("dx"), py::arg("axis"));
}

}  // namespace

void bind_act(py::module_& m) {
  def_unary(m, "relu", relu_forward, relu_backward);
  def_unary(m, "sigmoid", sigmoid_forward, sigmoid_backward);
  def_unary(m, "tanh", tanh_forward, tanh_backward);
  def_scaled(m, "leaky_relu", leaky_relu_forward, leaky_relu_backward);
  def_scaled(m, "elu", elu_forward, elu_backward);
  def_softmax(m, "softmax", softmax_forward, softmax_backward);
  def_softmax(m, "log_softmax", log_softmax_forward, log_softmax_backward);

  m.def(
      "prelu_forward",
      [](const DeviceArray& x, const DeviceArray& alpha, const DeviceArray& y) {
        const char* fn = "prelu";
        const float* X = in(x, fn, "x");
        const float* A = in(alpha, fn, "alpha");
        float* Y = out(y, fn, "y");
        check_same_shape(y, x, fn, "y");
        const ChannelLayout L = channel_layout(x, fn);
        const bool shared = shared_alpha(fn, alpha, L);
        py::gil_scoped_release nogil;
        prelu_forward(X, A, Y, L.N, L.C, L.S, shared, stream());
      },
      py::arg("x"), py::arg("alpha"), py::arg("y"));
  m.def(
      "prelu_backward",
      [](const DeviceArray& dy, const DeviceArray& x, const DeviceArray& alpha, const DeviceArray& dx,
         const DeviceArray& dalpha) {
        const char* fn = "prelu_backward";
        const float* DY = in(dy, fn, "dy");
        const float* X = in(x, fn, "x");
        const float* A = in(alpha, fn, "alpha");
        float* DX = out(dx, fn, "dx");
        float* DA = out(dalpha, fn, "dalpha");
        check_same_shape(dy, x, fn, "dy");
        check_same_shape(dx, x, fn, "dx");
        const ChannelLayout L = channel_layout(x, fn);
        const bool shared = shared_alpha(fn, alpha, L);
        check_same_shape(dalpha, alpha, fn, "dalpha");
        DeviceArray scratch = workspace(prelu_backward_workspace_bytes(L.N, L.C, L.S));
        py::gil_scoped_release nogil;
        prelu_backward(DY, X, A, DX, DA, L.N, L.C, L.S, shared, scratch.data(), stream());
      },
      py::arg("dy"), py::arg("x"), py::arg("alpha"), py::arg("dx"), py::arg("dalpha"));

  m.def(
      "rrelu_forward",
      [](const DeviceArray& x, const DeviceArray& y, const DeviceArray& slope, float lower, float upper,
         bool training, uint64_t seed) {
        const char* fn = "rrelu";
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        float* SL = out(slope, fn, "slope");
        check_same_shape(y, x, fn, "y");
        check_same_shape(slope, x, fn, "slope");
        FASTCNN_CHECK(lower >= 0.0f && lower <= 1.0f, fn, ": argument 'lower' got ", lower,
                      ", needed a number in [0, 1]");
        FASTCNN_CHECK(upper >= lower && upper <= 1.0f, fn, ": argument 'upper' got ", upper,
                      ", needed a number in [lower, 1] with lower = ", lower);
        py::gil_scoped_release nogil;
        rrelu_forward(X, Y, SL, x.size(), lower, upper, training, seed, stream());
      },
      py::arg("x"), py::arg("y"), py::arg("slope"), py::arg("lower"), py::arg("upper"), py::arg("training"),
      py::arg("seed"));
  m.def(
      "rrelu_backward",
      [](const DeviceArray& dy, const DeviceArray& slope, const DeviceArray& dx) {
        const char* fn = "rrelu_backward";
        const float* DY = in(dy, fn, "dy");
        const float* SL = in(slope, fn, "slope");
        float* DX = out(dx, fn, "dx");
        check_same_shape(dy, slope, fn, "dy");
        check_same_shape(dx, slope, fn, "dx");
        py::gil_scoped_release nogil;
        rrelu_backward(DY, SL, DX, slope.size(), stream());
      },
      py::arg("dy"), py::arg("slope"), py::arg("dx"));

  m.def(
      "dropout_forward",
      [](const DeviceArray& x, const DeviceArray& y, const DeviceArray& mask, float p, uint64_t seed) {
        const char* fn = "dropout";
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        check_dtype(mask, DType::uint8, fn, "mask");
        check_same_shape(y, x, fn, "y");
        check_same_shape(mask, x, fn, "mask");
        check_dropout_p(fn, p);
        py::gil_scoped_release nogil;
        dropout_forward(X, Y, mask.ptr<uint8_t>(), x.size(), p, seed, stream());
      },
      py::arg("x"), py::arg("y"), py::arg("mask"), py::arg("p"), py::arg("seed"));
  m.def(
      "dropout_backward",
      [](const DeviceArray& dy, const DeviceArray& mask, const DeviceArray& dx, float p) {
        const char* fn = "dropout_backward";
        const float* DY = in(dy, fn, "dy");
        check_dtype(mask, DType::uint8, fn, "mask");
        float* DX = out(dx, fn, "dx");
        check_same_shape(dy, mask, fn, "dy");
        check_same_shape(dx, mask, fn, "dx");
        check_dropout_p(fn, p);
        py::gil_scoped_release nogil;
        dropout_backward(DY, mask.ptr<const uint8_t>(), DX, mask.size(), p, stream());
      },
      py::arg("dy"), py::arg("mask"), py::arg("dx"), py::arg("p"));
}

}  // namespace fastcnn::cuda::bind
