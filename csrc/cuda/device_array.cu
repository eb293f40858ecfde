// Device arrays and the caching allocator behind them.
//
// cudaMalloc/cudaFree are slow and cudaFree synchronizes the device, so freed blocks are kept in
// free lists keyed by their rounded size and handed out again. A training step allocates the same
// sizes every time, so after the first step no cudaMalloc happens. Reusing a block right away is
// safe because every kernel runs on the one stream of its device: work queued on the old array
// finishes before work on the new one starts. On out-of-memory the cache is given back and the
// allocation tried once more.
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/device_array.h"
#include "fastcnn/common.h"

namespace fastcnn::cuda {

struct Block {
  void* ptr;
  std::size_t size;  // rounded size (the free-list key)
  int device;
};

namespace {

// Size classes: multiples of 512 bytes below 1 MiB, above it 8 steps per power of two (at most
// 12.5% waste), so that slightly different sizes share blocks.
std::size_t round_size(std::size_t bytes) {
  std::size_t step = 512;
  if (bytes >= (std::size_t{1} << 20)) {
    std::size_t pow2 = std::size_t{1} << (63 - __builtin_clzll(bytes));
    step = pow2 / 8;
  }
  return (bytes + step - 1) / step * step;
}

class Allocator {
 public:
  void* allocate(std::size_t size, int device) {
    std::lock_guard<std::mutex> lock(mu_);
    PerDevice& d = devices_[device];
    auto it = d.free.find(size);
    if (it != d.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      d.cached -= size;
      d.in_use += size;
      return p;
    }
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_cached(d);
      e = cudaMalloc(&p, size);
      if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        std::size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        cudaGetLastError();
        throw CudaOutOfMemory("CUDA out of memory: asked for " + std::to_string(size) + " bytes, " +
                              std::to_string(free_b) + " of " + std::to_string(total_b) +
                              " bytes free, " + std::to_string(d.in_use) + " held by live arrays");
      }
    }
    check(e, "cudaMalloc");
    ++d.mallocs;
    d.in_use += size;
    return p;
  }

  // Never calls CUDA: blocks may die after the runtime has shut down (at interpreter exit).
  void release(Block* b) {
    std::lock_guard<std::mutex> lock(mu_);
    PerDevice& d = devices_[b->device];
    d.free[b->size].push_back(b->ptr);
    d.in_use -= b->size;
    d.cached += b->size;
  }

  MemoryStats stats(int device) {
    std::lock_guard<std::mutex> lock(mu_);
    PerDevice& d = devices_[device];
    return {d.in_use, d.cached, d.mallocs};
  }

  void empty(int device) {
    std::lock_guard<std::mutex> lock(mu_);
    release_cached(devices_[device]);
  }

 private:
  struct PerDevice {
    std::unordered_map<std::size_t, std::vector<void*>> free;
    std::size_t in_use = 0, cached = 0, mallocs = 0;
  };

  // Frees the cached blocks of the current device (the caller's device). Waits for the device first:
  // queued kernels may still use a block that is in the cache.
  void release_cached(PerDevice& d) {
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (emptying the allocator cache)");
    for (auto& [size, ptrs] : d.free) {
      for (void* p : ptrs) check(cudaFree(p), "cudaFree");
      d.cached -= size * ptrs.size();
      ptrs.clear();
    }
  }

  std::mutex mu_;
  std::unordered_map<int, PerDevice> devices_;
};

// Never destroyed: arrays still alive at exit return their blocks to it.
Allocator& allocator() {
  static Allocator* a = new Allocator;
  return *a;
}

int64_t element_count(const std::vector<int64_t>& shape, const char* fn) {
  int64_t n = 1;
  for (int64_t s : shape) {
    FASTCNN_CHECK(s >= 0, fn, ": argument 'shape' has a negative extent ", s);
    n = checked_mul(n, s, fn);
  }
  return n;
}

}  // namespace

MemoryStats memory_stats() { return allocator().stats(current_device()); }
void empty_cache() { allocator().empty(current_device()); }

DeviceArray::DeviceArray(std::vector<int64_t> shape, DType dtype) : shape_(std::move(shape)), dtype_(dtype) {
  int64_t n = element_count(shape_, "DeviceArray");
  std::size_t bytes = static_cast<std::size_t>(checked_mul(n, static_cast<int64_t>(dtype_size(dtype)), "DeviceArray"));
  int dev = current_device();
  if (bytes == 0) {
    block_ = std::make_shared<Block>(Block{nullptr, 0, dev});
    return;
  }
  std::size_t size = round_size(bytes);
  void* p = allocator().allocate(size, dev);
  block_ = std::shared_ptr<Block>(new Block{p, size, dev}, [](Block* b) {
    allocator().release(b);
    delete b;
  });
}

int64_t DeviceArray::size() const {
  int64_t n = 1;
  for (int64_t s : shape_) n *= s;
  return n;
}

void* DeviceArray::data() const {
  return block_->ptr ? static_cast<char*>(block_->ptr) + offset_ : nullptr;
}

int DeviceArray::device() const { return block_->device; }

DeviceArray DeviceArray::reshape(std::vector<int64_t> shape) const {
  int infer = -1;
  int64_t known = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      FASTCNN_CHECK(infer < 0, "reshape: argument 'shape' has more than one -1");
      infer = static_cast<int>(i);
    } else {
      FASTCNN_CHECK(shape[i] >= 0, "reshape: argument 'shape' has a negative extent ", shape[i]);
      known = checked_mul(known, shape[i], "reshape");
    }
  }
  int64_t n = size();
  if (infer >= 0) {
    FASTCNN_CHECK(known > 0 && n % known == 0, "reshape: cannot reshape an array of size ", n,
                  " with a -1 extent and the other extents multiplying to ", known);
    shape[static_cast<std::size_t>(infer)] = n / known;
    known = n;
  }
  FASTCNN_CHECK(known == n, "reshape: cannot reshape an array of size ", n, " into one of size ", known);
  DeviceArray v = *this;
  v.shape_ = std::move(shape);
  return v;
}

DeviceArray DeviceArray::rows(int64_t begin, int64_t end) const {
  FASTCNN_CHECK(ndim() >= 1, "rows: a 0-d array has no rows");
  FASTCNN_CHECK(0 <= begin && begin <= end && end <= dim(0), "rows: [", begin, ", ", end,
                ") is not a row range of an array with ", dim(0), " rows");
  DeviceArray v = *this;
  std::size_t row_bytes = dim(0) ? nbytes() / static_cast<std::size_t>(dim(0)) : 0;
  v.shape_[0] = end - begin;
  // An empty view keeps offset 0, so data() never points past the block.
  if (end > begin) v.offset_ += static_cast<std::size_t>(begin) * row_bytes;
  return v;
}

void DeviceArray::upload(const void* host, std::size_t bytes) {
  FASTCNN_CHECK(bytes == nbytes(), "upload: ", bytes, " bytes for an array of ", nbytes());
  if (bytes == 0) return;
  // From pageable memory this returns once the host bytes are staged, so the caller may free them.
  FASTCNN_CUDA_CHECK(cudaMemcpyAsync(data(), host, bytes, cudaMemcpyHostToDevice, stream()));
}

void DeviceArray::download(void* host, std::size_t bytes) const {
  FASTCNN_CHECK(bytes == nbytes(), "download: ", bytes, " bytes for an array of ", nbytes());
  if (bytes == 0) return;
  cudaStream_t s = stream();
  FASTCNN_CUDA_CHECK(cudaMemcpyAsync(host, data(), bytes, cudaMemcpyDeviceToHost, s));
  FASTCNN_CUDA_CHECK(cudaStreamSynchronize(s));
}

}  // namespace fastcnn::cuda
