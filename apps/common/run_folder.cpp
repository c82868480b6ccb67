#include "apps/common/run_folder.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace apps {

namespace fs = std::filesystem;

RunFolder::RunFolder(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  ENGINE_CHECK(!ec && fs::is_directory(dir_), "run folder {}: cannot create it ({})", dir_,
               ec.message());
}

void RunFolder::write_config(const std::string& json) const {
  engine::io::write_file_atomic(dir_ + "/config.json", json);
}

void RunFolder::append_metrics(const std::string& line) const {
  std::ofstream out(dir_ + "/metrics.jsonl", std::ios::app | std::ios::binary);
  ENGINE_CHECK(out.good(), "run folder {}: cannot append to metrics.jsonl", dir_);
  out << line << '\n';
  out.flush();
}

void RunFolder::truncate_metrics(int64_t step) const {
  const std::string path = dir_ + "/metrics.jsonl";
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    long long s = -1;
    if (std::sscanf(line.c_str(), "{\"step\": %lld", &s) == 1 && s > step) continue;
    kept += line + '\n';
  }
  in.close();
  engine::io::write_file_atomic(path, kept);
}

std::string RunFolder::model_path(int64_t step) const {
  return dir_ + "/model-" + std::to_string(step) + ".safetensors";
}
std::string RunFolder::state_tensors_path(int64_t step) const {
  return dir_ + "/state-" + std::to_string(step) + ".safetensors";
}
std::string RunFolder::state_json_path(int64_t step) const {
  return dir_ + "/state-" + std::to_string(step) + ".json";
}

void RunFolder::save_checkpoint(int64_t step, const engine::io::NamedTensors& model,
                                const engine::io::NamedTensors& state,
                                const std::string& state_json, int64_t keep) const {
  engine::io::save_safetensors(model_path(step), model,
                               {{"layout", "OHWI"}, {"format", "engine-weights"}});
  engine::io::save_safetensors(state_tensors_path(step), state);
  engine::io::write_file_atomic(state_json_path(step), state_json);
  std::vector<int64_t> steps = checkpoints();
  for (size_t i = 0; i + size_t(keep) < steps.size(); ++i) {
    std::error_code ec;
    // The state JSON goes first: a half-deleted checkpoint is then never taken as complete.
    fs::remove(state_json_path(steps[i]), ec);
    fs::remove(model_path(steps[i]), ec);
    fs::remove(state_tensors_path(steps[i]), ec);
  }
}

std::vector<int64_t> RunFolder::checkpoints() const {
  std::vector<int64_t> steps;
  for (const auto& e : fs::directory_iterator(dir_)) {
    const std::string name = e.path().filename().string();
    long long s = -1;
    char tail[8] = {0};
    if (std::sscanf(name.c_str(), "state-%lld.%5s", &s, tail) == 2 && std::string(tail) == "json" &&
        name == "state-" + std::to_string(s) + ".json" && fs::exists(model_path(s)) &&
        fs::exists(state_tensors_path(s)))
      steps.push_back(s);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

int64_t RunFolder::latest_checkpoint() const {
  std::vector<int64_t> steps = checkpoints();
  ENGINE_CHECK(!steps.empty(),
               "run folder {}: no complete checkpoint (model-<s>.safetensors, "
               "state-<s>.safetensors and state-<s>.json) to resume from",
               dir_);
  return steps.back();
}

MemoryUse memory_use() {
  MemoryUse m;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    long long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %lld kB", &kb) == 1) m.rss = kb * 1024;
    if (std::sscanf(line.c_str(), "VmHWM: %lld kB", &kb) == 1) m.peak_rss = kb * 1024;
  }
  return m;
}

}  // namespace apps
