// CUDA activation kernels (host launch functions; the kernels live in act.cu). Mirrors
// csrc/cpu/kernels/act.h: elementwise ops take flat arrays of n elements; prelu sees x as (N,C,S)
// with S the product of the extents after the channel axis; softmax sees x as (O,D,I) with D the
// reduced axis. rrelu and dropout draw element i's number from the CPU kernels' counter-based
// stream (a hash of (seed, i)), so a seed gives the same slopes / mask on both devices.
// All pointers are device pointers; every launch goes on stream s and nothing synchronizes.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace fastcnn::cuda {

// x, y, dy, dx are (n).
void relu_forward(const float* x, float* y, int64_t n, cudaStream_t s);
void relu_backward(const float* dy, const float* x, float* dx, int64_t n, cudaStream_t s);
void leaky_relu_forward(const float* x, float* y, int64_t n, float alpha, cudaStream_t s);
void leaky_relu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha, cudaStream_t s);
void elu_forward(const float* x, float* y, int64_t n, float alpha, cudaStream_t s);
void elu_backward(const float* dy, const float* x, float* dx, int64_t n, float alpha, cudaStream_t s);
void sigmoid_forward(const float* x, float* y, int64_t n, cudaStream_t s);
void sigmoid_backward(const float* dy, const float* x, float* dx, int64_t n, cudaStream_t s);
void tanh_forward(const float* x, float* y, int64_t n, cudaStream_t s);
void tanh_backward(const float* dy, const float* x, float* dx, int64_t n, cudaStream_t s);

// x, y, dy, dx are (N,C,S); alpha and dalpha are (C), or (1) when shared_alpha. dalpha is summed
// deterministically through `workspace` (prelu_backward_workspace_bytes of device memory, used
// only by work queued on s).
void prelu_forward(const float* x, const float* alpha, float* y, int64_t N, int64_t C, int64_t S, bool shared_alpha,
                   cudaStream_t s);
std::size_t prelu_backward_workspace_bytes(int64_t N, int64_t C, int64_t S);
void prelu_backward(const float* dy, const float* x, const float* alpha, float* dx, float* dalpha, int64_t N,
                    int64_t C, int64_t S, bool shared_alpha, void* workspace, cudaStream_t s);

// x, y, slope, dy, dx are (n).
void rrelu_forward(const float* x, float* y, float* slope, int64_t n, float lower, float upper, bool training,
                   uint64_t seed, cudaStream_t s);
void rrelu_backward(const float* dy, const float* slope, float* dx, int64_t n, cudaStream_t s);

// x, y, dy, dx are (O,D,I); softmax over D.
void softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I, cudaStream_t s);
void softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I, cudaStream_t s);
void log_softmax_forward(const float* x, float* y, int64_t O, int64_t D, int64_t I, cudaStream_t s);
void log_softmax_backward(const float* dy, const float* x, float* dx, int64_t O, int64_t D, int64_t I,
                          cudaStream_t s);

// x, y, mask (uint8: 1 kept), dy, dx are (n); y = x * mask / (1 - p).
void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed, cudaStream_t s);
void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p, cudaStream_t s);

}  // namespace fastcnn::cuda
