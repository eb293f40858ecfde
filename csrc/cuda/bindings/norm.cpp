// _C_cuda.batch_norm_* / local_response_norm_*: the names, arguments and checks of
// csrc/bindings/norm.cpp (and csrc/ops/norm.cpp), with DeviceArrays. x is (N,C,*); outputs are
// allocated by Python; running statistics are updated in place on the device.
#include <cmath>

#include "cuda/bindings/ops_util.h"
#include "cuda/kernels/norm.h"

namespace fastcnn::cuda::bind {

namespace {

void check_bn(const char* fn, const ChannelLayout& L, bool training, const float* running_mean,
              const float* running_var, double eps) {
  FASTCNN_CHECK(std::isfinite(eps) && eps >= 0, fn, ": argument 'eps' got ", eps, ", needed a number >= 0");
  // PyTorch's rule: one value per channel has no variance to normalize with.
  FASTCNN_CHECK(!training || L.N * L.S != 1, fn, ": argument 'x' got ", L.N * L.S,
                " value per channel, needed more than 1 value per channel when training");
  FASTCNN_CHECK(training || (running_mean && running_var), fn,
                ": arguments 'running_mean' and 'running_var' got None, needed arrays in eval mode");
}

void check_lrn_size(const char* fn, int64_t size) {
  FASTCNN_CHECK(size >= 1, fn, ": argument 'size' got ", size, ", needed an int >= 1");
}

}  // namespace

void bind_norm(py::module_& m) {
  m.def(
      "batch_norm_forward",
      [](const DeviceArray& x, const DeviceArray* gamma, const DeviceArray* beta, const DeviceArray* running_mean,
         const DeviceArray* running_var, const DeviceArray& y, bool training, double momentum, double eps) {
        const char* fn = "batch_norm";
        const ChannelLayout L = channel_layout(x, fn);
        check_like(y, x, fn, "y", "x");
        const float* xp = in(x, fn, "x");
        const float* gp = channel_in(gamma, L.C, fn, "gamma");
        const float* bp = channel_in(beta, L.C, fn, "beta");
        float* rm = channel_out(running_mean, L.C, fn, "running_mean");
        float* rv = channel_out(running_var, L.C, fn, "running_var");
        float* yp = out(y, fn, "y");
        check_bn(fn, L, training, rm, rv, eps);
        FASTCNN_CHECK(std::isfinite(momentum), fn, ": argument 'momentum' got ", momentum,
                      ", needed a finite number");
        DeviceArray scratch = workspace(batch_norm_workspace_bytes(L.N, L.C, L.S));
        py::gil_scoped_release nogil;
        batch_norm_forward(xp, gp, bp, rm, rv, yp, L.N, L.C, L.S, training, momentum, eps, scratch.data(), stream());
      },
      py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("running_mean"), py::arg("running_var"), py::arg("y"),
      py::arg("training"), py::arg("momentum"), py::arg("eps"),
      "batch norm of x (N,C,...) into y; training updates the running arrays");
  m.def(
      "batch_norm_backward",
      [](const DeviceArray& dy, const DeviceArray& x, const DeviceArray* gamma, const DeviceArray* running_mean,
         const DeviceArray* running_var, const DeviceArray& dx, const DeviceArray* dgamma, const DeviceArray* dbeta,
         bool training, double eps) {
        const char* fn = "batch_norm_backward";
        const ChannelLayout L = channel_layout(x, fn);
        check_like(dy, x, fn, "dy", "x");
        check_like(dx, x, fn, "dx", "x");
        const float* dyp = in(dy, fn, "dy");
        const float* xp = in(x, fn, "x");
        const float* gp = channel_in(gamma, L.C, fn, "gamma");
        const float* rm = channel_in(running_mean, L.C, fn, "running_mean");
        const float* rv = channel_in(running_var, L.C, fn, "running_var");
        float* dxp = out(dx, fn, "dx");
        float* dgp = channel_out(dgamma, L.C, fn, "dgamma");
        float* dbp = channel_out(dbeta, L.C, fn, "dbeta");
        check_bn(fn, L, training, rm, rv, eps);
        DeviceArray scratch = workspace(batch_norm_workspace_bytes(L.N, L.C, L.S));
        py::gil_scoped_release nogil;
        batch_norm_backward(dyp, xp, gp, rm, rv, dxp, dgp, dbp, L.N, L.C, L.S, training, eps, scratch.data(),
                            stream());
      },
      py::arg("dy"), py::arg("x"), py::arg("gamma"), py::arg("running_mean"), py::arg("running_var"), py::arg("dx"),
      py::arg("dgamma"), py::arg("dbeta"), py::arg("training"), py::arg("eps"),
      "gradients of batch norm into dx, dgamma, dbeta (None: not wanted)");
  m.def(
      "local_response_norm_forward",
      [](const DeviceArray& x, const DeviceArray& y, int64_t size, double alpha, double beta, double k) {
        const char* fn = "local_response_norm";
        const ChannelLayout L = channel_layout(x, fn);
        check_like(y, x, fn, "y", "x");
        const float* xp = in(x, fn, "x");
        float* yp = out(y, fn, "y");
        check_lrn_size(fn, size);
        py::gil_scoped_release nogil;
        local_response_norm_forward(xp, yp, L.N, L.C, L.S, size, static_cast<float>(alpha), static_cast<float>(beta),
                                    static_cast<float>(k), stream());
      },
      py::arg("x"), py::arg("y"), py::arg("size"), py::arg("alpha"), py::arg("beta"), py::arg("k"),
      "local response norm across the channels of x (N,C,...) into y");
  m.def(
      "local_response_norm_backward",
      [](const DeviceArray& dy, const DeviceArray& x, const DeviceArray& dx, int64_t size, double alpha, double beta,
         double k) {
        const char* fn = "local_response_norm_backward";
        const ChannelLayout L = channel_layout(x, fn);
        check_like(dy, x, fn, "dy", "x");
        check_like(dx, x, fn, "dx", "x");
        const float* dyp = in(dy, fn, "dy");
        const float* xp = in(x, fn, "x");
        float* dxp = out(dx, fn, "dx");
        check_lrn_size(fn, size);
        py::gil_scoped_release nogil;
        local_response_norm_backward(dyp, xp, dxp, L.N, L.C, L.S, size, static_cast<float>(alpha),
                                     static_cast<float>(beta), static_cast<float>(k), stream());
      },
      py::arg("dy"), py::arg("x"), py::arg("dx"), py::arg("size"), py::arg("alpha"), py::arg("beta"), py::arg("k"),
      "gradient of local response norm into dx");
}

}  // namespace fastcnn::cuda::bind
