// Portable SIMD vectors (GCC/Clang vector extensions): one source for every ISA. Compiled with
// -mavx2 -mfma a F32x8 is one YMM register and `a * b + c` becomes an FMA; on the baseline build
// the compiler splits it into SSE halves. No raw intrinsics in kernel code: use these.
//
// F32v is the widest vector worth using on the ISA being compiled (kLanes floats): a ZMM register
// (16 lanes) when the compiler targets AVX-512, else F32x8. Code that sizes its tiles by kLanes
// (the GEMM microkernel) gets 512-bit arithmetic in the avx512 objects from the same source.
// FASTCNN_LANES16 (CMake option FASTCNN_BASELINE_LANES16, for test builds only) gives the baseline
// objects the avx512 objects' 16 lanes and tiles, in SSE pieces: the avx512 path's tile logic then
// runs, and is checked under the sanitizers, on CPUs without AVX-512 (.ci/run).
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

#if defined(__AVX512F__) || defined(FASTCNN_LANES16)
constexpr int kLanes = 16;
#else
constexpr int kLanes = 8;
#endif
typedef float F32v __attribute__((vector_size(4 * kLanes)));

static inline F32v loadv(const float* p) {
  F32v v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

static inline void storev(float* p, F32v v) { std::memcpy(p, &v, sizeof v); }

static inline F32v splatv(float a) {
  return a - F32v{};  // a - 0 is a (-0 included): a broadcast
}

}  // namespace fastcnn::vec
