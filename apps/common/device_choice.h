// The --device flag of the apps: where the network's forward (and, when training, backward and
// optimizer step) runs, and in stage 2 the random walk, the dense CRF and the k-means of the kNN
// paths. Reading and decoding data, augmentation, label files and the kNN retrieval stay on the
// CPU (docs/gpu.md, "Stage 2 on a GPU").
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

// The device that RUN/config.json records (Config: TrainConfig or ClassifierConfig, read with
// its apply_json_file), so that an app resumes a run on its own device unless --device is given.
template <typename Config>
std::string stored_device(const std::string& run_dir) {
  Config stored;
  apply_json_file(stored, run_dir + "/config.json");
  return stored.device;
}

}  // namespace apps
