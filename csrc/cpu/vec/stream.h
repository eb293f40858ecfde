// Streaming (non-temporal) stores for elementwise outputs far larger than the caches.
//
// Why: a normal store to a line that is not cached first reads that line from memory (the
// read-for-ownership), so y = f(x) over arrays much larger than the last-level cache moves three
// array sizes (read x, read y, write y) where two would do. A streaming store sends whole 64-byte
// lines through the write-combining buffers without reading them, and leaves no copy in the cache.
// That is right for an output that would be evicted before anyone reads it, and wrong for one that
// the next layer reads straight from L2/L3 (it would come back from memory): use it only above
// kStreamMinBytes.
//
// map_store(y, b, e, stream, f) writes y[i] = f(i) for i in [b, e). f is the kernel's scalar
// expression: its loop vectorizes as before. With stream, and y's pages in memory (see
// page_resident: at the chunk's first and last element), the 64-byte-aligned lines of y are
// computed a tile at a time into an L1 buffer and copied out with streaming stores; the partial
// lines at both ends get normal stores (a chunk boundary of parallel_for may cut a line); a store
// fence ends the call, because streaming stores are weakly ordered and the caller (or another
// thread, after parallel_for returns) reads y next. Same values either way: only the stores differ.
//
// ISAs: AVX-512 objects use 512-bit streaming stores, AVX2 256-bit, the x86-64 baseline SSE
// (_mm_stream_ps is SSE, part of x86-64); elsewhere, or with FASTCNN_NO_STREAM_STORES defined (the
// portable path, compiled on x86 too), stream is ignored: normal stores.
// Everything here is static (internal linkage): each ISA object keeps its own copy.
#pragma once
#include <cstdint>
#include <cstring>

#if (defined(__x86_64__) || defined(_M_X64) || defined(__i386__)) && !defined(FASTCNN_NO_STREAM_STORES)
#include <immintrin.h>
#define FASTCNN_HAVE_STREAM_STORES 1
#ifdef __linux__
#include <sys/mman.h>
#endif
#endif

namespace fastcnn::vec {

// Outputs of at least this many bytes take streaming stores. 32 MiB is the L3 of the development
// machine (and of one Zen CCD): an output that large cannot stay in the last-level cache next to its
// input, so the next op reads it from memory anyway. LeNet's and most CNN activations at batch 128
// are far below it and keep normal stores, so the next layer finds them in cache.
constexpr int64_t kStreamMinBytes = int64_t{32} << 20;

static inline bool stream_pays(int64_t bytes) { return bytes >= kStreamMinBytes; }

namespace stream_detail {

constexpr int64_t kLine = 16;   // floats per 64-byte line
constexpr int64_t kTile = 512;  // floats per L1 tile (2 KiB)

// dst is 64-byte aligned, src 64-byte aligned, m a multiple of kLine.
static inline __attribute__((always_inline)) void stream_lines(float* dst, const float* src, int64_t m) {
#if defined(__AVX512F__)
  for (int64_t j = 0; j < m; j += kLine) _mm512_stream_ps(dst + j, _mm512_load_ps(src + j));
#elif defined(__AVX__)
  for (int64_t j = 0; j < m; j += 8) _mm256_stream_ps(dst + j, _mm256_load_ps(src + j));
#elif defined(FASTCNN_HAVE_STREAM_STORES)
  for (int64_t j = 0; j < m; j += 4) _mm_stream_ps(dst + j, _mm_load_ps(src + j));
#else
  std::memcpy(dst, src, sizeof(float) * m);
#endif
}

static inline __attribute__((always_inline)) void store_fence() {
#ifdef FASTCNN_HAVE_STREAM_STORES
  _mm_sfence();
#endif
}

// Whether the page holding p is in memory already. A fresh output (a new numpy array of this size
// is a new mmap) is not: each first touch faults and the OS zeroes the page through the cache, so
// normal stores then hit in cache with no read-for-ownership to save, while streaming stores would
// push those dirty zeros out (a write-back) and then write the line again. Reused buffers (out=, a
// layer's activations every step) are resident: those are the ones that gain.
static inline bool page_resident(const float* p) {
#if defined(FASTCNN_HAVE_STREAM_STORES) && defined(__linux__)
  unsigned char in_core = 0;
  void* page = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t{4095});
  return mincore(page, 1, &in_core) == 0 && (in_core & 1);
#else
  (void)p;
  return true;
#endif
}

}  // namespace stream_detail

template <typename F>
static inline void map_store(float* y, int64_t b, int64_t e, bool stream, const F& f) {
  using namespace stream_detail;
  int64_t i = b;
#ifdef FASTCNN_HAVE_STREAM_STORES
  // a float* that is not 4-byte aligned (a numpy view can be) never reaches a 64-byte boundary
  const uintptr_t addr = reinterpret_cast<uintptr_t>(y + b);
  if (stream && addr % sizeof(float) == 0 && e - b >= 2 * kLine && page_resident(y + b) &&
      page_resident(y + e - 1)) {
    const int64_t head = static_cast<int64_t>((64 - addr % 64) % 64 / sizeof(float));
    for (; i < b + head; ++i) y[i] = f(i);
    alignas(64) float buf[kTile];
    while (e - i >= kLine) {
      const int64_t m = (e - i) / kLine * kLine < kTile ? (e - i) / kLine * kLine : kTile;
      for (int64_t j = 0; j < m; ++j) buf[j] = f(i + j);
      stream_lines(y + i, buf, m);
      i += m;
    }
    for (; i < e; ++i) y[i] = f(i);
    store_fence();
    return;
  }
#endif
  (void)stream;
  for (; i < e; ++i) y[i] = f(i);
}

}  // namespace fastcnn::vec
