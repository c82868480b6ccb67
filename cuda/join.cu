// Concat and constant padding on device: bit moves, so the kernels work in unsigned words of
// the widest size (16, 8, 4, 2 or 1 bytes) that divides every row and pointer, one thread per
// output word in row-major order (coalesced writes; reads contiguous within each input row).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cuda/kernel_util.h"
#include "engine/kernels/join.h"
#include "engine/word_dispatch.h"

namespace engine::cuda {

namespace {

struct alignas(16) Word16 {
  uint4 v;
};

constexpr int kConcatBatch = 8;

// Up to kConcatBatch inputs whose rows occupy output columns [col[k], col[k + 1]) (in words).
struct ConcatBatch {
  const void* src[kConcatBatch];
  int64_t col[kConcatBatch + 1];
  int count;
};

template <typename U>
__global__ void concat_rows_copy(ConcatBatch b, int64_t outer, int64_t out_row,
                                 U* __restrict__ dst) {
  const int64_t width = b.col[b.count] - b.col[0];
  ENGINE_CUDA_LOOP(i, outer * width) {
    const int64_t o = i / width;
    const int64_t j = b.col[0] + i % width;
    int k = 0;
    while (j >= b.col[k + 1]) ++k;
    const int64_t w = b.col[k + 1] - b.col[k];
    dst[o * out_row + j] = static_cast<const U*>(b.src[k])[o * w + (j - b.col[k])];
  }
}

template <typename U>
__global__ void pad_constant_copy(const U* __restrict__ x, PadGeometry g, U value,
                                  U* __restrict__ out) {
  int64_t total = 1;
  for (int d = 0; d < g.ndim; ++d) total *= g.out_shape[d];
  ENGINE_CUDA_LOOP(i, total) {
    int64_t rem = i, in_index = 0, in_stride = 1;
    bool inside = true;
    for (int d = g.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % g.out_shape[d] - g.before[d];
      rem /= g.out_shape[d];
      inside = inside && c >= 0 && c < g.in_shape[d];
      in_index += c * in_stride;
      in_stride *= g.in_shape[d];
    }
    out[i] = inside ? x[in_index] : value;
  }
}

struct DeviceScope {
  explicit DeviceScope(int device) {
    CUDA_CHECK(cudaGetDevice(&previous));
    if (previous != device) CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceScope() { cudaSetDevice(previous); }
  int previous = 0;
};

template <typename U>
void launch_concat(const void* const* srcs, const int64_t* row_bytes, int count, int64_t outer,
                   void* dst) {
  int64_t total = 0;
  for (int i = 0; i < count; ++i) total += row_bytes[i];
  const int64_t out_row = total / int64_t(sizeof(U));
  int64_t col = 0;
  for (int first = 0; first < count; first += kConcatBatch) {
    ConcatBatch b{};
    b.count = std::min(kConcatBatch, count - first);
    b.col[0] = col;
    for (int k = 0; k < b.count; ++k) {
      b.src[k] = srcs[first + k];
      col += row_bytes[first + k] / int64_t(sizeof(U));
      b.col[k + 1] = col;
    }
    const int64_t n = outer * (b.col[b.count] - b.col[0]);
    if (n == 0) continue;
    concat_rows_copy<U>
        <<<grid_for(n), kThreads, 0, current_stream()>>>(b, outer, out_row, static_cast<U*>(dst));
    ENGINE_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace

void concat_rows(const void* const* srcs, const int64_t* row_bytes, int count, int64_t outer,
                 void* dst, int device) {
  if (count == 0 || outer == 0) return;
  DeviceScope scope(device);
  // The widest word that divides every row length and address.
  uintptr_t bits = reinterpret_cast<uintptr_t>(dst);
  for (int i = 0; i < count; ++i) {
    bits |= uintptr_t(row_bytes[i]);
    if (row_bytes[i] > 0) bits |= reinterpret_cast<uintptr_t>(srcs[i]);
  }
  if (bits % 16 == 0)
    launch_concat<Word16>(srcs, row_bytes, count, outer, dst);
  else if (bits % 8 == 0)
    launch_concat<uint64_t>(srcs, row_bytes, count, outer, dst);
  else if (bits % 4 == 0)
    launch_concat<uint32_t>(srcs, row_bytes, count, outer, dst);
  else if (bits % 2 == 0)
    launch_concat<uint16_t>(srcs, row_bytes, count, outer, dst);
  else
    launch_concat<uint8_t>(srcs, row_bytes, count, outer, dst);
}

void pad_constant(const void* x, int elem_size, const PadGeometry& g, const void* value, void* out,
                  int device) {
  int64_t total = 1;
  for (int d = 0; d < g.ndim; ++d) total *= g.out_shape[d];
  if (total == 0) return;
  DeviceScope scope(device);
  const unsigned grid = grid_for(total);
  cudaStream_t s = current_stream();
  auto run = [&](auto tag) {
    using U = decltype(tag);
    U v;
    std::memcpy(&v, value, sizeof(U));
    pad_constant_copy<U>
        <<<grid, kThreads, 0, s>>>(static_cast<const U*>(x), g, v, static_cast<U*>(out));
  };
  dispatch_word(size_t(elem_size), "pad", run);
  ENGINE_CUDA_LAUNCH_CHECK();
}

}  // namespace engine::cuda
