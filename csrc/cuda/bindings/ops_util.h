// Helpers shared by the CUDA bindings of the pool/act/norm/loss/optim families: the (N,C,S) view
// of a channel-first array, shape checks worded as the CPU bindings word them, and scratch device
// memory for the deterministic reductions.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/bindings/bind_util.h"

namespace fastcnn::cuda::bind {

// x seen as (N,C,S), S the product of the extents after the channel axis.
struct ChannelLayout {
  int64_t N, C, S;
};

inline ChannelLayout channel_layout(const DeviceArray& x, const char* fn) {
  FASTCNN_CHECK(x.ndim() >= 2, fn, ": argument 'x' got shape ", shape_str(x),
                ", needed at least 2 dimensions (N, C, ...)");
  int64_t S = 1;
  for (int i = 2; i < x.ndim(); ++i) S = checked_mul(S, x.dim(i), fn);
  checked_mul(checked_mul(x.dim(0), x.dim(1), fn), S, fn);
  return {x.dim(0), x.dim(1), S};
}

// a has x's shape ("... needed (2, 3) (the shape of x)"); `of` names the array it must match.
inline void check_like(const DeviceArray& a, const DeviceArray& x, const char* fn, const char* name, const char* of) {
  FASTCNN_CHECK(a.shape() == x.shape(), fn, ": argument '", name, "' got shape ", shape_str(a), ", needed ",
                shape_str(x), " (the shape of ", of, ")");
}

// A per-channel (C,) float32 array, or nullptr for None.
inline const float* channel_in(const DeviceArray* a, int64_t C, const char* fn, const char* name) {
  if (!a) return nullptr;
  check_shape(*a, fn, name, {C});
  return in(*a, fn, name);
}
inline float* channel_out(const DeviceArray* a, int64_t C, const char* fn, const char* name) {
  if (!a) return nullptr;
  check_shape(*a, fn, name, {C});
  return out(*a, fn, name);
}

// Scratch device memory for one op: taken from the caching allocator and given back when the
// DeviceArray dies, right after the launches are queued. Safe because every fastcnn kernel runs on
// the one stream: later work that reuses the block is queued after the kernels reading it.
inline DeviceArray workspace(std::size_t bytes) {
  return DeviceArray({static_cast<int64_t>(bytes > 0 ? bytes : 1)}, DType::uint8);
}

}  // namespace fastcnn::cuda::bind
