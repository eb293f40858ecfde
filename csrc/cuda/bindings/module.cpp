// The CUDA extension module _C_cuda: device arrays and the runtime (status, stream, precision,
// memory). Op families bind their kernels in bindings/<fam>.cpp under the same names, argument
// order and argument names as the CPU module _C, with DeviceArray in place of numpy arrays.
// Imported lazily by fastcnn.cuda: importing works without a driver; status() says why not.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/bindings/bind_util.h"
#include "cuda/kernels/tensor.h"

#ifndef FASTCNN_CUDA_ARCHS
#define FASTCNN_CUDA_ARCHS "unknown"
#endif
#ifndef FASTCNN_NVCC_VERSION
#define FASTCNN_NVCC_VERSION "unknown"
#endif

namespace fastcnn::cuda::bind {

void bind_tensor(py::module_& m);
void bind_conv(py::module_& m);
void bind_linear(py::module_& m);
void bind_pool(py::module_& m);
void bind_act(py::module_& m);
void bind_norm(py::module_& m);
void bind_loss(py::module_& m);
void bind_optim(py::module_& m);

namespace {

// numpy dtype -> DType; false for anything else (including non-native byte order).
bool dtype_of(const py::dtype& dt, DType* t) {
  if (!dt.attr("isnative").cast<bool>()) return false;
  char kind = dt.kind();
  auto size = dt.itemsize();
  if (kind == 'f' && size == 4) return *t = DType::float32, true;
  if (kind == 'u' && size == 1) return *t = DType::uint8, true;
  if (kind == 'i' && size == 4) return *t = DType::int32, true;
  if (kind == 'i' && size == 8) return *t = DType::int64, true;
  return false;
}

constexpr const char* kDTypes = "float32, uint8, int32 or int64";

DType parse_dtype(const py::object& o, const char* fn) {
  DType t;
  py::dtype dt;
  try {
    dt = py::dtype::from_args(o);
  } catch (const py::error_already_set&) {
    fail(fn, ": argument 'dtype' got ", std::string(py::repr(o)), ", needed ", kDTypes);
  }
  FASTCNN_CHECK(dtype_of(dt, &t), fn, ": argument 'dtype' got ", std::string(py::str(dt)), ", needed ", kDTypes);
  return t;
}

// An int or a sequence of ints, each >= 0.
std::vector<int64_t> parse_shape(const py::object& o, const char* fn) {
  std::vector<int64_t> shape;
  try {
    if (py::isinstance<py::int_>(o)) {
      shape.push_back(o.cast<int64_t>());
    } else {
      shape = o.cast<std::vector<int64_t>>();
    }
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(fn) + ": argument 'shape' got " + std::string(py::repr(o)) +
                         ", needed a tuple of ints");
  }
  for (int64_t s : shape) FASTCNN_CHECK(s >= 0, fn, ": argument 'shape' got a negative extent ", s);
  return shape;
}

// A C-contiguous ndarray of a device dtype.
py::array host_array(const py::object& o, const char* fn, const char* name, DType* t) {
  if (!py::isinstance<py::array>(o)) {
    throw py::type_error(std::string(fn) + ": argument '" + name + "' got " +
                         std::string(py::str(py::type::of(o).attr("__name__"))) + ", needed a numpy.ndarray");
  }
  auto a = py::reinterpret_borrow<py::array>(o);
  FASTCNN_CHECK(dtype_of(a.dtype(), t), fn, ": argument '", name, "' got dtype ", std::string(py::str(a.dtype())),
                ", needed ", kDTypes);
  FASTCNN_CHECK(a.flags() & py::array::c_style, fn, ": argument '", name, "' is not C-contiguous");
  return a;
}

std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

py::tuple shape_tuple(const DeviceArray& a) {
  py::tuple t(a.ndim());
  for (int i = 0; i < a.ndim(); ++i) t[static_cast<std::size_t>(i)] = a.dim(i);
  return t;
}

py::array to_numpy(const DeviceArray& a) {
  py::array h(py::dtype(dtype_name(a.dtype())), std::vector<py::ssize_t>(a.shape().begin(), a.shape().end()));
  void* dst = h.mutable_data();
  py::gil_scoped_release nogil;
  a.download(dst, a.nbytes());
  return h;
}

DeviceArray getitem(const DeviceArray& a, const py::object& key) {
  if (!py::isinstance<py::slice>(key)) {
    throw py::type_error("DeviceArray indices must be slices along axis 0 (a[i:j]), got " +
                         std::string(py::str(py::type::of(key).attr("__name__"))));
  }
  FASTCNN_CHECK(a.ndim() >= 1, "DeviceArray: a 0-d array cannot be sliced");
  py::ssize_t start, stop, step, length;
  if (!py::reinterpret_borrow<py::slice>(key).compute(a.dim(0), &start, &stop, &step, &length)) {
    throw py::error_already_set();
  }
  FASTCNN_CHECK(step == 1, "DeviceArray: slice step ", step, " is not supported, only step 1 (a view of rows)");
  return a.rows(start, start + length);
}

std::string repr(const DeviceArray& a) {
  return "DeviceArray(shape=" + shape_str(a) + ", dtype=" + dtype_name(a.dtype()) + ", device=cuda:" +
         std::to_string(a.device()) + ")";
}

void fill_value(const DeviceArray& a, const py::object& value) {
  // The element's bytes: a float32, or an integer that the dtype holds (truncated like int()).
  uint64_t pattern = 0;
  try {
    if (a.dtype() == DType::float32) {
      float f = value.cast<float>();
      std::memcpy(&pattern, &f, sizeof f);
    } else {
      long long v = py::int_(value).cast<long long>();
      long long lo = a.dtype() == DType::uint8 ? 0 : a.dtype() == DType::int32 ? INT32_MIN : INT64_MIN;
      long long hi = a.dtype() == DType::uint8 ? 255 : a.dtype() == DType::int32 ? INT32_MAX : INT64_MAX;
      FASTCNN_CHECK(lo <= v && v <= hi, "fill: argument 'value' got ", v, ", outside the range of ",
                    dtype_name(a.dtype()));
      std::memcpy(&pattern, &v, sizeof v);  // little-endian: the low bytes are the element
    }
  } catch (const py::error_already_set&) {
    fail("fill: argument 'value' got ", std::string(py::repr(value)), ", needed a number");
  } catch (const py::cast_error&) {
    fail("fill: argument 'value' got ", std::string(py::repr(value)), ", needed a ", dtype_name(a.dtype()));
  }
  void* dst = a.data();
  py::gil_scoped_release nogil;
  fill(dst, a.size(), static_cast<int>(dtype_size(a.dtype())), pattern, stream());
}

Precision parse_precision(const std::string& p) {
  if (p == "fp32") return Precision::fp32;
  if (p == "tf32") return Precision::tf32;
  if (p == "bf16") return Precision::bf16;
  fail("set_precision: argument 'precision' got '", p, "', needed 'fp32', 'tf32' or 'bf16'");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::bf16: return "bf16";
  }
  return "?";
}

std::string version_str(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace
}  // namespace fastcnn::cuda::bind

PYBIND11_MODULE(_C_cuda, m) {
  using namespace fastcnn::cuda;
  using namespace fastcnn::cuda::bind;
  m.doc() = "fastcnn CUDA kernels and device arrays";

  py::class_<DeviceArray>(m, "DeviceArray", "A C-contiguous array in device memory (made by empty/to_device)")
      .def_property_readonly("shape", &shape_tuple)
      .def_property_readonly("dtype", [](const DeviceArray& a) { return py::dtype(dtype_name(a.dtype())); })
      .def_property_readonly("ndim", &DeviceArray::ndim)
      .def_property_readonly("size", &DeviceArray::size)
      .def_property_readonly("nbytes", &DeviceArray::nbytes)
      .def_property_readonly("device", &DeviceArray::device)
      .def("__len__",
           [](const DeviceArray& a) {
             if (a.ndim() == 0) throw py::type_error("len() of a 0-d DeviceArray");
             return a.dim(0);
           })
      .def("numpy", &to_numpy, "A new numpy array with the contents (waits for queued work)")
      .def(
          "reshape",
          [](const DeviceArray& a, const py::args& args) {
            // a.reshape((2, 3)) or a.reshape(2, 3), as numpy
            py::object shape = args.size() == 1 && !py::isinstance<py::int_>(args[0]) ? args[0] : py::object(args);
            std::vector<int64_t> s;
            try {
              s = shape.cast<std::vector<int64_t>>();
            } catch (const py::cast_error&) {
              throw py::type_error("reshape: argument 'shape' got " + std::string(py::repr(shape)) +
                                   ", needed a tuple of ints");
            }
            return a.reshape(std::move(s));
          },
          "A view with a new shape (one extent may be -1)")
      .def("__getitem__", &getitem, py::arg("key"), "a[i:j]: a view of rows i..j-1 (step 1; bounds clamped as numpy)")
      .def("__repr__", &repr);

  m.def(
      "empty",
      [](const py::object& shape, const py::object& dtype) {
        return DeviceArray(parse_shape(shape, "empty"), parse_dtype(dtype, "empty"));
      },
      py::arg("shape"), py::arg("dtype") = "float32", "An uninitialized device array");
  m.def(
      "to_device",
      [](const py::object& array) {
        DType t;
        py::array h = host_array(array, "to_device", "array", &t);
        DeviceArray a(shape_of(h), t);
        const void* src = h.data();
        py::gil_scoped_release nogil;
        a.upload(src, a.nbytes());
        return a;
      },
      py::arg("array"), "A device copy of a C-contiguous float32/uint8/int32/int64 ndarray");
  m.def(
      "upload",
      [](const DeviceArray& dst, const py::object& array) {
        DType t;
        py::array h = host_array(array, "upload", "array", &t);
        FASTCNN_CHECK(t == dst.dtype(), "upload: argument 'array' got dtype ", dtype_name(t), ", needed ",
                      dtype_name(dst.dtype()), " like 'dst'");
        FASTCNN_CHECK(shape_of(h) == dst.shape(), "upload: argument 'array' got shape ",
                      std::string(py::str(py::tuple(h.attr("shape")))), ", needed ", shape_str(dst), " like 'dst'");
        const void* src = h.data();
        DeviceArray d = dst;
        py::gil_scoped_release nogil;
        d.upload(src, d.nbytes());
      },
      py::arg("dst"), py::arg("array"), "Copy a host ndarray into an existing device array (same shape and dtype)");
  m.def(
      "copy",
      [](const DeviceArray& src, const DeviceArray& dst) {
        check_dtype(dst, src.dtype(), "copy", "dst");
        check_same_shape(dst, src, "copy", "dst");
        if (src.nbytes() == 0) return;
        py::gil_scoped_release nogil;
        FASTCNN_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), src.nbytes(), cudaMemcpyDeviceToDevice, stream()));
      },
      py::arg("src"), py::arg("dst"), "dst = src (same shape and dtype)");
  m.def("fill", &fill_value, py::arg("dst"), py::arg("value"), "Set every element of dst to value");

  m.def(
      "status",
      []() -> py::tuple {
        try {
          const Status& s = status();
          return py::make_tuple(s.available, s.reason);
        } catch (const std::exception& e) {
          return py::make_tuple(false, std::string("CUDA status query failed: ") + e.what());
        }
      },
      "(available, reason): whether CUDA kernels can run here, and why not (never raises)");
  m.def("is_available", [] { return status().available; });
  m.def("device_count", &device_count, "Number of CUDA devices (0 without a driver)");
  m.def(
      "synchronize", [] { synchronize(); }, py::call_guard<py::gil_scoped_release>(),
      "Wait for all queued work on the current device");
  m.def(
      "set_precision", [](const std::string& p) { set_precision(parse_precision(p)); }, py::arg("precision"),
      "Math precision of convolution and linear layers: 'fp32', 'tf32' or 'bf16'");
  m.def("get_precision", [] { return std::string(precision_name(precision())); });
  m.def(
      "memory_info",
      [] {
        MemoryStats st = memory_stats();
        std::size_t free_b = 0, total_b = 0;
        FASTCNN_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
        py::dict d;
        d["in_use_bytes"] = st.in_use_bytes;
        d["cached_bytes"] = st.cached_bytes;
        d["device_mallocs"] = st.device_mallocs;
        d["free_bytes"] = free_b;
        d["total_bytes"] = total_b;
        return d;
      },
      "Caching allocator counters and the device's free/total memory (bytes)");
  m.def("empty_cache", &empty_cache, py::call_guard<py::gil_scoped_release>(),
        "Return cached device blocks to CUDA");
  m.def(
      "build_info",
      [] {
        py::dict d;
        d["version"] = FASTCNN_VERSION;
        d["cuda_runtime"] = version_str(CUDART_VERSION);
        d["nvcc"] = FASTCNN_NVCC_VERSION;
        d["archs"] = FASTCNN_CUDA_ARCHS;
        int driver = 0;
        if (cudaDriverGetVersion(&driver) != cudaSuccess) cudaGetLastError();
        d["driver"] = driver ? py::object(py::str(version_str(driver))) : py::object(py::none());
        return d;
      },
      "Build facts: CUDA runtime and nvcc versions, compiled archs, the driver's CUDA version (None without one)");

  bind_tensor(m);
  bind_conv(m);
  bind_linear(m);
  bind_pool(m);
  bind_act(m);
  bind_norm(m);
  bind_loss(m);
  bind_optim(m);
}
