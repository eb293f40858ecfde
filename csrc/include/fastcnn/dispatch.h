// CPU dispatch, the way ATen does it: each file in cpu/kernels (and cpu/gemm) is compiled once per
// ISA into namespace fastcnn::cpu::<isa>; ops pick one with FASTCNN_DISPATCH(fn)(args...).
//
// Recipe — declaring the kernels of a family (csrc/cpu/kernels/<fam>.h):
//   #define FASTCNN_FOO_KERNELS  (continued with backslashes)
//     void foo_forward(const float* x, float* y, int64_t n);   (each line but the last ends with a backslash)
//     void foo_backward(const float* dy, const float* x, float* dx, int64_t n);
//   FASTCNN_DECLARE_KERNELS(FASTCNN_FOO_KERNELS)
// and defining them (csrc/cpu/kernels/<fam>.cpp):
//   namespace fastcnn::cpu::FASTCNN_ISA_NAME { void foo_forward(...) { ... } }
//
// Built ISAs: baseline everywhere; on x86-64 also avx2 (AVX2 + FMA) and avx512 (F/BW/VL/DQ, with
// AVX2 + FMA). Adding one: its flags in CMakeLists.txt, its namespace in the two macros below, its
// case in cpu_features.cpp.
#pragma once
#include <string>
#include <vector>

namespace fastcnn {

enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };

struct CpuFeatures {
  bool sse42 = false, avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool os_avx = false, os_avx512 = false;  // XGETBV: the OS saves the YMM / ZMM state
  std::string vendor, brand;
};

const CpuFeatures& cpu_features();
Isa active_isa();                       // chosen once, at first use
const char* isa_name(Isa isa);
std::vector<std::string> built_isas();  // ISAs compiled into this module
std::vector<std::string> cpu_isas();    // ISAs this CPU and OS can run

}  // namespace fastcnn

// Declares a family's kernels in every built ISA's namespace (FASTCNN_BUILT_<ISA> come from CMake;
// x86-64 builds all three, other architectures only the baseline).
#ifdef FASTCNN_BUILT_AVX512
#define FASTCNN_DECLARE_KERNELS(decls) \
  namespace fastcnn::cpu::baseline {   \
  decls                                \
  }                                    \
  namespace fastcnn::cpu::avx2 {       \
  decls                                \
  }                                    \
  namespace fastcnn::cpu::avx512 {     \
  decls                                \
  }
// The kernel of the ISA chosen at first use; well-predicted branches per call.
#define FASTCNN_DISPATCH(fn)                                                                   \
  (::fastcnn::active_isa() == ::fastcnn::Isa::avx512 ? &::fastcnn::cpu::avx512::fn           \
   : ::fastcnn::active_isa() == ::fastcnn::Isa::avx2 ? &::fastcnn::cpu::avx2::fn             \
                                                     : &::fastcnn::cpu::baseline::fn)
#else
#define FASTCNN_DECLARE_KERNELS(decls) \
  namespace fastcnn::cpu::baseline {   \
  decls                                \
  }
#define FASTCNN_DISPATCH(fn) (&::fastcnn::cpu::baseline::fn)
#endif
