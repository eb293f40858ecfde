// The 2-D convolution problem of the CUDA conv kernels (plain C++, no CUDA headers, so the host-side
// index tests can include it). Same fields and meaning as fastcnn::Conv2dParams (cpu/kernels/conv.h):
//   x is (N,C,H,W), w is (K,C/g,R,S), y is (N,K,P,Q)
//   y[n,k,p,q] = sum_{c in group(k), r, s} w[k,c,r,s] * x[n,c, p*stride_h - pad_top + r*dil_h,
//                                                            q*stride_w - pad_left + s*dil_w]
// with taps outside x reading zero; P and Q are given, so bottom/right padding is implied.
#pragma once
#include <cstdint>

namespace fastcnn::cuda {

struct ConvParams {
  int64_t N, C, H, W;  // input
  int64_t K, R, S;     // filters (each sees C/groups input channels)
  int64_t P, Q;        // output
  int64_t stride_h, stride_w, pad_top, pad_left, dil_h, dil_w, groups;
};

}  // namespace fastcnn::cuda
