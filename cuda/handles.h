// Internal to the CUDA backend: cuBLAS, cuBLASLt and cuDNN handles of the current device for the
// calling thread. Each is created on first use per (device, thread), bound to the device's
// compute stream, and kept for reuse: when a thread ends, its handles go to a per-device pool
// that the next new thread draws from (destroying them at process exit would race the CUDA
// runtime's teardown).
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cudnn.h>

#include "cuda/check.h"

namespace engine::cuda {

cublasHandle_t cublas_handle();
cublasLtHandle_t cublaslt_handle();
cudnnHandle_t cudnn_handle();

}  // namespace engine::cuda
