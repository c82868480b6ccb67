// One SPML training objective evaluation (../shared/spec/spml.md §2–4, §4.6, §11): from the
// model's normalized stride-4 embedding and the batch's weak annotations to the per-relation
// losses and the total, with the memory bank of earlier batches.
//
//   location side features -> with-location embedding (re-normalized) -> spherical K-Means per
//   image (no gradient; LossConfig::kmeans_grid / kmeans_iterations) -> segments pure in (label,
//   region) -> current SegmentSet (differentiable prototypes, plain and with-location) + memory
//   bank contents -> spml_loss_fused -> total_loss (with the joint classifier's CE, §4.6).
//
// Usage per optimizer step: compute() -> total.backward() -> optimizer step -> commit(), which
// stores the step's segments (detached) in the memory bank, so the bank holds prototypes computed
// with the weights of their own step, as the reference's.
//
// Pixels taking part: those with valid = 1 (padding added by augmentation takes part in nothing);
// unlabeled pixels (label 255 or any value >= C) take part in clustering, co-occurrence and image
// similarity (spec README decision 3). Regions: when the batch carries none, every image is one
// region (the image-similarity relation then contrasts a pixel against all segments of its
// image); apps/common/train_loop computes an over-segmentation (data/overseg.h) for datasets
// without region maps, so that case only arises for callers that choose it.
//
// Devices: the embedding (and the logits, on the same device) may live on a CUDA device (f32).
// What stays there: the with-location embedding, the K-Means iterations (batched GEMMs, one-hot
// and argmax kernels; with TF32 on, cluster ids may differ from a CPU run where two clusters are
// nearly tied), the segment pooling (index_select / segment_sum), the fused loss
// (cuda/spml_loss.cu) and the joint CE, so the gradient reaches the device embedding and the
// device logits. What runs on the host: labels, valid and regions are read from wherever they
// are (host copies; keeping them on the CPU avoids the copy), resized there, and the cluster
// ids (i32 [N, h, w], one device-to-host copy) are turned into segments there; the relation
// keys are built on the host from the segment keys and uploaded by the fused loss. The memory
// bank holds prototypes on the device they were computed on (keys on the CPU); a bank loaded
// onto another device (MemoryBank::load_state's device) is copied to the embedding's device for
// each step until the next commit() moves its entries there, so load it onto the training device.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "spml/loss_config.h"
#include "spml/memory_bank.h"
#include "spml/segments.h"

namespace spml {

struct ObjectiveInputs {
  // f32 [N, h, w, D]: unit rows (EmbeddingOutput::embedding), differentiable; CPU or CUDA.
  engine::Tensor embedding;
  // u8 [N, H, W] at crop size: weak labels, ids < C labeled, anything else unlabeled. These
  // integer maps may be on any device; they are read on the host.
  engine::Tensor labels;
  // u8 [N, H, W]: 1 = image pixel, 0 = padding. Undefined = all valid.
  engine::Tensor valid;
  // i32 [N, H, W]: over-segmentation region ids (negative on padding). Undefined = one region
  // per image.
  engine::Tensor regions;
  // One foreground-class bitmask per image (bit c = class c).
  std::vector<uint64_t> tags;
  // f32 [N, h, w, C]: the joint classifier's logits, computed from the DETACHED embedding so that
  // the CE's gradient reaches only the head (§4.6). Required when LossConfig::joint_ce; on the
  // embedding's device.
  engine::Tensor logits;
};

struct ObjectiveResult {
  RelationLosses terms;  // per relation (undefined when off)
  engine::Tensor ce;     // joint head CE (undefined when off)
  engine::Tensor total;  // the scalar to back-propagate
  int64_t num_pixels = 0;
  int64_t num_segments = 0;         // current batch
  int64_t num_memory_segments = 0;  // memory bank candidates used
};

class SpmlObjective {
 public:
  // Validates `config` (spml::validate); the memory bank keeps config.memory_batches batches.
  explicit SpmlObjective(LossConfig config);

  // Everything up to the total loss; nothing is stored until commit(). Errors name the input
  // that has the wrong shape or dtype.
  ObjectiveResult compute(const ObjectiveInputs& inputs);
  // Pushes the segments of the last compute() into the memory bank (call after the optimizer
  // step). Without a pending compute() it does nothing.
  void commit();

  const LossConfig& config() const { return config_; }
  MemoryBank& memory() { return memory_; }
  const MemoryBank& memory() const { return memory_; }

 private:
  LossConfig config_;
  MemoryBank memory_;
  SegmentSet pending_;
  int64_t pending_images_ = 0;
  bool has_pending_ = false;
};

// The joint head's cross-entropy (§4.6): logits [N, h, w, C] upsampled bilinearly
// (align_corners false) to the labels' H×W, CE against labels u8 [N, H, W] with every value >= C
// and every padding pixel (valid = 0) ignored. Mean over the counted pixels (0 when none).
engine::Tensor joint_cross_entropy(const engine::Tensor& logits, const engine::Tensor& labels,
                                   const engine::Tensor& valid);

}  // namespace spml
