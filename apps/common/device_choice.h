// The --device flag of the apps: which device runs the network. Only the network's forward (and,
// when training, backward and optimizer step) runs there; data loading, augmentation and the
// post-processing of stage 2 (random walk, CRF, k-means, kNN) stay on the CPU.
#pragma once

#include <string>

#include "engine/device.h"

namespace apps {

// Parses "cpu", "cuda" or "cuda:N" and checks that the device exists in this build and on this
// machine. Errors name `app`, the value asked for and how many CUDA devices are visible.
engine::Device choose_device(const std::string& name, const std::string& app);

// The CUDA caching allocator's bytes in use now and at peak since the previous call on
// `device`, as extra metrics.jsonl fields (", \"gpu_bytes_in_use\": ..., \"gpu_peak_bytes\": ...,
// \"gpu_reserved_bytes\": ..."); resets the peak. Empty on the CPU.
std::string gpu_memory_fields(engine::Device device);

}  // namespace apps
