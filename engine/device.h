// Where a tensor's storage lives: the host, or CUDA device N.
#pragma once

#include <string>
#include <string_view>

namespace engine {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;  // CUDA ordinal; 0 for cpu

  static Device cpu() { return {DeviceType::cpu, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::cuda, index}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool operator==(const Device&) const = default;
  // "cpu" or "cuda:N".
  std::string str() const;
  // Parses "cpu", "cuda" (= cuda:0) and "cuda:N"; throws engine::Error otherwise.
  static Device parse(std::string_view s);
};

// True when the engine was built with the CUDA backend (ENGINE_CUDA) and a device is present.
bool cuda_available();
int cuda_device_count();

}  // namespace engine
