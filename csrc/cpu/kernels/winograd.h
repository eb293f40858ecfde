// Winograd F(4x4, 3x3) convolution: 3x3 filters, stride 1, dilation 1, one group (see conv.h for
// Conv2dParams). Each 4x4 block of outputs is computed from a 6x6 input tile with 36 multiplies
// per (input channel, filter) pair instead of 144: the tiles and filters are transformed
// (V = B^T d B, U = G g G^T), the 36 transform-domain products are 36 independent GEMMs
// M[xi] (K, tiles) = U[xi] (K, C) . V[xi] (C, tiles), and Y = A^T M A gives the outputs.
// Interpolation points 0, +-1, +-2 and infinity (Lavin & Gray's matrices). Backward-data is the
// forward of the flipped problem; backward-weight sums dM[xi] . V[xi]^T over the tiles
// (dM = A dy A^T) and maps the 6x6 result back with G^T . G.
//
// Any padding (negative = cropping, as in backward-data's flipped problem), any H, W (partial edge
// tiles), any N. Bit-identical for any thread count: each output is computed by one thread, and
// its sum over channels runs in channel order whatever the blocking.
#pragma once
#include "cpu/kernels/conv.h"

#define FASTCNN_WINOGRAD_KERNELS                                                              \
  bool winograd_applies(const Conv2dParams& p, bool weight_gradient);                         \
  void winograd_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, \
                        float* y);                                                            \
  void winograd_backward_data(const Conv2dParams& p, const float* dy, const float* w,        \
                              const float* b, float* dx);                                    \
  void winograd_backward_weight(const Conv2dParams& p, const float* dy, const float* x,      \
                                float* dw);

FASTCNN_DECLARE_KERNELS(FASTCNN_WINOGRAD_KERNELS)
