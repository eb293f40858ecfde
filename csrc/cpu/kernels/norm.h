// Kernels of the norm family, declared once per built ISA (see fastcnn/dispatch.h).
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_NORM_KERNELS

FASTCNN_DECLARE_KERNELS(FASTCNN_NORM_KERNELS)
