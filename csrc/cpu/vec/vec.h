// Portable SIMD vectors (GCC/Clang vector extensions): one source for every ISA. Compiled with
// -mavx2 -mfma a F32x8 is one YMM register and `a * b + c` becomes an FMA; on the baseline build
// the compiler splits it into SSE halves. No raw intrinsics in kernel code: use these.
#pragma once
#include <cstring>

namespace fastcnn::vec {

typedef float F32x8 __attribute__((vector_size(32)));

static inline F32x8 load8(const float* p) {
  F32x8 v;
  std::memcpy(&v, p, sizeof v);  // an unaligned vector load
  return v;
}

static inline void store8(float* p, F32x8 v) { std::memcpy(p, &v, sizeof v); }

static inline F32x8 splat8(float a) { return F32x8{a, a, a, a, a, a, a, a}; }

}  // namespace fastcnn::vec
