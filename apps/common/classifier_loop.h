// SPML stage 2 (spec ../shared/spec/spml.md §5.2): the training loop of apps/train_classifier as a
// library call. A new softmax classifier (§1.6, dropout 0.65) learns the pseudo-labels of
// apps/pseudo_label on top of the frozen stage-1 embedding network. docs/classifier.md describes
// the run folder and the recipe.
//
// Run folder (apps/common/run_folder.h):
//   config.json             the resolved ClassifierConfig (data_root and labels made absolute)
//   network.json            the stage-1 run's settings (apps::to_json(TrainConfig)), so that
//                           apps::load_stage1(RUN) rebuilds the network
//   metrics.jsonl           {"step", "loss", "lr", "images_per_s", "pixel_accuracy", ...} per step
//   model-<s>.safetensors   the embedding network's tensors (unchanged from stage 1) and the new
//                           classifier's (semantic_classifier.*): load_stage1(RUN) returns the
//                           stage-1 network with this classifier
//   state-<s>.{safetensors,json}  SGD momentum; step, loader state, dropout generator
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/classifier_config.h"

namespace apps {

// One optimizer step (also one line of metrics.jsonl); `step` counts steps done (first = 1).
struct ClassifierStepLog {
  int64_t step = 0;
  double loss = 0;            // mean CE over the batch's labeled, non-padding pixels
  double pixel_accuracy = 0;  // argmax == label over the same pixels (NaN when none)
  double lr = 0;              // base lr of the step (the classifier's weights get ×head_lr_mult)
  double images_per_s = 0;
};

struct ClassifierOutcome {
  std::vector<ClassifierStepLog> log;  // the steps run by this call
  int64_t steps_done = 0;              // total steps of the run (resumed ones included)
  bool interrupted = false;            // stopped by Ctrl-C or stop_after, with a checkpoint
  std::string last_checkpoint;         // model file of the newest checkpoint ("" when none)
};

// The pseudo-label directory `labels` as an absolute path: itself when absolute; ROOT/labels when
// that directory exists; else labels relative to the working directory. Throws naming every
// place it looked when none is a directory.
std::string resolve_label_dir(const std::string& data_root, const std::string& labels);

// Trains per `config` (validated first). The stage-1 network (config.run, checkpoint run_step)
// is frozen: eval mode (BatchNorm with running statistics), no gradients. Each step: loader batch
// (flip, scale, pad/crop; data/loader.h) -> colour augmentation (data/color_augment.h, on the
// batch, keyed per sample) -> mean/std normalization -> embedding -> classifier logits
// [N, h, w, C] -> bilinear upsampling to the crop -> CE with ignore 255 (label values >= C and
// padding are ignored) -> SGD step with the poly schedule.
//
// With config.resume set, continues that classifier run from its latest checkpoint with the
// settings of its config.json (flags given now are ignored except stop_after, progress, threads
// and device: the app passes the stored device unless --device is given), giving exactly the
// losses of an uninterrupted run. The first SIGINT (signals.h) stops
// after the current step with a checkpoint. A NaN or Inf loss throws engine::Error naming the
// step and the last good checkpoint.
ClassifierOutcome train_classifier(const ClassifierConfig& config);

}  // namespace apps
