// Stand-in for the parts of cuda/runtime.cu (another branch) that the kernels of this branch
// call: the default stream, default math flags, device guard, synchronize and a no-op NVTX range.
// Deleted when the real runtime is merged; it exists only so that this branch links on its own.
#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/kernel_util.h"
#include "engine/kernels/runtime.h"

namespace engine::cuda {

namespace {
MathFlags g_flags;
}

cudaStream_t current_stream() {
  return nullptr;
}

MathFlags math_flags() {
  return g_flags;
}

void set_math_flags(const MathFlags& flags) {
  g_flags = flags;
}

int current_device() {
  int d = 0;
  CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

void synchronize() {
  CUDA_CHECK(cudaDeviceSynchronize());
}

DeviceGuard::DeviceGuard(int device) : previous_(current_device()) {
  if (previous_ != device) CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() {
  cudaSetDevice(previous_);
}

NvtxRange::NvtxRange(const char*) {}
NvtxRange::~NvtxRange() {}

}  // namespace engine::cuda
