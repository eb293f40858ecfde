// _C_cuda.linear_forward / linear_backward: as _C's (csrc/bindings/linear.cpp) with DeviceArray;
// outputs are allocated by fastcnn.functional.linear.
#include "cuda/bindings/bind_util.h"
#include "cuda/kernels/linear.h"

namespace fastcnn::cuda::bind {

namespace {
void check_sizes(const char* fn, int64_t N, int64_t C, int64_t K) {
  checked_mul(N, C, fn);
  checked_mul(N, K, fn);
  checked_mul(K, C, fn);
  // GEMM columns are 32-bit in the kernels
  FASTCNN_CHECK(C < (int64_t(1) << 31) && K < (int64_t(1) << 31), fn, ": sizes too large for the CUDA kernels");
}
}  // namespace

void bind_linear(py::module_& m) {
  m.def(
      "linear_forward",
      [](const DeviceArray& x, const DeviceArray& w, const DeviceArray* b, const DeviceArray& y) {
        const char* fn = "linear";
        check_shape(x, fn, "x", {-1, -1});
        const int64_t N = x.dim(0), C = x.dim(1);
        check_shape(w, fn, "w", {-1, C});
        const int64_t K = w.dim(0);
        const float* bp = in_opt(b, fn, "b");
        if (bp) check_shape(*b, fn, "b", {K});
        check_shape(y, fn, "y", {N, K});
        check_sizes(fn, N, C, K);
        const float* xp = in(x, fn, "x");
        const float* wp = in(w, fn, "w");
        float* yp = out(y, fn, "y");
        py::gil_scoped_release nogil;
        linear_forward(xp, wp, bp, yp, N, C, K, stream());
      },
      py::arg("x"), py::arg("w"), py::arg("b"), py::arg("y"), "y = x @ w.T + b, written into y");
  m.def(
      "linear_backward",
      [](const DeviceArray& dy, const DeviceArray& x, const DeviceArray& w, const DeviceArray* dx,
         const DeviceArray& dw, const DeviceArray* db) {
        const char* fn = "linear_backward";
        check_shape(x, fn, "x", {-1, -1});
        const int64_t N = x.dim(0), C = x.dim(1);
        check_shape(w, fn, "w", {-1, C});
        const int64_t K = w.dim(0);
        check_shape(dy, fn, "dy", {N, K});
        check_shape(dw, fn, "dw", {K, C});
        float* dbp = nullptr;
        if (db) {
          check_shape(*db, fn, "db", {K});
          dbp = out(*db, fn, "db");
        }
        check_sizes(fn, N, C, K);
        const float* dyp = in(dy, fn, "dy");
        const float* xp = in(x, fn, "x");
        const float* wp = in(w, fn, "w");
        float* dxp = nullptr;
        if (dx) {
          check_shape(*dx, fn, "dx", {N, C});
          dxp = out(*dx, fn, "dx");
        }
        float* dwp = out(dw, fn, "dw");
        py::gil_scoped_release nogil;
        linear_backward(dyp, xp, wp, dxp, dwp, dbp, N, C, K, stream());
      },
      py::arg("dy"), py::arg("x"), py::arg("w"), py::arg("dx"), py::arg("dw"), py::arg("db"),
      "dx = dy @ w, dw = dy.T @ x, db = dy summed over rows (dx or db None: skipped), written in place");
}

}  // namespace fastcnn::cuda::bind
