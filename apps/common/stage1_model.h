// The stage-1 network of a training run: the embedding model built from a run's settings
// (apps::TrainConfig) and, for later stages, a finished run folder loaded back with its weights.
// Stage 2 (pseudo-labels, classifier training, prediction; spec spml.md §5.2, §6, §7) starts
// from `load_stage1(run_dir)`, so the architecture flags never have to be repeated.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "apps/common/config.h"
#include "models/embedding_model.h"

namespace apps {

// The embedding network that `config` describes (blocks or depth, stem, width, output stride,
// head, D, ASPP rates, BN momentum, seeds), randomly initialized.
std::unique_ptr<models::EmbeddingModel> build_embedding_model(const TrainConfig& config);

struct Stage1 {
  TrainConfig config;  // the run's config.json
  int64_t step = 0;    // the checkpoint loaded
  std::string weights_path;
  int num_classes = 0;  // from the joint classifier's weights
  std::unique_ptr<models::EmbeddingModel> model;
  // The joint softmax head trained with the embedding (spec §4.6); its probabilities seed the
  // random walk for scribbles, points and boxes (§6.1).
  std::unique_ptr<models::SoftmaxClassifier> classifier;
};

// Loads the network settings (`run_dir`/network.json when present: a classifier run, whose model
// files hold the embedding network and its own classifier; else `run_dir`/config.json) and the
// checkpoint `step` (< 0: the newest complete one), strict:
// every tensor of both modules must be present with its shape. Both modules are in eval mode.
// Errors name the folder or file and what is missing.
Stage1 load_stage1(const std::string& run_dir, int64_t step = -1);

// Moves the embedding network and the classifier (when loaded) to `device` (Module::to).
void move_to(Stage1& net, engine::Device device);

}  // namespace apps
