// Tensor helpers of the CUDA module: elementwise add/scale, strided copies for concat/split,
// row gathers for batches taken from a data set kept whole on the device, on-device metric and
// loss accumulators, fill. Host launchers: raw device pointers, sizes, the stream last; they
// never synchronize.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastcnn::cuda {

// a, b, y are (n,); y = a + b (y may alias a or b)
void add(const float* a, const float* b, float* y, int64_t n, cudaStream_t s);
// x, y are (n,); y = alpha * x (y may alias x)
void scale(const float* x, float alpha, float* y, int64_t n, cudaStream_t s);

// dst is (height, dst_pitch) bytes, src is (height, src_pitch) bytes; copies the first width bytes
// of each row. concat and split are this copy once per part (outer extent = height).
void copy_2d(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch, int64_t width, int64_t height,
             cudaStream_t s);

// src is (M,L) uint8 or float32, idx is (B,) int64, y is (B,L) float32; y[b] = float(src[idx[b]]) * scale.
// An index outside [0, M) yields a row of NaN (no memory fault, and the loss shows it).
void take_rows_u8(const uint8_t* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, float scale, float* y,
                  cudaStream_t s);
void take_rows_f32(const float* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, float scale, float* y,
                   cudaStream_t s);
// src is (M,L) int64 or float32, idx is (B,) int64, y is (B,L) of src's dtype; y[b] = src[idx[b]].
// An index outside [0, M) yields -1 (int64) or NaN (float32), which the losses reject or propagate.
void take_labels_i64(const int64_t* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, int64_t* y,
                     cudaStream_t s);
void take_labels_f32(const float* src, int64_t M, int64_t L, const int64_t* idx, int64_t B, float* y,
                     cudaStream_t s);

// logits is (N,K), labels (N,) int64 or targets (N,K) float32 (compared by their argmax), count (1,):
// count += number of rows whose argmax (first maximum, NaN counts as the maximum, as numpy) is the
// label. Exact while the count stays below 2^24.
void argmax_hits(const float* logits, const int64_t* labels, int64_t N, int64_t K, float* count, cudaStream_t s);
void argmax_hits_onehot(const float* logits, const float* targets, int64_t N, int64_t K, float* count,
                        cudaStream_t s);

// x is (n,), out is (1,); out += sum(x), summed in double in a fixed order (deterministic).
void sum_into(const float* x, int64_t n, float* out, cudaStream_t s);

// y is (n,) elements of elem_bytes (1, 4 or 8) bytes; each set to the low elem_bytes of pattern.
void fill(void* y, int64_t n, int elem_bytes, uint64_t pattern, cudaStream_t s);

}  // namespace fastcnn::cuda
