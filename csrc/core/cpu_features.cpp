// CPU feature detection (cpuid + XGETBV) and the choice of the kernel ISA.
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "fastcnn/common.h"
#include "fastcnn/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#define FASTCNN_X86 1
#endif

namespace fastcnn {

namespace {

#ifdef FASTCNN_X86
unsigned long long xgetbv0() {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef FASTCNN_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned max_leaf = a;
  char vendor[13] = {0};
  std::memcpy(vendor + 0, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  f.vendor = vendor;
  __get_cpuid(1, &a, &b, &c, &d);
  f.sse42 = c & (1u << 20);
  f.fma = c & (1u << 12);
  const bool osxsave = c & (1u << 27);
  f.avx = c & (1u << 28);
  if (osxsave) {
    const unsigned long long xcr0 = xgetbv0();
    f.os_avx = (xcr0 & 0x6) == 0x6;         // bits 1, 2: XMM and YMM state
    f.os_avx512 = (xcr0 & 0xe6) == 0xe6;    // plus bits 5, 6, 7: opmask, ZMM_Hi256, Hi16_ZMM
  }
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = b & (1u << 5);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
  }
  unsigned ext = 0;  // __get_cpuid leaves it unset when the extended leaves are absent
  if (__get_cpuid(0x80000000, &ext, &b, &c, &d) && ext >= 0x80000004) {
    char brand[49] = {0};
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002 + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i + 0, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    f.brand = brand;
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
  }
#endif
  return f;
}

bool cpu_can_run(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::baseline: return true;
    case Isa::avx2: return f.avx && f.avx2 && f.fma && f.os_avx;
    case Isa::avx512:  // its objects are built with -mavx2 -mfma as well
      return cpu_can_run(Isa::avx2) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
             f.os_avx512;
  }
  return false;
}

bool is_built(Isa isa) {
  for (const std::string& s : built_isas())
    if (s == isa_name(isa)) return true;
  return false;
}

Isa choose() {
  const char* env = std::getenv("FASTCNN_ISA");
  const Isa all[] = {Isa::avx512, Isa::avx2, Isa::baseline};
  if (env && *env) {
    std::string want = env;
    if (want == "scalar") want = "baseline";
    for (Isa isa : all) {
      if (want != isa_name(isa)) continue;
      std::ostringstream have;
      for (const std::string& s : cpu_isas()) have << " " << s;
      FASTCNN_CHECK(cpu_can_run(isa), "FASTCNN_ISA=", env, ": this CPU cannot run it; it has:", have.str());
      FASTCNN_CHECK(is_built(isa), "FASTCNN_ISA=", env, ": not built into this module (built: ",
                    FASTCNN_BUILT_ISAS, ")");
      return isa;
    }
    fail("FASTCNN_ISA=", env, ": unknown; needed one of scalar, baseline, avx2, avx512");
  }
  for (Isa isa : all)
    if (cpu_can_run(isa) && is_built(isa)) return isa;
  return Isa::baseline;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::baseline: return "baseline";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

std::vector<std::string> built_isas() {
  std::vector<std::string> out;
  std::stringstream ss(FASTCNN_BUILT_ISAS);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

std::vector<std::string> cpu_isas() {
  std::vector<std::string> out;
  for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (cpu_can_run(isa)) out.push_back(isa_name(isa));
  return out;
}

Isa active_isa() {
  static const Isa isa = choose();
  return isa;
}

}  // namespace fastcnn
