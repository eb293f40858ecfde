// Kernels of the pool family, declared once per built ISA (see fastcnn/dispatch.h).
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_POOL_KERNELS

FASTCNN_DECLARE_KERNELS(FASTCNN_POOL_KERNELS)
