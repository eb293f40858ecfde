// Kernels of the act family, declared once per built ISA (see fastcnn/dispatch.h).
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_ACT_KERNELS

FASTCNN_DECLARE_KERNELS(FASTCNN_ACT_KERNELS)
