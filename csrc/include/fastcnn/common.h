// Shared basics for every C++ file: errors, checked sizes, the kernel namespace macro.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace fastcnn {

using index_t = int64_t;

// Thrown for bad arguments; the bindings translate it to Python's ValueError.
struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

// FASTCNN_CHECK(cond, "conv2d: argument 'w' got ", x, ", needed ", y)
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  detail::append(os, args...);
  throw ValueError(os.str());
}
#define FASTCNN_CHECK(cond, ...)            \
  do {                                      \
    if (!(cond)) ::fastcnn::fail(__VA_ARGS__); \
  } while (0)

// Product of sizes with overflow detection (sizes come from Python and may be huge).
inline index_t checked_mul(index_t a, index_t b, const char* what) {
  index_t r;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) fail(what, ": size overflows 64-bit indexing");
  return r;
}

}  // namespace fastcnn
