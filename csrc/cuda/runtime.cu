// The CUDA runtime core: error checks, device status, one stream per device, the precision setting
// and dtype helpers. Device memory lives in device_array.cu.
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "cuda/device_array.h"

#ifndef FASTCNN_CUDA_ARCHS
#define FASTCNN_CUDA_ARCHS "unknown"
#endif

namespace fastcnn::cuda {

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next check does not report it again
  throw CudaError(std::string(what) + ": " + cudaGetErrorString(e));
}

void check_launch(const char* kernel) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw CudaError(std::string("launching ") + kernel + ": " + cudaGetErrorString(e));
}

namespace {

// An empty kernel: asking for its attributes tells whether this build has code for the device.
__global__ void probe_kernel() {}

Status compute_status() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    std::string msg = cudaGetErrorString(e);
    if (e == cudaErrorNoDevice) return {false, "no CUDA device: " + msg};
    if (e == cudaErrorInsufficientDriver) return {false, "no CUDA driver (or one too old for CUDA " +
                                                             std::to_string(CUDART_VERSION / 1000) + "): " + msg};
    return {false, "CUDA unusable: " + msg};
  }
  if (n == 0) return {false, "no CUDA device"};
  int dev = 0;
  cudaDeviceProp prop{};
  if ((e = cudaGetDevice(&dev)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, dev)) != cudaSuccess) {
    cudaGetLastError();
    return {false, std::string("CUDA device query failed: ") + cudaGetErrorString(e)};
  }
  std::string sm = "sm_" + std::to_string(prop.major) + std::to_string(prop.minor);
  cudaFuncAttributes attr{};
  if ((e = cudaFuncGetAttributes(&attr, probe_kernel)) != cudaSuccess) {
    cudaGetLastError();
    return {false, std::string("this build has no code for ") + prop.name + " (" + sm + "; built for " +
                       FASTCNN_CUDA_ARCHS + "): " + cudaGetErrorString(e)};
  }
  char mem[32];
  std::snprintf(mem, sizeof mem, "%.0f GiB", static_cast<double>(prop.totalGlobalMem) / (1 << 30));
  return {true, std::string(prop.name) + ", " + sm + ", " + mem};
}

std::atomic<int> g_precision{static_cast<int>(Precision::fp32)};

}  // namespace

const Status& status() {
  static const Status s = [] {
    try {
      return compute_status();
    } catch (const std::exception& e) {
      return Status{false, std::string("CUDA status query failed: ") + e.what()};
    }
  }();
  return s;
}

int device_count() {
  if (!status().available) return 0;
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

void require_device() {
  const Status& s = status();
  if (!s.available) throw CudaError("CUDA is not available: " + s.reason);
}

int current_device() {
  require_device();
  int dev = 0;
  FASTCNN_CUDA_CHECK(cudaGetDevice(&dev));
  return dev;
}

cudaStream_t stream() {
  // Streams are created on first use and never destroyed: they live as long as the process, and
  // destroying them at exit could run after the CUDA runtime has shut down.
  static std::mutex mu;
  static std::vector<cudaStream_t> streams;
  int dev = current_device();
  std::lock_guard<std::mutex> lock(mu);
  if (streams.empty()) streams.assign(static_cast<std::size_t>(device_count()), nullptr);
  cudaStream_t& s = streams.at(static_cast<std::size_t>(dev));
  if (!s) FASTCNN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

void synchronize() { FASTCNN_CUDA_CHECK(cudaStreamSynchronize(stream())); }

Precision precision() { return static_cast<Precision>(g_precision.load(std::memory_order_relaxed)); }
void set_precision(Precision p) { g_precision.store(static_cast<int>(p), std::memory_order_relaxed); }

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::float32: return 4;
    case DType::uint8: return 1;
    case DType::int32: return 4;
    case DType::int64: return 8;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::float32: return "float32";
    case DType::uint8: return "uint8";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
  }
  return "?";
}

bool dtype_from_name(const std::string& name, DType* t) {
  for (DType d : {DType::float32, DType::uint8, DType::int32, DType::int64}) {
    if (name == dtype_name(d)) {
      *t = d;
      return true;
    }
  }
  return false;
}

}  // namespace fastcnn::cuda
