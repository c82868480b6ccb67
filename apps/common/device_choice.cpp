#include "apps/common/device_choice.h"

#include "engine/error.h"
#if ENGINE_WITH_CUDA
#include "engine/kernels/runtime.h"
#endif

namespace apps {

namespace {
#if ENGINE_WITH_CUDA
constexpr bool kBuiltWithCuda = true;
#else
constexpr bool kBuiltWithCuda = false;
#endif
}  // namespace

engine::Device choose_device(const std::string& name, const std::string& app) {
  const engine::Device device = engine::Device::parse(name);
  ENGINE_CHECK(device.is_cpu() || device.index < engine::cuda_device_count(),
               "{}: --device {} asked for, but {} CUDA device(s) are visible{}", app, name,
               engine::cuda_device_count(),
               kBuiltWithCuda ? "" : " (this build has no CUDA: configure with -DENGINE_CUDA=ON)");
  return device;
}

std::string gpu_memory_fields([[maybe_unused]] engine::Device device) {
#if ENGINE_WITH_CUDA
  if (device.is_cuda()) {
    const auto s = engine::cuda::allocator_stats(device.index);
    engine::cuda::reset_peak(device.index);
    return ", \"gpu_bytes_in_use\": " + std::to_string(s.in_use) +
           ", \"gpu_peak_bytes\": " + std::to_string(s.peak) +
           ", \"gpu_reserved_bytes\": " + std::to_string(s.reserved);
  }
#endif
  return {};
}

}  // namespace apps
