// Winograd F(2x2, 5x5) convolution with the samples in the vector lanes (8 with AVX2, 16 with
// AVX-512): 5x5 filters, stride 1, dilation 1, one group, few channels (LeNet's conv2; see conv.h
// for Conv2dParams). Each 2x2 block of outputs comes from a 6x6 input tile with 36 multiplies per
// (input channel, filter) pair instead of 100: V = B^T d B, U = G g G^T,
// M[xi] (K) = U[xi] (K, C) . V[xi] (C), Y = A^T M A. Same interpolation points as F(4x4, 3x3)
// (0, +-1, +-2, infinity), so B^T is that one's; G is 6x5, A^T is 2x6.
//
// The samples of a block are the lanes of every vector (x is repacked channel-major with the
// samples interleaved), so the transforms are plain vector arithmetic with no transposes, and
// the 2x2 output block of a tile is exactly a 2x2 stride-2 pool window: the conv + pool of LeNet
// pools in registers. Backward-data is the adjoint of the forward (dM = A dy A^T, dV = U^T dM,
// dx += B dV B^T per tile), not the forward of a flipped problem: it costs what the forward costs,
// where the direct kernel pays for dy's zero padding (1.6x the forward's multiply-adds on LeNet's
// conv2, after skipping the filter rows that read only padding). Backward-weight sums
// dM[xi] V[xi]^T over tiles and samples, then dw = G^T dU G.
//
// Results differ from direct summation by the transform's rounding (about 1e-6 of sum |w| max |x|
// per output, measured against float64); an inf in x becomes NaN in its tiles' outputs (inf - inf
// in the transform) where direct summation may give inf. Bit-identical for any thread count: each
// output is computed by one thread in a fixed order; the weight gradient sums the batch in a fixed
// number of chunks.
#pragma once
#include "cpu/kernels/conv.h"
#include "cpu/kernels/pool.h"

#define FASTCNN_WINOGRAD5_KERNELS                                                              \
  bool winograd5_applies(const Conv2dParams& p, bool weight_gradient);                         \
  void winograd5_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, \
                         float* y, float* pooled);                                             \
  void winograd5_backward_data(const Conv2dParams& p, const float* dy, const float* w,         \
                               const float* b, float* dx);                                     \
  void winograd5_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw);

FASTCNN_DECLARE_KERNELS(FASTCNN_WINOGRAD5_KERNELS)
