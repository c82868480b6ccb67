// CUDA_CHECK: wraps a CUDA runtime call; on failure throws engine::Error naming the call and
// CUDA's error string (DESIGN.md "Errors and logs").
#pragma once

#include <cuda_runtime.h>

#include "engine/error.h"

#define CUDA_CHECK(call)                                                         \
  do {                                                                           \
    cudaError_t err_ = (call);                                                   \
    if (err_ != cudaSuccess) [[unlikely]] {                                      \
      ENGINE_THROW("CUDA error in {}: {} ({})", #call, cudaGetErrorString(err_), \
                   cudaGetErrorName(err_));                                      \
    }                                                                            \
  } while (0)
