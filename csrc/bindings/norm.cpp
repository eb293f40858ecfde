// _C.batch_norm_* / local_response_norm_*: x is (N,C,*), outputs allocated by
// fastcnn.functional.norm; running statistics are updated in place.
#include "bind_util.h"
#include "ops/norm.h"

namespace fastcnn::bind {

namespace {

struct Layout {
  int64_t N, C, S;  // x viewed as (N,C,S)
};

Layout layout(const py::array& x, const char* fn) {
  FASTCNN_CHECK(x.ndim() >= 2, fn, ": argument 'x' got shape ", shape_str(x),
                ", needed at least 2 dimensions (N, C, ...)");
  int64_t S = 1;
  for (py::ssize_t i = 2; i < x.ndim(); ++i) S = checked_mul(S, x.shape(i), fn);
  return {x.shape(0), x.shape(1), S};
}

void check_like(const py::array& a, const py::array& x, const char* fn, const char* name) {
  bool same = a.ndim() == x.ndim();
  for (py::ssize_t i = 0; same && i < x.ndim(); ++i) same = a.shape(i) == x.shape(i);
  FASTCNN_CHECK(same, fn, ": argument '", name, "' got shape ", shape_str(a), ", needed ",
                shape_str(x), " (the shape of x)");
}

// A per-channel (C,) array or None.
const float* channel_in(const py::object& o, int64_t C, const char* fn, const char* name) {
  if (o.is_none()) return nullptr;
  py::array a = o.cast<py::array>();
  check_shape(a, fn, name, {C});
  return in(a, fn, name);
}
float* channel_out(const py::object& o, int64_t C, const char* fn, const char* name) {
  if (o.is_none()) return nullptr;
  py::array a = o.cast<py::array>();
  check_shape(a, fn, name, {C});
  return out(a, fn, name);
}

}  // namespace

void bind_norm(py::module_& m) {
  m.def(
      "batch_norm_forward",
      [](py::array x, py::object gamma, py::object beta, py::object running_mean,
         py::object running_var, py::array y, bool training, double momentum, double eps) {
        const char* fn = "batch_norm";
        const Layout L = layout(x, fn);
        check_like(y, x, fn, "y");
        const float* xp = in(x, fn, "x");
        const float* gp = channel_in(gamma, L.C, fn, "gamma");
        const float* bp = channel_in(beta, L.C, fn, "beta");
        float* rm = channel_out(running_mean, L.C, fn, "running_mean");
        float* rv = channel_out(running_var, L.C, fn, "running_var");
        float* yp = out(y, fn, "y");
        py::gil_scoped_release nogil;
        ops::batch_norm_forward(xp, gp, bp, rm, rv, yp, L.N, L.C, L.S, training, momentum, eps);
      },
      py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("running_mean"),
      py::arg("running_var"), py::arg("y"), py::arg("training"), py::arg("momentum"),
      py::arg("eps"), "batch norm of x (N,C,...) into y; training updates the running arrays");
  m.def(
      "batch_norm_backward",
      [](py::array dy, py::array x, py::object gamma, py::object running_mean,
         py::object running_var, py::array dx, py::object dgamma, py::object dbeta, bool training,
         double eps) {
        const char* fn = "batch_norm_backward";
        const Layout L = layout(x, fn);
        check_like(dy, x, fn, "dy");
        check_like(dx, x, fn, "dx");
        const float* dyp = in(dy, fn, "dy");
        const float* xp = in(x, fn, "x");
        const float* gp = channel_in(gamma, L.C, fn, "gamma");
        const float* rm = channel_in(running_mean, L.C, fn, "running_mean");
        const float* rv = channel_in(running_var, L.C, fn, "running_var");
        float* dxp = out(dx, fn, "dx");
        float* dgp = channel_out(dgamma, L.C, fn, "dgamma");
        float* dbp = channel_out(dbeta, L.C, fn, "dbeta");
        py::gil_scoped_release nogil;
        ops::batch_norm_backward(dyp, xp, gp, rm, rv, dxp, dgp, dbp, L.N, L.C, L.S, training, eps);
      },
      py::arg("dy"), py::arg("x"), py::arg("gamma"), py::arg("running_mean"),
      py::arg("running_var"), py::arg("dx"), py::arg("dgamma"), py::arg("dbeta"),
      py::arg("training"), py::arg("eps"),
      "gradients of batch norm into dx, dgamma, dbeta (None: not wanted)");
  m.def(
      "local_response_norm_forward",
      [](py::array x, py::array y, int64_t size, double alpha, double beta, double k) {
        const char* fn = "local_response_norm";
        const Layout L = layout(x, fn);
        check_like(y, x, fn, "y");
        const float* xp = in(x, fn, "x");
        float* yp = out(y, fn, "y");
        py::gil_scoped_release nogil;
        ops::local_response_norm_forward(xp, yp, L.N, L.C, L.S, size, alpha, beta, k);
      },
      py::arg("x"), py::arg("y"), py::arg("size"), py::arg("alpha"), py::arg("beta"),
      py::arg("k"), "local response norm across the channels of x (N,C,...) into y");
  m.def(
      "local_response_norm_backward",
      [](py::array dy, py::array x, py::array dx, int64_t size, double alpha, double beta,
         double k) {
        const char* fn = "local_response_norm_backward";
        const Layout L = layout(x, fn);
        check_like(dy, x, fn, "dy");
        check_like(dx, x, fn, "dx");
        const float* dyp = in(dy, fn, "dy");
        const float* xp = in(x, fn, "x");
        float* dxp = out(dx, fn, "dx");
        py::gil_scoped_release nogil;
        ops::local_response_norm_backward(dyp, xp, dxp, L.N, L.C, L.S, size, alpha, beta, k);
      },
      py::arg("dy"), py::arg("x"), py::arg("dx"), py::arg("size"), py::arg("alpha"),
      py::arg("beta"), py::arg("k"), "gradient of local response norm into dx");
}

}  // namespace fastcnn::bind
