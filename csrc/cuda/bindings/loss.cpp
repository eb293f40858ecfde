// _C_cuda.cross_entropy_*: the names, arguments and checks of csrc/bindings/loss.cpp, with
// DeviceArrays. The target is class ids (int64, (N,)) or probabilities (float32, (N,K)).
// Unlike the CPU's cross_entropy_forward, which returns the loss as a Python float, the CUDA one
// returns it as a float32 device array (a new 0-d one, or the optional `loss` argument, any array
// of one element, written in place), so a training step never waits for the device; training sums
// its epoch loss with cross_entropy_sum_into. Class ids are not range-checked on the host (that
// would read them back): a row with an id outside [0, K) gives a NaN loss and a NaN gradient row.
#include "cuda/bindings/ops_util.h"
#include "cuda/kernels/loss.h"

namespace fastcnn::cuda::bind {

namespace {

struct Target {
  const int64_t* ids = nullptr;
  const float* probs = nullptr;
};

Target target_of(const DeviceArray& target, int64_t N, int64_t K, const char* fn) {
  Target t;
  if (target.ndim() == 1) {
    FASTCNN_CHECK(target.dtype() == DType::int64, fn, ": argument 'target' got dtype ", dtype_name(target.dtype()),
                  ", needed C-contiguous int64 class ids");
    check_shape(target, fn, "target", {N});
    t.ids = target.ptr<const int64_t>();
  } else {
    check_shape(target, fn, "target", {N, K});
    t.probs = in(target, fn, "target");
  }
  return t;
}

void check_classes(const char* fn, int64_t N, int64_t K) {
  checked_mul(N, K, fn);
  FASTCNN_CHECK(N == 0 || K >= 1, fn, ": argument 'logits' got 0 classes, needed at least 1");
}

}  // namespace

void bind_loss(py::module_& m) {
  m.def(
      "cross_entropy_forward",
      [](const DeviceArray& logits, const DeviceArray& target, const DeviceArray* loss) {
        const char* fn = "cross_entropy";
        check_shape(logits, fn, "logits", {-1, -1});
        const int64_t N = logits.dim(0), K = logits.dim(1);
        check_classes(fn, N, K);
        const Target t = target_of(target, N, K, fn);
        const float* z = in(logits, fn, "logits");
        DeviceArray result = loss ? *loss : DeviceArray({}, DType::float32);
        float* L = out(result, fn, "loss");
        FASTCNN_CHECK(result.size() == 1, fn, ": argument 'loss' got shape ", shape_str(result),
                      ", needed one element");
        DeviceArray scratch = workspace(cross_entropy_workspace_bytes(N));
        {
          py::gil_scoped_release nogil;
          cross_entropy_forward(z, t.ids, t.probs, L, N, K, scratch.data(), stream());
        }
        return result;
      },
      py::arg("logits"), py::arg("target"), py::arg("loss") = py::none(),
      "mean softmax cross-entropy over the rows into loss (one float32 element on the device; None: a new "
      "0-d array), returned");
  m.def(
      "cross_entropy_sum_into",
      [](const DeviceArray& logits, const DeviceArray& target, const DeviceArray& total, double weight) {
        const char* fn = "cross_entropy_sum_into";
        check_shape(logits, fn, "logits", {-1, -1});
        const int64_t N = logits.dim(0), K = logits.dim(1);
        check_classes(fn, N, K);
        const Target t = target_of(target, N, K, fn);
        check_shape(total, fn, "total", {1});
        const float* z = in(logits, fn, "logits");
        float* T = out(total, fn, "total");
        DeviceArray scratch = workspace(cross_entropy_workspace_bytes(N));
        py::gil_scoped_release nogil;
        cross_entropy_sum_into(z, t.ids, t.probs, T, weight, N, K, scratch.data(), stream());
      },
      py::arg("logits"), py::arg("target"), py::arg("total"), py::arg("weight"),
      "total[0] += weight * (the sum over the rows of the loss), on the device");
  m.def(
      "cross_entropy_backward",
      [](const DeviceArray& logits, const DeviceArray& target, const DeviceArray& dlogits) {
        const char* fn = "cross_entropy_backward";
        check_shape(logits, fn, "logits", {-1, -1});
        const int64_t N = logits.dim(0), K = logits.dim(1);
        check_classes(fn, N, K);
        const Target t = target_of(target, N, K, fn);
        check_shape(dlogits, fn, "dlogits", {N, K});
        const float* z = in(logits, fn, "logits");
        float* dz = out(dlogits, fn, "dlogits");
        py::gil_scoped_release nogil;
        cross_entropy_backward(z, t.ids, t.probs, dz, N, K, stream());
      },
      py::arg("logits"), py::arg("target"), py::arg("dlogits"),
      "gradient of the mean loss with respect to the logits, into dlogits");
}

}  // namespace fastcnn::cuda::bind
