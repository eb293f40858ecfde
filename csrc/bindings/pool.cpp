// _C pooling entry points. Geometry comes from the input-side array (x, or dx in backward);
// kernel/stride are (kh, kw) / (sh, sw), padding is (top, bottom, left, right).
#include <pybind11/stl.h>

#include <array>

#include "bind_util.h"
#include "ops/pool.h"

namespace fastcnn::bind {

namespace {

using Pair = std::array<int64_t, 2>;
using Pads = std::array<int64_t, 4>;

Pool2dParams params_for(const py::array& in, const char* fn, const char* name, Pair k, Pair s, Pads pad,
                        bool ceil_mode, bool count_include_pad) {
  check_shape(in, fn, name, {-1, -1, -1, -1});
  return ops::pool2d_params(fn, in.shape(0), in.shape(1), in.shape(2), in.shape(3), k[0], k[1], s[0], s[1],
                            pad[0], pad[1], pad[2], pad[3], ceil_mode, count_include_pad);
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def(
      "max_pool2d_forward",
      [](py::array x, py::array y, Pair k, Pair s, Pads pad, bool ceil_mode) {
        const char* fn = "max_pool2d";
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        const Pool2dParams p = params_for(x, fn, "x", k, s, pad, ceil_mode, false);
        check_shape(y, fn, "y", {p.N, p.C, p.P, p.Q});
        py::gil_scoped_release nogil;
        ops::max_pool2d_forward(X, Y, p);
      },
      py::arg("x"), py::arg("y"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"));
  m.def(
      "max_pool2d_backward",
      [](py::array dy, py::array x, py::array dx, Pair k, Pair s, Pads pad, bool ceil_mode) {
        const char* fn = "max_pool2d_backward";
        const float* DY = in(dy, fn, "dy");
        const float* X = in(x, fn, "x");
        float* DX = out(dx, fn, "dx");
        const Pool2dParams p = params_for(x, fn, "x", k, s, pad, ceil_mode, false);
        check_shape(dy, fn, "dy", {p.N, p.C, p.P, p.Q});
        check_shape(dx, fn, "dx", {p.N, p.C, p.H, p.W});
        py::gil_scoped_release nogil;
        ops::max_pool2d_backward(DY, X, DX, p);
      },
      py::arg("dy"), py::arg("x"), py::arg("dx"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"));
  m.def(
      "avg_pool2d_forward",
      [](py::array x, py::array y, Pair k, Pair s, Pads pad, bool ceil_mode, bool count_include_pad) {
        const char* fn = "avg_pool2d";
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        const Pool2dParams p = params_for(x, fn, "x", k, s, pad, ceil_mode, count_include_pad);
        check_shape(y, fn, "y", {p.N, p.C, p.P, p.Q});
        py::gil_scoped_release nogil;
        ops::avg_pool2d_forward(X, Y, p);
      },
      py::arg("x"), py::arg("y"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"), py::arg("count_include_pad"));
  m.def(
      "avg_pool2d_backward",
      [](py::array dy, py::array dx, Pair k, Pair s, Pads pad, bool ceil_mode, bool count_include_pad) {
        const char* fn = "avg_pool2d_backward";
        const float* DY = in(dy, fn, "dy");
        float* DX = out(dx, fn, "dx");
        const Pool2dParams p = params_for(dx, fn, "dx", k, s, pad, ceil_mode, count_include_pad);
        check_shape(dy, fn, "dy", {p.N, p.C, p.P, p.Q});
        py::gil_scoped_release nogil;
        ops::avg_pool2d_backward(DY, DX, p);
      },
      py::arg("dy"), py::arg("dx"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"), py::arg("count_include_pad"));
  m.def(
      "global_avg_pool2d_forward",
      [](py::array x, py::array y) {
        const char* fn = "global_avg_pool2d";
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        check_shape(x, fn, "x", {-1, -1, -1, -1});
        check_shape(y, fn, "y", {x.shape(0), x.shape(1)});
        py::gil_scoped_release nogil;
        ops::global_avg_pool2d_forward(X, Y, x.shape(0), x.shape(1), x.shape(2) * x.shape(3));
      },
      py::arg("x"), py::arg("y"));
  m.def(
      "global_avg_pool2d_backward",
      [](py::array dy, py::array dx) {
        const char* fn = "global_avg_pool2d_backward";
        const float* DY = in(dy, fn, "dy");
        float* DX = out(dx, fn, "dx");
        check_shape(dx, fn, "dx", {-1, -1, -1, -1});
        check_shape(dy, fn, "dy", {dx.shape(0), dx.shape(1)});
        py::gil_scoped_release nogil;
        ops::global_avg_pool2d_backward(DY, DX, dx.shape(0), dx.shape(1), dx.shape(2) * dx.shape(3));
      },
      py::arg("dy"), py::arg("dx"));
}

}  // namespace fastcnn::bind
