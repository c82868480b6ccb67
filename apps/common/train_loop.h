// The SPML embedding training loop of apps/train_voc as a library call, so that the end-to-end
// tests run exactly the app's code in-process. docs/training.md describes the run folder, resume
// and the recipe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/config.h"

namespace apps {

// One optimizer step's record (also one line of metrics.jsonl). `step` counts steps done, so the
// first step is 1. Relation losses are NaN when the relation is off.
struct StepLog {
  int64_t step = 0;
  double total = 0, sem_ann = 0, sem_occ = 0, img_sim = 0, feat_aff = 0, ce = 0;
  double lr = 0;
  double images_per_s = 0;
  int64_t segments = 0, memory_segments = 0;
};

struct TrainOutcome {
  std::vector<StepLog> log;     // the steps run by this call
  int64_t steps_done = 0;       // total steps of the run (resumed ones included)
  bool interrupted = false;     // stopped by Ctrl-C (or stop_after) with a checkpoint
  std::string last_checkpoint;  // model file of the newest checkpoint ("" when none)
};

// Trains per `config` (validated first). With config.resume set, continues the run in that folder
// from its latest checkpoint, with the settings of its config.json (flags given now are ignored
// except stop_after, progress, threads and device: the apps pass the stored device unless
// --device is given) and the exact same following steps as an uninterrupted run. A NaN or Inf loss
// throws engine::Error naming the step and the last good checkpoint.
TrainOutcome train_spml(const TrainConfig& config);

}  // namespace apps
