// Threading helpers. Every parallel loop splits work into pieces whose results do not depend on
// the number of threads: reductions use a fixed number of chunks, summed in a fixed order.
#pragma once
#include <cstdint>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastcnn {

int get_num_threads();
void set_num_threads(int n);

// Below this many elements, elementwise loops run on one thread (threading costs more than it saves).
constexpr int64_t kParallelGrain = 1 << 15;

// parallel_for(0, n, grain, [&](int64_t begin, int64_t end) { ... }): static contiguous blocks.
// The body must write disjoint outputs; results never depend on how [0,n) is split.
template <typename F>
inline void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
#ifdef _OPENMP
  if (n > grain && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel
    {
      const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t chunk = (n + nt - 1) / nt;
      const int64_t b = begin + t * chunk, e = b + chunk < end ? b + chunk : end;
      if (b < e) f(b, e);
    }
    return;
  }
#endif
  f(begin, end);
}

}  // namespace fastcnn
