// _C.*_step: optimizer updates in place on float32 C-contiguous arrays of one shape.
#include <string>
#include <vector>

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

// A list entry that must be a numpy array (never converted: the update goes to the caller's array).
py::array array_entry(py::handle h, const char* fn, const std::string& name) {
  if (!py::isinstance<py::array>(h))
    throw py::type_error(std::string(fn) + ": argument '" + name + "' got " +
                         std::string(py::str(py::type::handle_of(h).attr("__name__"))) +
                         ", needed a float32 numpy array");
  return py::reinterpret_borrow<py::array>(h);
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
      "sgd_step_many",
      [](py::list params, py::list grads, py::list velocities, double lr, double momentum,
         bool nesterov, double weight_decay) {
        // The optimizer's per-step path: one call for every parameter of a model. Each entry is
        // checked as sgd_step checks its arguments, all before the first update.
        const char* fn = "sgd_step_many";
        const size_t count = params.size();
        FASTCNN_CHECK(grads.size() == count && velocities.size() == count, fn,
                      ": arguments 'grads' and 'velocities' got ", grads.size(), " and ",
                      velocities.size(), " arrays, needed ", count, " (one per entry of 'params')");
        std::vector<float*> p(count), vel(count);
        std::vector<const float*> g(count);
        std::vector<int64_t> n(count);
        for (size_t i = 0; i < count; ++i) {
          const std::string pi = "params[" + std::to_string(i) + "]";
          const std::string gi = "grads[" + std::to_string(i) + "]";
          const std::string vi = "velocities[" + std::to_string(i) + "]";
          py::array param = array_entry(params[i], fn, pi);
          py::array grad = array_entry(grads[i], fn, gi);
          p[i] = out(param, fn, pi.c_str());
          check_like_param(grad, param, fn, gi.c_str());
          g[i] = in(grad, fn, gi.c_str());
          py::handle v = velocities[i];
          vel[i] = v.is_none() ? nullptr : state(array_entry(v, fn, vi), param, fn, vi.c_str());
          n[i] = param.size();
        }
        py::gil_scoped_release nogil;
        ops::sgd_step_many(p.data(), g.data(), vel.data(), n.data(), static_cast<int64_t>(count),
                           lr, momentum, nesterov, weight_decay);
      },
      py::arg("params"), py::arg("grads"), py::arg("velocities"), py::arg("lr"),
      py::arg("momentum"), py::arg("nesterov"), py::arg("weight_decay"),
      "sgd_step for each (params[i], grads[i], velocities[i]) with one set of hyperparameters");
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
