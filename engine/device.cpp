#include "engine/device.h"

#include <fmt/format.h>

#include <charconv>

#include "engine/error.h"
#include "engine/kernels/memory.h"

namespace engine {

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : fmt::format("cuda:{}", index);
}

Device Device::parse(std::string_view s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.substr(0, 5) == "cuda:") {
    int idx = -1;
    auto tail = s.substr(5);
    auto [p, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), idx);
    if (ec == std::errc() && p == tail.data() + tail.size() && idx >= 0) return cuda(idx);
  }
  ENGINE_THROW("device '{}' is not one of cpu, cuda, cuda:N", s);
}

int cuda_device_count() {
#ifdef ENGINE_WITH_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

bool cuda_available() {
  return cuda_device_count() > 0;
}

}  // namespace engine
