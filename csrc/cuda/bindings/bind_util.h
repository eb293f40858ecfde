// Helpers for the CUDA module's pybind11 front, the counterpart of csrc/bindings/bind_util.h:
// arrays arrive as DeviceArray (Python already checked devices and shapes); these re-check dtype
// and shape and return raw device pointers, naming the argument when something is off.
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <initializer_list>
#include <sstream>
#include <string>

#include "cuda/device_array.h"
#include "fastcnn/common.h"

namespace py = pybind11;

namespace fastcnn::cuda::bind {

inline std::string shape_str(const DeviceArray& a) {
  std::ostringstream os;
  os << "(";
  for (int i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.dim(i);
  os << (a.ndim() == 1 ? ",)" : ")");
  return os.str();
}

inline void check_dtype(const DeviceArray& a, DType t, const char* fn, const char* name) {
  FASTCNN_CHECK(a.dtype() == t, fn, ": argument '", name, "' got dtype ", dtype_name(a.dtype()), ", needed ",
                dtype_name(t));
}

// Checks ndim and, where given, each extent (-1 matches any extent).
inline void check_shape(const DeviceArray& a, const char* fn, const char* name,
                        std::initializer_list<int64_t> shape) {
  bool ok = a.ndim() == static_cast<int>(shape.size());
  int i = 0;
  for (int64_t s : shape) {
    if (!ok) break;
    ok = s < 0 || a.dim(i) == s;
    ++i;
  }
  if (!ok) {
    std::ostringstream want;
    want << "(";
    i = 0;
    for (int64_t s : shape) {
      want << (i++ ? ", " : "");
      if (s < 0) want << "*"; else want << s;
    }
    want << (shape.size() == 1 ? ",)" : ")");
    fail(fn, ": argument '", name, "' got shape ", shape_str(a), ", needed ", want.str());
  }
}

inline void check_same_shape(const DeviceArray& a, const DeviceArray& like, const char* fn, const char* name) {
  FASTCNN_CHECK(a.shape() == like.shape(), fn, ": argument '", name, "' got shape ", shape_str(a), ", needed ",
                shape_str(like));
}

inline const float* in(const DeviceArray& a, const char* fn, const char* name) {
  check_dtype(a, DType::float32, fn, name);
  return a.ptr<const float>();
}

inline float* out(const DeviceArray& a, const char* fn, const char* name) {
  check_dtype(a, DType::float32, fn, name);
  return a.ptr<float>();
}

// Optional array (None arrives as nullptr): nullptr when absent.
inline const float* in_opt(const DeviceArray* a, const char* fn, const char* name) {
  return a ? in(*a, fn, name) : nullptr;
}

}  // namespace fastcnn::cuda::bind
