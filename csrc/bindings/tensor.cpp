// _C.gather_rows: a batch of data-set rows gathered by index into a float32 buffer (training's batches).
// The host twin of the CUDA module's take_rows, with a divisor instead of a scale: fit's host batches
// have always been numpy's x.astype(np.float32) / 255, which a multiply by 1/255 does not reproduce.
#include <string>

#include "bind_util.h"
#include "ops/tensor.h"

namespace fastcnn::bind {

namespace {

bool overlaps(const py::array& a, const py::array& b) {
  const auto* pa = static_cast<const char*>(a.data());
  const auto* pb = static_cast<const char*>(b.data());
  return a.nbytes() > 0 && b.nbytes() > 0 && pa < pb + b.nbytes() && pb < pa + a.nbytes();
}

}  // namespace

void bind_tensor(py::module_& m) {
  m.def(
      "gather_rows",
      [](py::array src, py::array idx, py::array y, double divisor) {
        const char* fn = "gather_rows";
        const bool u8 = src.dtype().is(py::dtype::of<uint8_t>());
        FASTCNN_CHECK(u8 || src.dtype().is(py::dtype::of<float>()), fn, ": argument 'src' got dtype ",
                      std::string(py::str(src.dtype())), ", needed uint8 or float32");
        FASTCNN_CHECK(src.ndim() >= 1, fn, ": argument 'src' got a 0-d array, needed rows (M, ...)");
        FASTCNN_CHECK(src.flags() & py::array::c_style, fn,
                      ": argument 'src' is not C-contiguous, needed a C-contiguous array");
        FASTCNN_CHECK(idx.dtype().is(py::dtype::of<int64_t>()) && idx.ndim() == 1 &&
                          (idx.flags() & py::array::c_style),
                      fn, ": argument 'idx' got dtype ", std::string(py::str(idx.dtype())), " and shape ",
                      shape_str(idx), ", needed C-contiguous int64 row numbers (B,)");
        const int64_t M = src.shape(0), B = idx.shape(0);
        int64_t L = 1;
        bool same = y.ndim() == src.ndim() && y.shape(0) == B;
        for (py::ssize_t i = 1; i < src.ndim(); ++i) {
          L = checked_mul(L, src.shape(i), fn);
          same = same && y.shape(i) == src.shape(i);
        }
        float* out_p = out(y, fn, "out");
        if (!same) {
          std::string want = "(" + std::to_string(B);
          for (py::ssize_t i = 1; i < src.ndim(); ++i) want += ", " + std::to_string(src.shape(i));
          fail(fn, ": argument 'out' got shape ", shape_str(y), ", needed ", want,
               src.ndim() == 1 ? ",)" : ")", " (len(idx) rows of src)");
        }
        FASTCNN_CHECK(!overlaps(src, y), fn,
                      ": argument 'out' got an array that overlaps 'src', needed a separate array");
        const auto* ip = static_cast<const int64_t*>(idx.data());
        const float d = static_cast<float>(divisor);
        py::gil_scoped_release nogil;
        if (u8) {
          ops::gather_rows_u8(static_cast<const uint8_t*>(src.data()), M, L, ip, B, d, out_p);
        } else {
          ops::gather_rows_f32(static_cast<const float*>(src.data()), M, L, ip, B, d, out_p);
        }
      },
      py::arg("src"), py::arg("idx"), py::arg("out"), py::arg("divisor") = 1.0,
      "out[b] = float32(src[idx[b]]) / divisor (a true division: numpy's x.astype(np.float32) / divisor, "
      "bit for bit); src uint8 or float32 (M, ...), idx int64 rows in [0, M)");
}

}  // namespace fastcnn::bind
