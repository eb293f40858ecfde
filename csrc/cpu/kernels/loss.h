// Kernels of the loss family, declared once per built ISA (see fastcnn/dispatch.h).
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_LOSS_KERNELS

FASTCNN_DECLARE_KERNELS(FASTCNN_LOSS_KERNELS)
