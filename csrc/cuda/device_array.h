// Device arrays of the CUDA module: a shape, a dtype and a view into a block of device memory from
// the caching allocator. Arrays are always C-contiguous; reshape and row slices are views sharing
// the block, which returns to the allocator's cache when the last view dies.
//
// Plain C++ (compiled by the host compiler in the bindings and by nvcc in runtime code).
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fastcnn::cuda {

// A CUDA runtime failure (no driver, out of memory, a kernel fault); Python sees RuntimeError
// (MemoryError for out-of-memory).
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Device memory exhausted even after emptying the allocator's cache. Derives from std::bad_alloc so
// that pybind11 raises MemoryError (with this message).
struct CudaOutOfMemory : std::bad_alloc {
  explicit CudaOutOfMemory(std::string msg) : msg_(std::move(msg)) {}
  const char* what() const noexcept override { return msg_.c_str(); }

 private:
  std::string msg_;
};

// Throws CudaError "<what>: <cudaGetErrorString(e)>" unless e == cudaSuccess.
void check(cudaError_t e, const char* what);
// After a kernel launch: reports a bad launch configuration (cudaGetLastError) without synchronizing.
void check_launch(const char* kernel);
// check() with the call's text, file and line in the message.
#define FASTCNN_CUDA_STR2(x) #x
#define FASTCNN_CUDA_STR(x) FASTCNN_CUDA_STR2(x)
#define FASTCNN_CUDA_CHECK(call) \
  ::fastcnn::cuda::check((call), #call " at " __FILE__ ":" FASTCNN_CUDA_STR(__LINE__))

// Whether CUDA can run here, and why not: never throws. reason is e.g. "no CUDA driver: ...",
// "no CUDA device", or, when available, "NVIDIA H200, sm_90, 139 GiB". Computed once.
struct Status {
  bool available;
  std::string reason;
};
const Status& status();
int device_count();                // 0 without a driver or device; never throws
void require_device();             // throws CudaError with status().reason unless available
int current_device();

// The stream every fastcnn kernel runs on (one per device, created at first use). Work on it is
// ordered; the host waits only in DeviceArray::download / synchronize().
cudaStream_t stream();
void synchronize();

// Math precision of convolution and linear layers (set by fastcnn.set_precision).
enum class Precision { fp32, tf32, bf16 };
Precision precision();
void set_precision(Precision p);

enum class DType { float32, uint8, int32, int64 };
std::size_t dtype_size(DType t);
const char* dtype_name(DType t);  // numpy's name: "float32", "uint8", "int32", "int64"
bool dtype_from_name(const std::string& name, DType* t);  // false for other names

// The caching allocator's counters for the current device (bytes). in_use: held by live arrays;
// cached: freed blocks kept for reuse; device_mallocs: cudaMalloc calls so far (stays put in the
// steady state of training).
struct MemoryStats {
  std::size_t in_use_bytes, cached_bytes, device_mallocs;
};
MemoryStats memory_stats();
void empty_cache();  // returns the cached blocks of the current device to CUDA

struct Block;  // allocator block (device_array.cu)

class DeviceArray {
 public:
  // A new, uninitialized array on the current device.
  DeviceArray(std::vector<int64_t> shape, DType dtype);

  const std::vector<int64_t>& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[static_cast<std::size_t>(i)]; }
  int64_t size() const;  // number of elements
  std::size_t nbytes() const { return static_cast<std::size_t>(size()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }

  void* data() const;  // device pointer of the first element (nullptr for an empty array)
  int device() const;
  template <class T>
  T* ptr() const { return static_cast<T*>(data()); }

  DeviceArray reshape(std::vector<int64_t> shape) const;   // same elements, new shape (a view); one -1 allowed
  DeviceArray rows(int64_t begin, int64_t end) const;      // x[begin:end] along axis 0 (a view)

  void upload(const void* host, std::size_t bytes);        // host -> device, stream-ordered
  void download(void* host, std::size_t bytes) const;      // device -> host, waits for the stream

 private:
  DeviceArray() = default;
  std::shared_ptr<Block> block_;
  std::size_t offset_ = 0;  // bytes into the block
  std::vector<int64_t> shape_;
  DType dtype_ = DType::float32;
};

}  // namespace fastcnn::cuda
