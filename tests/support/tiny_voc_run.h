// The tiny synthetic VOC-layout dataset and the tiny stage-1 network that the training and
// stage-2 tests share: small enough to train a few steps inside a test on one core. Header-only:
// the op-table library that holds tests/support/*.cpp does not link the apps.
#pragma once

#include <cstdint>
#include <string>

#include "apps/common/config.h"
#include "data/synthetic.h"

namespace engine::testing {

// Writes num_train + num_val synthetic scenes of height × width (3 classes, over-segmentation
// regions of at least 10 pixels) in the VOC layout under `root` (2 writer threads).
inline void write_tiny_voc(const std::string& root, uint64_t seed, int64_t num_train,
                           int64_t num_val, int height, int width) {
  data::SyntheticDatasetSpec spec;
  spec.root = root;
  spec.seed = seed;
  spec.num_train = num_train;
  spec.num_val = num_val;
  spec.config.height = height;
  spec.config.width = width;
  spec.config.num_classes = 3;
  spec.config.overseg.min_size = 10;
  data::write_synthetic_dataset(spec, 2, false);
}

// A scribble-supervised run of a tiny ResNet-DeepLab (blocks 1-1-1-1, width 8, D 8, ASPP rates
// 1 and 2) on `data_root`: crop 32, batch 4, lr 0.01 without warm-up, 2 loader threads, no
// progress bar. Callers set the iterations and whatever else their test is about.
inline apps::TrainConfig tiny_train_config(const std::string& data_root,
                                           const std::string& run_dir) {
  apps::TrainConfig c;
  c.data_root = data_root;
  c.supervision = "scribble";
  c.blocks = {1, 1, 1, 1};
  c.width = 8;
  c.embedding_dim = 8;
  c.aspp_rates = {1, 2};
  c.crop = 32;
  c.batch_size = 4;
  c.loader_threads = 2;
  c.warmup_iters = 0;
  c.lr = 0.01;
  c.progress = false;
  c.run_dir = run_dir;
  return c;
}

}  // namespace engine::testing
