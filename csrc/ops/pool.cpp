#include "ops/pool.h"

#include "fastcnn/common.h"

namespace fastcnn::ops {

void max_pool2d_forward(const float* x, float* y, const Pool2dParams& p) {
  FASTCNN_DISPATCH(max_pool2d_forward)(x, y, p);
}
void max_pool2d_backward(const float* dy, const float* x, float* dx, const Pool2dParams& p) {
  FASTCNN_DISPATCH(max_pool2d_backward)(dy, x, dx, p);
}
void avg_pool2d_forward(const float* x, float* y, const Pool2dParams& p) {
  FASTCNN_DISPATCH(avg_pool2d_forward)(x, y, p);
}
void avg_pool2d_backward(const float* dy, float* dx, const Pool2dParams& p) {
  FASTCNN_DISPATCH(avg_pool2d_backward)(dy, dx, p);
}

void global_avg_pool2d_forward(const float* x, float* y, int64_t N, int64_t C, int64_t HW) {
  FASTCNN_CHECK(HW >= 1, "global_avg_pool2d: argument 'x' got an empty plane (H*W = 0), needed H, W >= 1");
  FASTCNN_DISPATCH(global_avg_pool2d_forward)(x, y, checked_mul(N, C, "global_avg_pool2d"), HW);
}
void global_avg_pool2d_backward(const float* dy, float* dx, int64_t N, int64_t C, int64_t HW) {
  FASTCNN_CHECK(HW >= 1, "global_avg_pool2d_backward: argument 'x' got an empty plane (H*W = 0), needed H, W >= 1");
  FASTCNN_DISPATCH(global_avg_pool2d_backward)(dy, dx, checked_mul(N, C, "global_avg_pool2d_backward"), HW);
}

}  // namespace fastcnn::ops
