// _C_cuda.*_step: the names, arguments and checks of csrc/bindings/optim.cpp (and
// csrc/ops/optim.cpp), with DeviceArrays: optimizer updates in place on float32 device arrays of
// one shape. Scalars are passed by value; nothing is read back to the host.
#include <cmath>

#include "cuda/bindings/ops_util.h"
#include "cuda/kernels/optim.h"

namespace fastcnn::cuda::bind {

namespace {

// lo <= v (or lo < v) and v < hi (or v <= hi), and not NaN.
void check_range(const char* fn, const char* name, double v, double lo, bool lo_open, double hi, bool hi_open) {
  const bool ok = (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  FASTCNN_CHECK(ok, fn, ": argument '", name, "' got ", v, ", needed a number in ", lo_open ? "(" : "[", lo, ", ", hi,
                hi_open ? ")" : "]");
}
constexpr double kInf = INFINITY;

float* state(const DeviceArray& a, const DeviceArray& param, const char* fn, const char* name) {
  check_like(a, param, fn, name, "param");
  return out(a, fn, name);
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def(
      "sgd_step",
      [](const DeviceArray& param, const DeviceArray& grad, const DeviceArray* velocity, double lr, double momentum,
         bool nesterov, double weight_decay) {
        const char* fn = "sgd_step";
        float* p = out(param, fn, "param");
        check_like(grad, param, fn, "grad", "param");
        const float* g = in(grad, fn, "grad");
        float* vel = velocity ? state(*velocity, param, fn, "velocity") : nullptr;
        check_range(fn, "lr", lr, 0, false, kInf, true);
        check_range(fn, "momentum", momentum, 0, false, kInf, true);
        check_range(fn, "weight_decay", weight_decay, 0, false, kInf, true);
        FASTCNN_CHECK(!nesterov || momentum > 0, fn,
                      ": argument 'nesterov' got True with momentum 0, needed momentum > 0");
        FASTCNN_CHECK(vel || momentum == 0, fn, ": argument 'velocity' got None, needed an array when momentum != 0");
        const int64_t n = param.size();
        py::gil_scoped_release nogil;
        sgd_step(p, g, momentum == 0 ? nullptr : vel, n, static_cast<float>(lr), static_cast<float>(momentum),
                 nesterov, static_cast<float>(weight_decay), stream());
      },
      py::arg("param"), py::arg("grad"), py::arg("velocity"), py::arg("lr"), py::arg("momentum"), py::arg("nesterov"),
      py::arg("weight_decay"), "SGD (momentum, Nesterov) step in place");
  m.def(
      "adam_step",
      [](const DeviceArray& param, const DeviceArray& grad, const DeviceArray& m_, const DeviceArray& v, int64_t step,
         double lr, double beta1, double beta2, double eps, double weight_decay, bool decoupled) {
        const char* fn = "adam_step";
        float* p = out(param, fn, "param");
        check_like(grad, param, fn, "grad", "param");
        const float* g = in(grad, fn, "grad");
        float* mp = state(m_, param, fn, "m");
        float* vp = state(v, param, fn, "v");
        FASTCNN_CHECK(step >= 1, fn, ": argument 'step' got ", step, ", needed an int >= 1");
        check_range(fn, "lr", lr, 0, false, kInf, true);
        check_range(fn, "beta1", beta1, 0, false, 1, true);
        check_range(fn, "beta2", beta2, 0, false, 1, true);
        check_range(fn, "eps", eps, 0, true, kInf, true);
        check_range(fn, "weight_decay", weight_decay, 0, false, kInf, true);
        const math::AdamCoefs c = math::adam_coefs(step, lr, beta1, beta2, eps, weight_decay, decoupled);
        const int64_t n = param.size();
        py::gil_scoped_release nogil;
        adam_step(p, g, mp, vp, n, c, stream());
      },
      py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"), py::arg("step"), py::arg("lr"), py::arg("beta1"),
      py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"), py::arg("decoupled"), "Adam / AdamW step in place");
  m.def(
      "rmsprop_step",
      [](const DeviceArray& param, const DeviceArray& grad, const DeviceArray& square_avg, double lr, double alpha,
         double eps) {
        const char* fn = "rmsprop_step";
        float* p = out(param, fn, "param");
        check_like(grad, param, fn, "grad", "param");
        const float* g = in(grad, fn, "grad");
        float* sq = state(square_avg, param, fn, "square_avg");
        check_range(fn, "lr", lr, 0, false, kInf, true);
        check_range(fn, "alpha", alpha, 0, false, 1, false);
        check_range(fn, "eps", eps, 0, true, kInf, true);
        const int64_t n = param.size();
        py::gil_scoped_release nogil;
        rmsprop_step(p, g, sq, n, static_cast<float>(lr), static_cast<float>(alpha), static_cast<float>(1 - alpha),
                     static_cast<float>(eps), stream());
      },
      py::arg("param"), py::arg("grad"), py::arg("square_avg"), py::arg("lr"), py::arg("alpha"), py::arg("eps"),
      "RMSprop step in place");
}

}  // namespace fastcnn::cuda::bind
