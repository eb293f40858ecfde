#include "cpu/kernels/loss.h"

namespace fastcnn::cpu::FASTCNN_ISA_NAME {}  // namespace fastcnn::cpu::FASTCNN_ISA_NAME
