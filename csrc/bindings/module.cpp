// The CPU extension module. Each op family binds itself in csrc/bindings/<fam>.cpp.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "fastcnn/dispatch.h"
#include "fastcnn/parallel.h"

namespace py = pybind11;

namespace fastcnn::bind {
void bind_gemm(py::module_& m);
void bind_conv(py::module_& m);
void bind_pool(py::module_& m);
void bind_act(py::module_& m);
void bind_norm(py::module_& m);
void bind_linear(py::module_& m);
void bind_loss(py::module_& m);
void bind_optim(py::module_& m);
void bind_tensor(py::module_& m);
void bind_vecmath(py::module_& m);
}  // namespace fastcnn::bind

#define FASTCNN_STR2(x) #x
#define FASTCNN_STR(x) FASTCNN_STR2(x)

PYBIND11_MODULE(_C, m) {
  using namespace fastcnn;
  m.doc() = "fastcnn CPU kernels";
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("build_info", [] {
    py::dict d;
    d["version"] = FASTCNN_VERSION;
#if defined(__clang__)
    d["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    d["compiler"] = std::string("gcc ") + __VERSION__;
#else
    d["compiler"] = "unknown";
#endif
#ifdef _OPENMP
    d["openmp"] = _OPENMP;
#else
    d["openmp"] = py::none();
#endif
    d["build_type"] = FASTCNN_BUILD_TYPE;
    d["build_dir"] = FASTCNN_BUILD_DIR;  // where the per-ISA objects were (tools/check_isa.py)
#ifdef FASTCNN_SANITIZE
    d["sanitizers"] = "address,undefined";
#else
    d["sanitizers"] = py::none();
#endif
    d["built_isas"] = built_isas();
#ifdef FASTCNN_BASELINE_LANES16
    d["baseline_lanes"] = 16;  // a test build: the baseline kernels run the avx512 tiling
#else
    d["baseline_lanes"] = 8;
#endif
    return d;
  });
  m.def("runtime_info", [] {
    py::dict d;
    d["isa"] = isa_name(active_isa());
    d["cpu_isas"] = cpu_isas();
    d["cpu_vendor"] = cpu_features().vendor;
    d["cpu_brand"] = cpu_features().brand;
    d["num_threads"] = get_num_threads();
    return d;
  });
  bind::bind_gemm(m);
  bind::bind_conv(m);
  bind::bind_pool(m);
  bind::bind_act(m);
  bind::bind_norm(m);
  bind::bind_linear(m);
  bind::bind_loss(m);
  bind::bind_optim(m);
  bind::bind_tensor(m);
  bind::bind_vecmath(m);
}
