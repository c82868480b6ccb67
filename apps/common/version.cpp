#include "apps/common/version.h"

#include <fmt/format.h>

#include "engine/device.h"

namespace apps {

std::string version_line() {
#if ENGINE_WITH_CUDA
  const char* backend = "yes";
#else
  const char* backend = "no";
#endif
  return fmt::format("spml-engine {} (CUDA backend: {}, devices: {})", ENGINE_VERSION, backend,
                     engine::cuda_device_count());
}

}  // namespace apps
