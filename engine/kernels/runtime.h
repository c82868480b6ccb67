// The CUDA runtime seen from the engine: the current device and its compute stream, flags
// (TF32, deterministic algorithms), allocator statistics, NVTX ranges and profiler capture.
// Implemented in cuda/runtime.cu and cuda/allocator.cu; declared here so that engine/ ops can
// call them without including a CUDA header. In a build without CUDA, none of these is defined:
// callers reach them only through ops::dispatch_float's CUDA branch or under ENGINE_WITH_CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace engine::cuda {

// Makes `device` current for the scope (cudaSetDevice), restoring the previous device after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_;
};

int current_device();
// Blocks until all work queued on the current device's compute stream has finished.
void synchronize();

// Process-wide math settings, read when a GEMM or convolution is planned.
struct MathFlags {
  bool allow_tf32 = true;        // TF32 tensor cores for f32 GEMMs and convolutions
  bool deterministic = false;    // deterministic algorithms only (cuDNN, scatter/index_add)
  bool cudnn_benchmark = false;  // measure convolution algorithms instead of heuristics
};
MathFlags math_flags();
void set_math_flags(const MathFlags& flags);

// The caching allocator's statistics for one device, in bytes.
struct AllocatorStats {
  size_t in_use = 0;             // handed out to tensors and workspaces
  size_t peak = 0;               // maximum of in_use since the last reset_peak
  size_t reserved = 0;           // obtained from cudaMalloc (in_use + cached)
  int64_t num_allocs = 0;        // requests served
  int64_t num_cuda_mallocs = 0;  // of which needed a cudaMalloc
};
AllocatorStats allocator_stats(int device);
void reset_peak(int device);
// Returns cached, unused blocks of every device to the driver.
void empty_cache();

// NVTX range for the scope (a no-op when no tool is attached).
class NvtxRange {
 public:
  explicit NvtxRange(const char* name);
  ~NvtxRange();
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};
// cudaProfilerStart/Stop, for nsys --capture-range=cudaProfilerApi.
void profiler_start();
void profiler_stop();

}  // namespace engine::cuda
