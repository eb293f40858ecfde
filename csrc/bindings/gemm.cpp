// _C.sgemm: the shared GEMM, exposed for tests and benchmarks.
#include "bind_util.h"
#include "cpu/gemm/sgemm.h"

namespace fastcnn::bind {

void bind_gemm(py::module_& m) {
  m.def(
      "sgemm",
      [](py::array a, py::array b, py::array c, bool trans_a, bool trans_b, float alpha, float beta) {
        const char* fn = "sgemm";
        const float* A = in(a, fn, "a");
        const float* B = in(b, fn, "b");
        float* C = out(c, fn, "c");
        check_shape(a, fn, "a", {-1, -1});
        check_shape(b, fn, "b", {-1, -1});
        const int64_t M = trans_a ? a.shape(1) : a.shape(0), K = trans_a ? a.shape(0) : a.shape(1);
        const int64_t Kb = trans_b ? b.shape(1) : b.shape(0), N = trans_b ? b.shape(0) : b.shape(1);
        FASTCNN_CHECK(K == Kb, fn, ": argument 'b' got shape ", shape_str(b), ", needed ", K,
                      " rows in op(b) to match op(a)");
        check_shape(c, fn, "c", {M, N});
        py::gil_scoped_release nogil;
        FASTCNN_DISPATCH(sgemm)(trans_a, trans_b, M, N, K, alpha, A, a.shape(1), B, b.shape(1), beta, C, N);
      },
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("trans_a") = false, py::arg("trans_b") = false,
      py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f,
      "c = alpha * op(a) @ op(b) + beta * c, in place on c (float32, C-contiguous)");
}

}  // namespace fastcnn::bind
