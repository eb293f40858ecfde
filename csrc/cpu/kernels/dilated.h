// Dilated stride-1 convolution by phase splitting (see conv.h for Conv2dParams).
// x is (N,C,H,W), w is (K,C/g,R,S), y is (N,K,P,Q), stride 1, dilation (dh, dw).
// Output row p = a + dh*u (a = p mod dh) reads input rows a - pad_top + dh*(u + r): one residue
// class mod dh, the same for every u, and different phases a read different classes. The same
// holds for columns. So the conv is dh*dw independent undilated convs: the phase image (n, a, b)
// holds x[n, :, a - pad_top + dh*j, b - pad_left + dw*l] (zero outside x) for j in [j0, j1),
// l in [l0, l1) (the rows and columns that hold input in some phase and that some output reads);
// convolved with the undilated filters and padding (j0, l0) it gives y[n, :, a + dh*u, b + dw*v]
// for u < P' = ceil(P/dh), v < Q' = ceil(Q/dw) (the phases with fewer output rows or columns
// compute one more and drop it). All phases have that one shape, so the N*dh*dw phase images are
// one batch of one undilated problem (dilated_phase_problem), which then takes the existing
// algorithm choice (Winograd: conv.cpp routes here only then).
//  - forward: gather x into the phase batch, the undilated forward, scatter into y.
//  - backward-data: gather dy (zeros at the dropped outputs), the undilated backward-data, and
//    each x position is in at most one phase image, so dx is a gather of the phase dx (zero where
//    no output reads x).
//  - backward-weight: the undilated weight gradient of the phase batch is the sum over phases
//    (and samples); it sums in the fixed order of the undilated kernel, whatever the thread count.
// The forward and backward-data run in chunks of samples whose phase buffers fit the L3 cache.
// The gathers and scatters are copies, one thread per element, so the results are bit-identical
// for any thread count whenever the undilated kernel's are.
#pragma once
#include "cpu/kernels/conv.h"

#define FASTCNN_DILATED_KERNELS                                                                 \
  Conv2dParams dilated_phase_problem(const Conv2dParams& p);                                    \
  void dilated_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,    \
                       float* y);                                                               \
  void dilated_backward_data(const Conv2dParams& p, const float* dy, const float* w,           \
                             const float* b, float* dx);                                       \
  void dilated_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw);

FASTCNN_DECLARE_KERNELS(FASTCNN_DILATED_KERNELS)
