// Stand-ins for the runtime pieces the kernels need until cuda/runtime.cu lands (legacy default
// stream, plain cudaSetDevice, no NVTX); that file replaces this one.
#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/launch.h"
#include "engine/kernels/runtime.h"

namespace engine::cuda {

cudaStream_t current_stream() {
  return nullptr;
}

DeviceGuard::DeviceGuard(int device) {
  CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) CUDA_CHECK(cudaSetDevice(device));
}
DeviceGuard::~DeviceGuard() {
  cudaSetDevice(previous_);
}

int current_device() {
  int d = 0;
  CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

void synchronize() {
  CUDA_CHECK(cudaDeviceSynchronize());
}

NvtxRange::NvtxRange(const char*) {}
NvtxRange::~NvtxRange() {}

}  // namespace engine::cuda
