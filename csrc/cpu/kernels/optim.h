// Kernels of the optim family, declared once per built ISA (see fastcnn/dispatch.h).
#pragma once
#include <cstdint>

#include "fastcnn/dispatch.h"

#define FASTCNN_OPTIM_KERNELS

FASTCNN_DECLARE_KERNELS(FASTCNN_OPTIM_KERNELS)
