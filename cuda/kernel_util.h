// Internal helpers for the hand-written kernels of cuda/*.cu: grid sizing, launch checks, and
// the compute stream every launch goes on. Not part of the engine API.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/check.h"
#include "cuda/runtime.h"  // current_stream(): every launch goes on it; grid_for

namespace engine::cuda {

constexpr int kThreads = kBlock;

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
