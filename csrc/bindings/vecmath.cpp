// Test-only entry point: _C._vec_math(name, x, y) writes fastcnn::vec's <name>_f of each element of
// x into y (float32 C-contiguous arrays of one size), so tests can sweep the float range.
#include <string>

#include "bind_util.h"
#include "cpu/vec/math.h"

namespace fastcnn::bind {

namespace {

template <typename F>
void apply(const float* x, float* y, py::ssize_t n, const F& f) {
  for (py::ssize_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

}  // namespace

void bind_vecmath(py::module_& m) {
  m.def("_vec_math", [](const std::string& name, const py::array& x, py::array& y) {
    const char* fn = "_vec_math";
    const float* xp = in(x, fn, "x");
    float* yp = out(y, fn, "y");
    FASTCNN_CHECK(x.size() == y.size(), fn, ": argument 'y' got ", y.size(), " elements, needed ", x.size());
    FASTCNN_CHECK(name == "exp" || name == "expm1" || name == "tanh" || name == "sigmoid", fn,
                  ": argument 'name' got '", name, "', needed one of exp, expm1, tanh, sigmoid");
    const py::ssize_t n = x.size();
    py::gil_scoped_release nogil;
    if (name == "exp") apply(xp, yp, n, [](float v) { return vec::exp_f(v); });
    if (name == "expm1") apply(xp, yp, n, [](float v) { return vec::expm1_f(v); });
    if (name == "tanh") apply(xp, yp, n, [](float v) { return vec::tanh_f(v); });
    if (name == "sigmoid") apply(xp, yp, n, [](float v) { return vec::sigmoid_f(v); });
  }, py::arg("name"), py::arg("x"), py::arg("y"));
}

}  // namespace fastcnn::bind
