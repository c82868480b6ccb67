// Launch helpers shared by the hand-written kernels: the stream they run on, grid sizes for
// grid-stride loops, a launch check, warp and block reductions, and 128-bit load tests.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "cuda/check.h"
#include "cuda/runtime.h"  // current_stream(), kBlock, grid_for
#include "engine/kernels/memory.h"

namespace engine::cuda {

inline cudaStream_t stream() {
  return current_stream();
}

constexpr int kWarp = 32;

// Raised right after a launch so that a bad configuration names the kernel that caused it.
#define ENGINE_CUDA_LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())

__device__ __forceinline__ int64_t global_thread() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() {
  return int64_t(gridDim.x) * blockDim.x;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double warp_sum(double v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the whole block, returned to every thread. `scratch` holds one value per warp
// (32 entries suffice for any block size); the summation order is fixed by the block shape,
// so results are deterministic run to run.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* scratch) {
  int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  int warps = (blockDim.x + kWarp - 1) / kWarp;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T r = lane < warps ? scratch[lane] : T(0);
  return warp_sum(r);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  int warps = (blockDim.x + kWarp - 1) / kWarp;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float r = lane < warps ? scratch[lane] : -INFINITY;
  return warp_max(r);
}

// Reductions within segments of `width` lanes (a power of two dividing 32): rows handled by a
// segment of a warp. Every lane of the warp must call them.
template <int width>
__device__ __forceinline__ float seg_sum(float v) {
  for (int o = width / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o, width);
  return v;
}
template <int width>
__device__ __forceinline__ float seg_max(float v) {
  for (int o = width / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o, width));
  return v;
}

// Row kernels cache a row in registers: a segment of `lanes` lanes holds up to kRowRegs values
// per lane, so rows of up to 32 * kRowRegs = 256 values take one read. Longer rows use a block
// per row. Picks the segment width for `cols`, 0 meaning "a block per row".
constexpr int kRowRegs = 8;
inline int row_lanes(int64_t cols) {
  for (int lanes = 4; lanes <= kWarp; lanes *= 2)
    if (cols <= int64_t(lanes) * kRowRegs) return lanes;
  return 0;
}

// Calls f(row, lane, valid) for every row with a segment of `lanes` lanes per row; loops are
// uniform across the warp (invalid rows still take part in shuffles).
template <int lanes, typename F>
__device__ __forceinline__ void for_each_row_segment(int64_t rows, F&& f) {
  constexpr int rows_per_warp = kWarp / lanes;
  int64_t warp = global_thread() / kWarp, warps = grid_threads() / kWarp;
  int lane = threadIdx.x % lanes, seg = (threadIdx.x % kWarp) / lanes;
  for (int64_t base = warp * rows_per_warp; base < rows; base += warps * rows_per_warp) {
    int64_t row = base + seg;
    f(row, lane, row < rows);
  }
}

// The stable log-sum-exp pieces of one row held by a segment: loads the row (column
// lane + k·lanes into v[k]; -inf past cols or when !valid; cols <= lanes·kRowRegs) and gives
// every lane of the segment the row's maximum m and s = Σ exp(x - m). Every lane of the warp
// must call it (the reductions shuffle).
template <int lanes>
__device__ __forceinline__ void row_max_sumexp(const float* xr, int64_t cols, int lane, bool valid,
                                               float (&v)[kRowRegs], float& m, float& s) {
  m = -INFINITY;
#pragma unroll
  for (int k = 0; k < kRowRegs; ++k) {
    int64_t c = lane + int64_t(k) * lanes;
    v[k] = valid && c < cols ? __ldg(xr + c) : -INFINITY;
    m = fmaxf(m, v[k]);
  }
  m = seg_max<lanes>(m);
  s = 0;
#pragma unroll
  for (int k = 0; k < kRowRegs; ++k) {
    int64_t c = lane + int64_t(k) * lanes;
    if (valid && c < cols) s += expf(v[k] - m);
  }
  s = seg_sum<lanes>(s);
}

// The same for a row of any length read by the whole block in one pass: each thread keeps an
// online (maximum, Σ exp(x - maximum)) pair, rescaling the sum when the maximum grows, and the
// block merges the pairs. `scratch` as for block_sum; every thread gets m and s.
__device__ __forceinline__ void block_row_max_sumexp(const float* xr, int64_t cols, float* scratch,
                                                     float& m, float& s) {
  float mt = -INFINITY, st = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float v = __ldg(xr + c);
    if (v > mt) {
      st = st * expf(mt - v) + 1.0f;
      mt = v;
    } else if (v != -INFINITY) {
      // A -inf value adds exp(-inf) = 0; skipped, because while mt is still -inf it would add
      // exp(-inf - -inf) = NaN, and NaN * 0 stays NaN when a finite value follows.
      st += expf(v - mt);
    }
  }
  m = block_max(mt, scratch);
  st = mt == -INFINITY ? 0.0f : st * expf(mt - m);
  s = block_sum(st, scratch);
}

inline unsigned row_grid(int64_t rows, int lanes) {
  return grid_for(rows * lanes);
}

// Calls f(std::integral_constant<int, lanes>{}) for a row_lanes() result other than 0.
template <typename F>
void dispatch_lanes(int lanes, F&& f) {
  switch (lanes) {
    case 4:
      f(std::integral_constant<int, 4>{});
      break;
    case 8:
      f(std::integral_constant<int, 8>{});
      break;
    case 16:
      f(std::integral_constant<int, 16>{});
      break;
    default:
      f(std::integral_constant<int, 32>{});
      break;
  }
}

// Device scratch (partial results of multi-pass kernels) from the engine's device allocator, on
// the current device, for the scope.
class Scratch {
 public:
  explicit Scratch(size_t bytes) {
    CUDA_CHECK(cudaGetDevice(&device_));
    ptr_ = engine::cuda::alloc(bytes, device_);
  }
  ~Scratch() { engine::cuda::free(ptr_, device_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  int device_ = 0;
};

// True when p can be read as float4 (16-byte aligned).
inline bool aligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}

}  // namespace engine::cuda
