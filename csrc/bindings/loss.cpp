// _C.cross_entropy_*: the target is class ids (int64, (N,)) or probabilities (float32, (N,K)).
#include "bind_util.h"
#include "ops/loss.h"

namespace fastcnn::bind {

namespace {

struct Target {
  const int64_t* ids = nullptr;
  const float* probs = nullptr;
};

Target target_of(const py::array& target, int64_t N, int64_t K, const char* fn) {
  Target t;
  if (target.ndim() == 1) {
    FASTCNN_CHECK(target.dtype().is(py::dtype::of<int64_t>()) &&
                      (target.flags() & py::array::c_style),
                  fn, ": argument 'target' got dtype ", std::string(py::str(target.dtype())),
                  ", needed C-contiguous int64 class ids");
    check_shape(target, fn, "target", {N});
    t.ids = static_cast<const int64_t*>(target.data());
  } else {
    check_shape(target, fn, "target", {N, K});
    t.probs = in(target, fn, "target");
  }
  return t;
}

}  // namespace

void bind_loss(py::module_& m) {
  m.def(
      "cross_entropy_forward",
      [](py::array logits, py::array target) {
        const char* fn = "cross_entropy";
        check_shape(logits, fn, "logits", {-1, -1});
        const int64_t N = logits.shape(0), K = logits.shape(1);
        const Target t = target_of(target, N, K, fn);
        const float* z = in(logits, fn, "logits");
        py::gil_scoped_release nogil;
        return ops::cross_entropy_forward(z, t.ids, t.probs, N, K);
      },
      py::arg("logits"), py::arg("target"), "mean softmax cross-entropy over the rows");
  m.def(
      "cross_entropy_backward",
      [](py::array logits, py::array target, py::array dlogits) {
        const char* fn = "cross_entropy_backward";
        check_shape(logits, fn, "logits", {-1, -1});
        const int64_t N = logits.shape(0), K = logits.shape(1);
        const Target t = target_of(target, N, K, fn);
        check_shape(dlogits, fn, "dlogits", {N, K});
        const float* z = in(logits, fn, "logits");
        float* dz = out(dlogits, fn, "dlogits");
        py::gil_scoped_release nogil;
        ops::cross_entropy_backward(z, t.ids, t.probs, dz, N, K);
      },
      py::arg("logits"), py::arg("target"), py::arg("dlogits"),
      "gradient of the mean loss with respect to the logits, into dlogits");
  m.def(
      "cross_entropy_forward_backward",
      [](py::array logits, py::array target, py::array dlogits) {
        const char* fn = "cross_entropy_forward_backward";
        check_shape(logits, fn, "logits", {-1, -1});
        const int64_t N = logits.shape(0), K = logits.shape(1);
        FASTCNN_CHECK(target.ndim() == 1, fn, ": argument 'target' got shape ", shape_str(target),
                      ", needed (", N, ",) int64 class ids (probabilities: the separate calls)");
        const Target t = target_of(target, N, K, fn);
        check_shape(dlogits, fn, "dlogits", {N, K});
        const float* z = in(logits, fn, "logits");
        float* dz = out(dlogits, fn, "dlogits");
        // the kernel writes a row of dz while it still reads that row of z
        const auto* zb = reinterpret_cast<const char*>(z);
        const auto* db = reinterpret_cast<const char*>(dz);
        const py::ssize_t bytes = logits.nbytes();
        FASTCNN_CHECK(bytes == 0 || db + bytes <= zb || zb + bytes <= db, fn,
                      ": argument 'dlogits' got an array that overlaps 'logits', needed a separate array");
        int64_t hits = 0;
        double loss;
        {
          py::gil_scoped_release nogil;
          loss = ops::cross_entropy_forward_backward(z, t.ids, dz, N, K, &hits);
        }
        return py::make_tuple(loss, hits);
      },
      py::arg("logits"), py::arg("target"), py::arg("dlogits"),
      "(mean loss, hits) and the gradient into dlogits, for class ids in one pass: the values of "
      "cross_entropy_forward and cross_entropy_backward; hits counts the rows whose argmax (the "
      "first maximum, as numpy's) is the class id");
}

}  // namespace fastcnn::bind
