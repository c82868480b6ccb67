// Internal helpers for the hand-written kernels of cuda/*.cu: grid sizing, launch checks, and
// the compute stream every launch goes on. Not part of the engine API.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/check.h"

namespace engine::cuda {

// The current device's compute stream (cuda/runtime.cu). Every kernel launch goes on it, so that
// ops are ordered with the allocator's stream-aware reuse and with copies.
cudaStream_t current_stream();

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items: enough to fill the GPU, capped so that the
// grid-stride loop does the rest (grid x may be up to 2^31 - 1, but more blocks than this
// only add scheduling overhead).
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t g = (n + threads - 1) / threads;
  return unsigned(std::clamp<int64_t>(g, 1, int64_t(1) << 20));
}

inline int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace engine::cuda

// After every launch: a bad configuration raises engine::Error naming the kernel's call site.
#define ENGINE_CUDA_LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())

// Grid-stride loop over [0, n) with a 64-bit index.
#define ENGINE_CUDA_LOOP(i, n)                                                     \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < int64_t(n); \
       i += int64_t(gridDim.x) * blockDim.x)
