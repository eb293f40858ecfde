// _C.linear_forward / linear_backward: outputs are allocated by fastcnn.functional.linear.
#include "bind_util.h"
#include "ops/linear.h"

namespace fastcnn::bind {

void bind_linear(py::module_& m) {
  m.def(
      "linear_forward",
      [](py::array x, py::array w, py::object b, py::array y) {
        const char* fn = "linear";
        check_shape(x, fn, "x", {-1, -1});
        const int64_t N = x.shape(0), C = x.shape(1);
        check_shape(w, fn, "w", {-1, C});
        const int64_t K = w.shape(0);
        const float* bp = in_opt(b, fn, "b");
        if (bp) check_shape(b.cast<py::array>(), fn, "b", {K});
        check_shape(y, fn, "y", {N, K});
        const float* xp = in(x, fn, "x");
        const float* wp = in(w, fn, "w");
        float* yp = out(y, fn, "y");
        py::gil_scoped_release nogil;
        ops::linear_forward(xp, wp, bp, yp, N, C, K);
      },
      py::arg("x"), py::arg("w"), py::arg("b"), py::arg("y"), "y = x @ w.T + b, written into y");
  m.def(
      "linear_backward",
      [](py::array dy, py::array x, py::array w, py::object dx, py::array dw, py::object db) {
        const char* fn = "linear_backward";
        check_shape(x, fn, "x", {-1, -1});
        const int64_t N = x.shape(0), C = x.shape(1);
        check_shape(w, fn, "w", {-1, C});
        const int64_t K = w.shape(0);
        check_shape(dy, fn, "dy", {N, K});
        check_shape(dw, fn, "dw", {K, C});
        float* dbp = nullptr;
        if (!db.is_none()) {
          py::array dba = db.cast<py::array>();
          check_shape(dba, fn, "db", {K});
          dbp = out(dba, fn, "db");
        }
        const float* dyp = in(dy, fn, "dy");
        const float* xp = in(x, fn, "x");
        const float* wp = in(w, fn, "w");
        float* dxp = nullptr;
        if (!dx.is_none()) {
          py::array dxa = dx.cast<py::array>();
          check_shape(dxa, fn, "dx", {N, C});
          dxp = out(dxa, fn, "dx");
        }
        float* dwp = out(dw, fn, "dw");
        py::gil_scoped_release nogil;
        ops::linear_backward(dyp, xp, wp, dxp, dwp, dbp, N, C, K);
      },
      py::arg("dy"), py::arg("x"), py::arg("w"), py::arg("dx"), py::arg("dw"), py::arg("db"),
      "dx = dy @ w, dw = dy.T @ x, db = dy summed over rows (dx or db None: skipped), written in place");
}

}  // namespace fastcnn::bind
