// The thread pool behind parallel_for (see fastcnn/parallel.h for why it is not OpenMP).
//
// One loop runs at a time. Its chunks are claimed through `state_` = (generation << 32 | next
// chunk): a thread takes chunk i by moving the state from (g, i) to (g, i + 1), so a worker that
// wakes late, after its loop finished and another began, fails that exchange and never runs a
// chunk of a loop it did not read the description of. The caller claims chunks too and returns
// when `done_` reaches the chunk count; it waits only for chunks a worker actually started.
// Every atomic is sequentially consistent: a handful of operations per loop and per chunk.
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "fastcnn/common.h"
#include "fastcnn/parallel.h"

namespace fastcnn {

int get_num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  FASTCNN_CHECK(n >= 1, "set_num_threads: argument 'n' got ", n, ", needed an integer >= 1");
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

thread_local bool t_in_pool = false;  // a worker, or a caller running a loop: nested loops run inline

class Pool {
 public:
  bool run(int64_t begin, int64_t end, int64_t chunks, detail::ChunkFn fn, const void* body,
           int64_t threads) {
    if (t_in_pool || busy_.exchange(true)) return false;
    t_in_pool = true;
    ensure_workers(threads - 1);
    active_.store(threads - 1);
    const uint64_t g = ++generation_;
    state_.store(g << 32 | kClosed);  // late workers of the previous loop stop claiming
    fn_.store(fn);
    body_.store(body);
    begin_.store(begin);
    size_.store(end - begin);
    chunks_.store(chunks);
    done_.store(0);
    state_.store(g << 32);
    published_.store(g);
    if (sleepers_.load() > 0) {
      { std::lock_guard<std::mutex> lock(mutex_); }
      wake_.notify_all();
    }
    work(g);
    for (int64_t spins = 0; done_.load() < chunks; ++spins) {
      if (spins < 4096) cpu_relax(); else std::this_thread::yield();
    }
    t_in_pool = false;
    busy_.store(false);
    return true;
  }

 private:
  static constexpr uint64_t kClosed = 0xffffffffu;

  // Claims and runs chunks of loop g until none are left (or another loop began).
  void work(uint64_t g) {
    for (;;) {
      uint64_t s = state_.load();
      if (s >> 32 != g) return;
      const uint64_t i = s & kClosed;
      const int64_t chunks = chunks_.load();
      if (i >= static_cast<uint64_t>(chunks)) return;  // also kClosed
      const detail::ChunkFn fn = fn_.load();
      const void* body = body_.load();
      const int64_t begin = begin_.load(), size = size_.load();
      if (!state_.compare_exchange_strong(s, s + 1)) continue;
      const int64_t c = static_cast<int64_t>(i);
      fn(body, begin + c * size / chunks, begin + (c + 1) * size / chunks);
      done_.fetch_add(1);
    }
  }

  void ensure_workers(int64_t n) {
    while (started_ < n) {
      const int64_t index = started_++;
      std::thread([this, index] { worker(index); }).detach();
    }
  }

  // Spins for 1 ms after each loop, yielding now and then, then sleeps until the next loop is
  // published. A training step's kernels follow each other within tens to hundreds of microseconds
  // of Python: with a 50 us spin the workers were often asleep when the next loop began, the caller
  // ran most chunks alone while they woke, and LeNet-5's kernels took 1.3-2.5x their warm 2-thread
  // time inside a step (epoch 2.5 s; 2.1-2.3 s with 1 ms). The sched_yield keeps a spinning worker
  // from taking whole time slices from the caller on a loaded machine.
  void worker(int64_t index) {
    t_in_pool = true;
    uint64_t seen = published_.load();
    for (;;) {
      uint64_t g = published_.load();
      const auto spin_start = std::chrono::steady_clock::now();
      for (int64_t spins = 0; g == seen; ++spins) {
        cpu_relax();
        if ((spins & 255) == 255) sched_yield();
        if ((spins & 255) == 255 &&
            std::chrono::steady_clock::now() - spin_start > std::chrono::microseconds(1000)) {
          std::unique_lock<std::mutex> lock(mutex_);
          sleepers_.fetch_add(1);
          wake_.wait(lock, [&] { return published_.load() != seen; });
          sleepers_.fetch_sub(1);
        }
        g = published_.load();
      }
      seen = g;
      if (index < active_.load()) work(g);
    }
  }

  std::atomic<bool> busy_{false};
  std::atomic<uint64_t> state_{kClosed};
  std::atomic<uint64_t> published_{0};
  std::atomic<detail::ChunkFn> fn_{nullptr};
  std::atomic<const void*> body_{nullptr};
  std::atomic<int64_t> begin_{0}, size_{0}, chunks_{0}, done_{0}, active_{0};
  std::atomic<int64_t> sleepers_{0};
  uint64_t generation_ = 0;  // written by the caller holding busy_ only
  int64_t started_ = 0;      // likewise
  std::mutex mutex_;
  std::condition_variable wake_;
};

// Never destroyed (workers may still be waiting at exit); a forked child, which has none of the
// parent's threads, starts a pool of its own.
Pool* g_pool = nullptr;
std::once_flag g_pool_once;

Pool& pool() {
  std::call_once(g_pool_once, [] {
    g_pool = new Pool;
    pthread_atfork(nullptr, nullptr, [] { g_pool = new Pool; });
  });
  return *g_pool;
}

}  // namespace

namespace detail {
bool run_on_pool(int64_t begin, int64_t end, int64_t chunks, ChunkFn fn, const void* body) {
  return pool().run(begin, end, chunks, fn, body, get_num_threads());
}
}  // namespace detail

}  // namespace fastcnn
