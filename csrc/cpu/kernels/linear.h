// Kernels of the linear family, declared once per built ISA (see fastcnn/dispatch.h).
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_LINEAR_KERNELS

FASTCNN_DECLARE_KERNELS(FASTCNN_LINEAR_KERNELS)
