// _C.*_step: optimizer updates in place on float32 C-contiguous arrays of one shape.
#include "bind_util.h"
#include "ops/optim.h"

namespace fastcnn::bind {

namespace {

// An array with exactly the shape of param.
void check_like_param(const py::array& a, const py::array& param, const char* fn,
                      const char* name) {
  bool same = a.ndim() == param.ndim();
  for (py::ssize_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == param.shape(i);
  FASTCNN_CHECK(same, fn, ": argument '", name, "' got shape ", shape_str(a), ", needed ",
                shape_str(param), " (the shape of param)");
}

float* state(py::array a, const py::array& param, const char* fn, const char* name) {
  check_like_param(a, param, fn, name);
  return out(a, fn, name);
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def(
      "sgd_step",
      [](py::array param, py::array grad, py::object velocity, double lr, double momentum,
         bool nesterov, double weight_decay) {
        const char* fn = "sgd_step";
        float* p = out(param, fn, "param");
        check_like_param(grad, param, fn, "grad");
        const float* g = in(grad, fn, "grad");
        float* vel = velocity.is_none() ? nullptr
                                        : state(velocity.cast<py::array>(), param, fn, "velocity");
        const int64_t n = param.size();
        py::gil_scoped_release nogil;
        ops::sgd_step(p, g, vel, n, lr, momentum, nesterov, weight_decay);
      },
      py::arg("param"), py::arg("grad"), py::arg("velocity"), py::arg("lr"), py::arg("momentum"),
      py::arg("nesterov"), py::arg("weight_decay"), "SGD (momentum, Nesterov) step in place");
  m.def(
      "adam_step",
      [](py::array param, py::array grad, py::array m_, py::array v, int64_t step, double lr,
         double beta1, double beta2, double eps, double weight_decay, bool decoupled) {
        const char* fn = "adam_step";
        float* p = out(param, fn, "param");
        check_like_param(grad, param, fn, "grad");
        const float* g = in(grad, fn, "grad");
        float* mp = state(m_, param, fn, "m");
        float* vp = state(v, param, fn, "v");
        const int64_t n = param.size();
        py::gil_scoped_release nogil;
        ops::adam_step(p, g, mp, vp, n, step, lr, beta1, beta2, eps, weight_decay, decoupled);
      },
      py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"), py::arg("step"),
      py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
      py::arg("decoupled"), "Adam / AdamW step in place");
  m.def(
      "rmsprop_step",
      [](py::array param, py::array grad, py::array square_avg, double lr, double alpha,
         double eps) {
        const char* fn = "rmsprop_step";
        float* p = out(param, fn, "param");
        check_like_param(grad, param, fn, "grad");
        const float* g = in(grad, fn, "grad");
        float* sq = state(square_avg, param, fn, "square_avg");
        const int64_t n = param.size();
        py::gil_scoped_release nogil;
        ops::rmsprop_step(p, g, sq, n, lr, alpha, eps);
      },
      py::arg("param"), py::arg("grad"), py::arg("square_avg"), py::arg("lr"), py::arg("alpha"),
      py::arg("eps"), "RMSprop step in place");
}

}  // namespace fastcnn::bind
