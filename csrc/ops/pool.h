// Front end of the pool family: checks window geometry and sizes, then dispatches the kernels.
#pragma once
#include <cstdint>

#include "cpu/kernels/pool.h"

namespace fastcnn::ops {

// Output extent of one pooled dimension, PyTorch's rule: floor (or ceil) of the window count, and
// in ceil mode the last window must start inside the input or its leading padding. < 1 when the
// window does not fit.
int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t pad_before, int64_t pad_after, bool ceil_mode);

// Checked geometry for x of shape (N,C,H,W): kernel and stride >= 1, each pad <= kernel/2, and
// at least one output per dimension. fn names the op in messages.
Pool2dParams pool2d_params(const char* fn, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
                           int64_t sh, int64_t sw, int64_t pad_top, int64_t pad_bottom, int64_t pad_left,
                           int64_t pad_right, bool ceil_mode, bool count_include_pad);

void max_pool2d_forward(const float* x, float* y, const Pool2dParams& p);
void max_pool2d_backward(const float* dy, const float* x, float* dx, const Pool2dParams& p);
void avg_pool2d_forward(const float* x, float* y, const Pool2dParams& p);
void avg_pool2d_backward(const float* dy, float* dx, const Pool2dParams& p);
void global_avg_pool2d_forward(const float* x, float* y, int64_t N, int64_t C, int64_t HW);
void global_avg_pool2d_backward(const float* dy, float* dx, int64_t N, int64_t C, int64_t HW);

}  // namespace fastcnn::ops
