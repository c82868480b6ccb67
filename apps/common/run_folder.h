// A training run's folder:
//   config.json                    resolved settings
//   metrics.jsonl                  one JSON object per step ({"step": s, ...}, s = steps done)
//   model-<s>.safetensors          weights after s steps (embedding model + joint classifier)
//   state-<s>.safetensors          optimizer momentum ("optim.<param>") and memory bank
//                                  ("memory.<i>.<field>") tensors
//   state-<s>.json                 step, loader state, generators; written last, so a checkpoint
//                                  counts only when its state JSON exists
// Every file is written atomically (engine/io/atomic_file.h); only the last `keep` checkpoints
// are kept.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"

namespace apps {

class RunFolder {
 public:
  // Creates `dir` (and its parents) when missing.
  explicit RunFolder(std::string dir);
  const std::string& dir() const { return dir_; }

  void write_config(const std::string& json) const;
  // Appends one line (a JSON object without newline) and flushes it.
  void append_metrics(const std::string& line) const;
  // Drops metric lines of steps > `step` (after a resume from checkpoint `step`, the lines an
  // interrupted run wrote past it would otherwise be duplicated).
  void truncate_metrics(int64_t step) const;

  std::string model_path(int64_t step) const;
  std::string state_tensors_path(int64_t step) const;
  std::string state_json_path(int64_t step) const;

  // Writes the three files of checkpoint `step` (state JSON last), then deletes all but the
  // newest `keep` complete checkpoints.
  void save_checkpoint(int64_t step, const engine::io::NamedTensors& model,
                       const engine::io::NamedTensors& state, const std::string& state_json,
                       int64_t keep) const;
  // Steps of the complete checkpoints, ascending.
  std::vector<int64_t> checkpoints() const;
  // The newest complete checkpoint's step; throws naming the folder when there is none.
  int64_t latest_checkpoint() const;

 private:
  std::string dir_;
};

// Memory in use, for the metrics: resident set size and its peak, in bytes (Linux /proc).
struct MemoryUse {
  int64_t rss = 0;
  int64_t peak_rss = 0;
};
MemoryUse memory_use();

}  // namespace apps
