// CUDA fused softmax cross-entropy (host launch functions; kernels in loss.cu), the math of
// csrc/cpu/kernels/loss.cpp: z (logits) is (N,K); the target is class ids (N,) int64 or
// probabilities (N,K) (exactly one non-null). Each row's log-sum-exp is shifted by the row maximum,
// the sums and the log in double. The mean loss goes to loss[0] on the device (no host sync):
// the row losses are summed by one block's fixed tree (deterministic). N == 0 gives NaN. Class ids
// are not checked on the host (that would need a sync): a row whose id is outside [0, K) gets a
// NaN loss and a NaN gradient row. Device pointers; launches on stream s; `workspace` is
// cross_entropy_workspace_bytes of device memory used only by work queued on s.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace fastcnn::cuda {

std::size_t cross_entropy_workspace_bytes(int64_t N);

void cross_entropy_forward(const float* z, const int64_t* ids, const float* probs, float* loss, int64_t N, int64_t K,
                           void* workspace, cudaStream_t s);
// total[0] += weight * (sum of the N row losses): training sums its epoch loss on the device.
void cross_entropy_sum_into(const float* z, const int64_t* ids, const float* probs, float* total, double weight,
                            int64_t N, int64_t K, void* workspace, cudaStream_t s);
// dz is (N,K): the gradient of the mean loss, (softmax(z_n) * sum(t_n) - t_n) / N.
void cross_entropy_backward(const float* z, const int64_t* ids, const float* probs, float* dz, int64_t N, int64_t K,
                            cudaStream_t s);

}  // namespace fastcnn::cuda
