// Threading helpers. Every parallel loop splits work into pieces whose results do not depend on
// the number of threads: reductions use a fixed number of chunks, summed in a fixed order.
//
// parallel_for runs on fastcnn's own thread pool (csrc/core/threading.cpp), not an OpenMP team:
// the range is cut into a few chunks per thread that the calling thread and the pool's workers
// claim one at a time, and the call returns as soon as every chunk is done. A worker that the OS
// has descheduled (a loaded machine) therefore costs nothing: the caller finishes its chunks,
// where an OpenMP region would wait at its closing barrier for that worker (5-8 ms a region).
// The thread count is OpenMP's (OMP_NUM_THREADS, set_num_threads), so it is set in one place.
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

namespace detail {
using ChunkFn = void (*)(const void* body, int64_t begin, int64_t end);
// Runs fn(body, b, e) over `chunks` consecutive pieces of [begin, end) on the pool; false (nothing
// run) when the pool is busy with another caller's loop or this thread is inside one.
bool run_on_pool(int64_t begin, int64_t end, int64_t chunks, ChunkFn fn, const void* body);
}  // namespace detail

// parallel_for(0, n, grain, [&](int64_t begin, int64_t end) { ... }): ranges of at most 4 chunks
// per thread, each run once by some thread. The body must write disjoint outputs; results never
// depend on how [0,n) is split. Nested calls, and ranges of at most `grain`, run on the caller.
template <typename F>
inline void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int64_t threads = get_num_threads();
  if (n > grain && threads > 1) {
    const int64_t chunks = n < 4 * threads ? n : 4 * threads;
    const detail::ChunkFn run = [](const void* body, int64_t b, int64_t e) {
      (*static_cast<const F*>(body))(b, e);
    };
    if (detail::run_on_pool(begin, end, chunks, run, &f)) return;
  }
  f(begin, end);
}

}  // namespace fastcnn
