// Kernels of the conv family, declared once per built ISA (see fastcnn/dispatch.h).
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_CONV_KERNELS

FASTCNN_DECLARE_KERNELS(FASTCNN_CONV_KERNELS)
