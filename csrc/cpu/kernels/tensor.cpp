// Gathering a batch of rows from a data set into a float32 buffer, converted and scaled in the same
// pass (training's per-step batch: one pass instead of numpy's fancy index copy plus a divide).
// The division is a true division (no reciprocal), so the values are numpy's
// x.astype(np.float32) / divisor, bit for bit.
#include "cpu/kernels/tensor.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "fastcnn/parallel.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {

namespace {

int64_t row_grain(int64_t L) { return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, L)); }

// The rows are scattered over a data set far larger than the caches (MNIST: 47 MB uint8, 188 MB
// float32), so each row starts with a miss the hardware prefetcher cannot foresee: ask for the row
// kAhead rows on while this one is converted.
constexpr int64_t kAhead = 2;
template <typename S>
inline void prefetch_row(const S* src, int64_t L, const int64_t* idx, int64_t b, int64_t b1) {
  if (b + kAhead >= b1) return;
  const char* row = reinterpret_cast<const char*>(src + idx[b + kAhead] * L);
  const int64_t bytes = L * static_cast<int64_t>(sizeof(S));
  for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(row + o);
}

// y[b] = float(src[idx[b]]) / divisor for each of the B rows of L values, in parallel over rows.
template <typename S>
void gather_rows_impl(const S* src, int64_t L, const int64_t* idx, int64_t B, float divisor, float* y) {
  parallel_for(0, B, row_grain(L), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      prefetch_row(src, L, idx, b, b1);
      const S* row = src + idx[b] * L;
      float* out = y + b * L;
      if constexpr (std::is_same_v<S, float>) {
        if (divisor == 1.f) {  // numpy's copy: the bits, NaN payloads kept
          std::memcpy(out, row, sizeof(float) * L);
          continue;
        }
      }
      for (int64_t l = 0; l < L; ++l) out[l] = static_cast<float>(row[l]) / divisor;
    }
  });
}

}  // namespace

// src is (M,L), idx is (B,) (checked to lie in [0, M)), y is (B,L): y[b] = float(src[idx[b]]) / divisor.
void gather_rows_u8(const uint8_t* src, int64_t L, const int64_t* idx, int64_t B, float divisor, float* y) {
  gather_rows_impl(src, L, idx, B, divisor, y);
}

// As gather_rows_u8 for float32 rows; divisor 1 copies the bits.
void gather_rows_f32(const float* src, int64_t L, const int64_t* idx, int64_t B, float divisor, float* y) {
  gather_rows_impl(src, L, idx, B, divisor, y);
}

}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
