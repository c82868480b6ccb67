// CUDA_CHECK, CUBLAS_CHECK, CUDNN_CHECK: wrap a CUDA runtime, cuBLAS or cuDNN call; on failure
// throw engine::Error naming the call and the library's error string (DESIGN.md "Errors and
// logs"). CUBLAS_CHECK and CUDNN_CHECK need cuda/handles.h (which includes the libraries).
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

#define CUBLAS_CHECK(call)                                                                      \
  do {                                                                                          \
    cublasStatus_t st_ = (call);                                                                \
    if (st_ != CUBLAS_STATUS_SUCCESS) [[unlikely]] {                                            \
      ENGINE_THROW("cuBLAS error in {}: {} ({})", #call, cublasGetStatusString(st_), int(st_)); \
    }                                                                                           \
  } while (0)

#define CUDNN_CHECK(call)                                                                    \
  do {                                                                                       \
    cudnnStatus_t st_ = (call);                                                              \
    if (st_ != CUDNN_STATUS_SUCCESS) [[unlikely]] {                                          \
      ENGINE_THROW("cuDNN error in {}: {} ({})", #call, cudnnGetErrorString(st_), int(st_)); \
    }                                                                                        \
  } while (0)
