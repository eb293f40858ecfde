// _C_cuda pooling entry points: the names, arguments and checks of csrc/bindings/pool.cpp, with
// DeviceArrays. Geometry comes from the input-side array (x, or dx in backward); kernel/stride are
// (kh, kw) / (sh, sw), padding is (top, bottom, left, right).
#include <pybind11/stl.h>

#include <array>

#include "cuda/bindings/bind_util.h"
#include "cuda/kernels/pool.h"
#include "ops/pool.h"

namespace fastcnn::cuda::bind {

namespace {

using Pair = std::array<int64_t, 2>;
using Pads = std::array<int64_t, 4>;

PoolGeometry geometry_for(const DeviceArray& in, const char* fn, const char* name, Pair k, Pair s, Pads pad,
                          bool ceil_mode, bool count_include_pad) {
  check_shape(in, fn, name, {-1, -1, -1, -1});
  const Pool2dParams p = ops::pool2d_params(fn, in.dim(0), in.dim(1), in.dim(2), in.dim(3), k[0], k[1], s[0], s[1],
                                            pad[0], pad[1], pad[2], pad[3], ceil_mode, count_include_pad);
  PoolGeometry g{};
  g.N = p.N, g.C = p.C, g.H = p.H, g.W = p.W, g.P = p.P, g.Q = p.Q;
  g.kh = p.kh, g.kw = p.kw, g.sh = p.sh, g.sw = p.sw;
  g.pad_top = p.pad_top, g.pad_bottom = p.pad_bottom, g.pad_left = p.pad_left, g.pad_right = p.pad_right;
  g.count_include_pad = p.count_include_pad;
  return g;
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def(
      "max_pool2d_forward",
      [](const DeviceArray& x, const DeviceArray& y, Pair k, Pair s, Pads pad, bool ceil_mode) {
        const char* fn = "max_pool2d";
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        const PoolGeometry p = geometry_for(x, fn, "x", k, s, pad, ceil_mode, false);
        check_shape(y, fn, "y", {p.N, p.C, p.P, p.Q});
        py::gil_scoped_release nogil;
        max_pool2d_forward(X, Y, p, stream());
      },
      py::arg("x"), py::arg("y"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"));
  m.def(
      "max_pool2d_backward",
      [](const DeviceArray& dy, const DeviceArray& x, const DeviceArray& dx, Pair k, Pair s, Pads pad,
         bool ceil_mode) {
        const char* fn = "max_pool2d_backward";
        const float* DY = in(dy, fn, "dy");
        const float* X = in(x, fn, "x");
        float* DX = out(dx, fn, "dx");
        const PoolGeometry p = geometry_for(x, fn, "x", k, s, pad, ceil_mode, false);
        check_shape(dy, fn, "dy", {p.N, p.C, p.P, p.Q});
        check_shape(dx, fn, "dx", {p.N, p.C, p.H, p.W});
        py::gil_scoped_release nogil;
        max_pool2d_backward(DY, X, DX, p, stream());
      },
      py::arg("dy"), py::arg("x"), py::arg("dx"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"));
  m.def(
      "avg_pool2d_forward",
      [](const DeviceArray& x, const DeviceArray& y, Pair k, Pair s, Pads pad, bool ceil_mode,
         bool count_include_pad) {
        const char* fn = "avg_pool2d";
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        const PoolGeometry p = geometry_for(x, fn, "x", k, s, pad, ceil_mode, count_include_pad);
        check_shape(y, fn, "y", {p.N, p.C, p.P, p.Q});
        py::gil_scoped_release nogil;
        avg_pool2d_forward(X, Y, p, stream());
      },
      py::arg("x"), py::arg("y"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"), py::arg("count_include_pad"));
  m.def(
      "avg_pool2d_backward",
      [](const DeviceArray& dy, const DeviceArray& dx, Pair k, Pair s, Pads pad, bool ceil_mode,
         bool count_include_pad) {
        const char* fn = "avg_pool2d_backward";
        const float* DY = in(dy, fn, "dy");
        float* DX = out(dx, fn, "dx");
        const PoolGeometry p = geometry_for(dx, fn, "dx", k, s, pad, ceil_mode, count_include_pad);
        check_shape(dy, fn, "dy", {p.N, p.C, p.P, p.Q});
        py::gil_scoped_release nogil;
        avg_pool2d_backward(DY, DX, p, stream());
      },
      py::arg("dy"), py::arg("dx"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"), py::arg("count_include_pad"));
  m.def(
      "global_avg_pool2d_forward",
      [](const DeviceArray& x, const DeviceArray& y) {
        const char* fn = "global_avg_pool2d";
        const float* X = in(x, fn, "x");
        float* Y = out(y, fn, "y");
        check_shape(x, fn, "x", {-1, -1, -1, -1});
        check_shape(y, fn, "y", {x.dim(0), x.dim(1)});
        const int64_t HW = x.dim(2) * x.dim(3);
        FASTCNN_CHECK(HW >= 1, fn, ": argument 'x' got an empty plane (H*W = 0), needed H, W >= 1");
        const int64_t NC = checked_mul(x.dim(0), x.dim(1), fn);
        py::gil_scoped_release nogil;
        global_avg_pool2d_forward(X, Y, NC, HW, stream());
      },
      py::arg("x"), py::arg("y"));
  m.def(
      "global_avg_pool2d_backward",
      [](const DeviceArray& dy, const DeviceArray& dx) {
        const char* fn = "global_avg_pool2d_backward";
        const float* DY = in(dy, fn, "dy");
        float* DX = out(dx, fn, "dx");
        check_shape(dx, fn, "dx", {-1, -1, -1, -1});
        check_shape(dy, fn, "dy", {dx.dim(0), dx.dim(1)});
        const int64_t HW = dx.dim(2) * dx.dim(3);
        FASTCNN_CHECK(HW >= 1, fn, ": argument 'x' got an empty plane (H*W = 0), needed H, W >= 1");
        const int64_t NC = checked_mul(dx.dim(0), dx.dim(1), fn);
        py::gil_scoped_release nogil;
        global_avg_pool2d_backward(DY, DX, NC, HW, stream());
      },
      py::arg("dy"), py::arg("dx"));
}

}  // namespace fastcnn::cuda::bind
