// Helpers for the pybind11 front: every array arrives float32 and C-contiguous (functional.py makes
// it so); these re-check that and return raw pointers, naming the argument when something is off.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <initializer_list>
#include <sstream>
#include <string>

#include "fastcnn/common.h"

namespace py = pybind11;

namespace fastcnn::bind {

inline std::string shape_str(const py::array& a) {
  std::ostringstream os;
  os << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i);
  os << (a.ndim() == 1 ? ",)" : ")");
  return os.str();
}

inline void check_array(const py::array& a, const char* fn, const char* name) {
  FASTCNN_CHECK(a.dtype().is(py::dtype::of<float>()), fn, ": argument '", name, "' got dtype ",
                std::string(py::str(a.dtype())), ", needed float32");
  FASTCNN_CHECK(a.flags() & py::array::c_style, fn, ": argument '", name,
                "' is not C-contiguous, needed a C-contiguous float32 array");
}

// Checks ndim (and, when given, the exact shape; -1 matches any extent).
inline void check_shape(const py::array& a, const char* fn, const char* name,
                        std::initializer_list<py::ssize_t> shape) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  py::ssize_t i = 0;
  for (py::ssize_t s : shape) {
    if (!ok) break;
    ok = s < 0 || a.shape(i) == s;
    ++i;
  }
  if (!ok) {
    std::ostringstream want;
    want << "(";
    i = 0;
    for (py::ssize_t s : shape) {
      want << (i++ ? ", " : "");
      if (s < 0) want << "*"; else want << s;
    }
    want << (shape.size() == 1 ? ",)" : ")");
    fail(fn, ": argument '", name, "' got shape ", shape_str(a), ", needed ", want.str());
  }
}

inline const float* in(const py::array& a, const char* fn, const char* name) {
  check_array(a, fn, name);
  return static_cast<const float*>(a.data());
}

inline float* out(py::array& a, const char* fn, const char* name) {
  check_array(a, fn, name);
  FASTCNN_CHECK(a.writeable(), fn, ": argument '", name, "' is read-only, needed a writable array");
  return static_cast<float*>(a.mutable_data());
}

// Optional array (None allowed): nullptr when absent.
inline const float* in_opt(const py::object& o, const char* fn, const char* name) {
  if (o.is_none()) return nullptr;
  return in(o.cast<py::array>(), fn, name);
}

}  // namespace fastcnn::bind
