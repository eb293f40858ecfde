// Tensor helpers on device arrays for the Python layer (kernels in kernels/tensor.cu): add, scale,
// concat/split along an axis, row gathers for batches of a data set kept on the device, and
// accumulators that let metrics and losses stay on the device until an epoch ends.
#include <string>
#include <vector>

#include "cuda/bindings/bind_util.h"
#include "cuda/kernels/tensor.h"

namespace fastcnn::cuda::bind {

namespace {

int normalize_axis(int axis, int ndim, const char* fn) {
  FASTCNN_CHECK(-ndim <= axis && axis < ndim, fn, ": argument 'axis' got ", axis, ", needed an axis of a ", ndim,
                "-d array (", -ndim, " <= axis < ", ndim, ")");
  return axis < 0 ? axis + ndim : axis;
}

int64_t prod(const std::vector<int64_t>& shape, int begin, int end) {
  int64_t n = 1;
  for (int i = begin; i < end; ++i) n *= shape[static_cast<std::size_t>(i)];
  return n;
}

// Shape of `whole` with extent `extent` on axis `axis`.
std::vector<int64_t> with_extent(std::vector<int64_t> shape, int axis, int64_t extent) {
  shape[static_cast<std::size_t>(axis)] = extent;
  return shape;
}

std::string extents_str(const std::vector<int64_t>& s) {
  std::string r = "(";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

// Checks that the parts fit `whole` along `axis` (same dtype, same extents elsewhere, extents adding
// up) and copies each part to or from its slab of whole. parts_name/whole_name are the arguments.
void concat_or_split(const std::vector<DeviceArray>& parts, int axis, const DeviceArray& whole, bool to_whole,
                     const char* fn, const char* parts_name, const char* whole_name) {
  FASTCNN_CHECK(!parts.empty(), fn, ": argument '", parts_name, "' is empty, needed at least one array");
  int nd = whole.ndim();
  axis = normalize_axis(axis, nd, fn);
  int64_t total = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const DeviceArray& p = parts[i];
    std::string name = std::string(parts_name) + "[" + std::to_string(i) + "]";
    check_dtype(p, whole.dtype(), fn, name.c_str());
    FASTCNN_CHECK(p.ndim() == nd, fn, ": argument '", name, "' got shape ", shape_str(p), ", needed ", nd,
                  " dimensions like '", whole_name, "' ", shape_str(whole));
    FASTCNN_CHECK(p.shape() == with_extent(whole.shape(), axis, p.dim(axis)), fn, ": argument '", name,
                  "' got shape ", shape_str(p), ", needed the extents of '", whole_name, "' ", shape_str(whole),
                  " except on axis ", axis);
    total += p.dim(axis);
  }
  FASTCNN_CHECK(total == whole.dim(axis), fn, ": argument '", whole_name, "' got extent ", whole.dim(axis),
                " on axis ", axis, ", needed ", total, " (the sum of the parts)");
  int64_t outer = prod(whole.shape(), 0, axis);
  int64_t inner_bytes = prod(whole.shape(), axis + 1, nd) * static_cast<int64_t>(dtype_size(whole.dtype()));
  int64_t whole_pitch = whole.dim(axis) * inner_bytes;
  py::gil_scoped_release nogil;
  cudaStream_t s = stream();
  int64_t offset = 0;  // bytes into a row of whole
  for (const DeviceArray& p : parts) {
    int64_t width = p.dim(axis) * inner_bytes;
    char* slab = static_cast<char*>(whole.data()) + offset;
    if (to_whole) {
      copy_2d(slab, whole_pitch, p.data(), width, width, outer, s);
    } else {
      copy_2d(p.data(), width, slab, whole_pitch, width, outer, s);
    }
    offset += width;
  }
}

// The (1,) or () float32 accumulator of the metric/loss helpers.
float* scalar_out(const DeviceArray& a, const char* fn, const char* name) {
  FASTCNN_CHECK(a.size() == 1, fn, ": argument '", name, "' got shape ", shape_str(a),
                ", needed a single-element float32 array");
  return out(a, fn, name);
}

// Checks src/idx/out of the gathers; returns (M, L, B).
struct Gather {
  int64_t M, L, B;
};
Gather check_gather(const DeviceArray& src, const DeviceArray& idx, const DeviceArray& y, const char* fn) {
  FASTCNN_CHECK(src.ndim() >= 1, fn, ": argument 'src' is 0-d, needed rows along axis 0");
  check_dtype(idx, DType::int64, fn, "idx");
  check_shape(idx, fn, "idx", {-1});
  std::vector<int64_t> want = with_extent(src.shape(), 0, idx.dim(0));
  FASTCNN_CHECK(y.shape() == want, fn, ": argument 'out' got shape ", shape_str(y), ", needed ", extents_str(want));
  return {src.dim(0), prod(src.shape(), 1, src.ndim()), idx.dim(0)};
}

}  // namespace

void bind_tensor(py::module_& m) {
  m.def(
      "add",
      [](const DeviceArray& a, const DeviceArray& b, const DeviceArray& y) {
        const float* pa = in(a, "add", "a");
        const float* pb = in(b, "add", "b");
        float* py_ = out(y, "add", "out");
        check_same_shape(b, a, "add", "b");
        check_same_shape(y, a, "add", "out");
        py::gil_scoped_release nogil;
        add(pa, pb, py_, a.size(), stream());
      },
      py::arg("a"), py::arg("b"), py::arg("out"), "out = a + b (out may be a itself)");

  m.def(
      "scale",
      [](const DeviceArray& x, float alpha, const DeviceArray& y) {
        const float* px = in(x, "scale", "x");
        float* py_ = out(y, "scale", "out");
        check_same_shape(y, x, "scale", "out");
        py::gil_scoped_release nogil;
        scale(px, alpha, py_, x.size(), stream());
      },
      py::arg("x"), py::arg("alpha"), py::arg("out"), "out = alpha * x (out may be x itself)");

  m.def(
      "concat",
      [](const std::vector<DeviceArray>& arrays, int axis, const DeviceArray& y) {
        concat_or_split(arrays, axis, y, true, "concat", "arrays", "out");
      },
      py::arg("arrays"), py::arg("axis"), py::arg("out"), "out = the arrays joined along axis");

  m.def(
      "split",
      [](const DeviceArray& x, int axis, const std::vector<DeviceArray>& outs) {
        concat_or_split(outs, axis, x, false, "split", "outs", "x");
      },
      py::arg("x"), py::arg("axis"), py::arg("outs"), "outs = consecutive slabs of x along axis");

  m.def(
      "take_rows",
      [](const DeviceArray& src, const DeviceArray& idx, const DeviceArray& y, float scale) {
        Gather g = check_gather(src, idx, y, "take_rows");
        float* py_ = out(y, "take_rows", "out");
        FASTCNN_CHECK(src.dtype() == DType::uint8 || src.dtype() == DType::float32, "take_rows: argument 'src' got dtype ",
                      dtype_name(src.dtype()), ", needed uint8 or float32");
        py::gil_scoped_release nogil;
        if (src.dtype() == DType::uint8) {
          take_rows_u8(src.ptr<const uint8_t>(), g.M, g.L, idx.ptr<const int64_t>(), g.B, scale, py_, stream());
        } else {
          take_rows_f32(src.ptr<const float>(), g.M, g.L, idx.ptr<const int64_t>(), g.B, scale, py_, stream());
        }
      },
      py::arg("src"), py::arg("idx"), py::arg("out"), py::arg("scale") = 1.0f,
      "out[b] = float32(src[idx[b]]) * scale; indices outside [0, len(src)) give NaN rows");

  m.def(
      "take_labels",
      [](const DeviceArray& src, const DeviceArray& idx, const DeviceArray& y) {
        Gather g = check_gather(src, idx, y, "take_labels");
        FASTCNN_CHECK(src.dtype() == DType::int64 || src.dtype() == DType::float32,
                      "take_labels: argument 'src' got dtype ", dtype_name(src.dtype()), ", needed int64 or float32");
        check_dtype(y, src.dtype(), "take_labels", "out");
        py::gil_scoped_release nogil;
        if (src.dtype() == DType::int64) {
          take_labels_i64(src.ptr<const int64_t>(), g.M, g.L, idx.ptr<const int64_t>(), g.B, y.ptr<int64_t>(),
                          stream());
        } else {
          take_labels_f32(src.ptr<const float>(), g.M, g.L, idx.ptr<const int64_t>(), g.B, y.ptr<float>(), stream());
        }
      },
      py::arg("src"), py::arg("idx"), py::arg("out"),
      "out[b] = src[idx[b]]; indices outside [0, len(src)) give -1 (int64) or NaN (float32)");

  m.def(
      "argmax_hits",
      [](const DeviceArray& logits, const DeviceArray& labels, const DeviceArray& count) {
        const float* pl = in(logits, "argmax_hits", "logits");
        check_shape(logits, "argmax_hits", "logits", {-1, -1});
        int64_t N = logits.dim(0), K = logits.dim(1);
        FASTCNN_CHECK(K >= 1 || N == 0, "argmax_hits: argument 'logits' got shape ", shape_str(logits),
                      ", needed at least one class");
        float* pc = scalar_out(count, "argmax_hits", "count");
        bool onehot = labels.dtype() == DType::float32;
        if (onehot) {
          check_same_shape(labels, logits, "argmax_hits", "labels");
        } else {
          check_dtype(labels, DType::int64, "argmax_hits", "labels");
          check_shape(labels, "argmax_hits", "labels", {N});
        }
        py::gil_scoped_release nogil;
        if (onehot) {
          argmax_hits_onehot(pl, labels.ptr<const float>(), N, K, pc, stream());
        } else {
          argmax_hits(pl, labels.ptr<const int64_t>(), N, K, pc, stream());
        }
      },
      py::arg("logits"), py::arg("labels"), py::arg("count"),
      "count += number of rows of logits (N,K) whose argmax is the label (labels int64 (N,) or float32 "
      "targets (N,K) compared by argmax)");

  m.def(
      "sum_into",
      [](const DeviceArray& x, const DeviceArray& acc) {
        const float* px = in(x, "sum_into", "x");
        float* pa = scalar_out(acc, "sum_into", "out");
        py::gil_scoped_release nogil;
        sum_into(px, x.size(), pa, stream());
      },
      py::arg("x"), py::arg("out"), "out += sum(x) (out has one element; deterministic)");
}

}  // namespace fastcnn::cuda::bind
