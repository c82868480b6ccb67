// Configuration of the SPML pixel-to-segment contrastive loss (../shared/spec/spml.md §4): one
// switch, concentration κ and weight per relation, the feature-affinity pseudo-label rule, and the
// presets of spec §4.7 plus the SegSort baseline (README decision 2).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/tensor.h"

namespace spml {

struct RelationParams {
  bool enabled = false;
  double concentration = 0.0;  // κ: logits are κ·cos(e_i, μ_j)
  double weight = 0.0;         // w in the total loss
};

// Feature affinity (paper §3.1; spec §4.4 has no working reference): every unlabeled segment
// (current and memory) takes the labels of its `top_k` most similar labeled segments (cosine of
// the plain prototypes, any image, current and memory) whose cosine is at least
// `min_similarity`; the union of those labels is its key, compared with the set rule. Unlabeled
// segments with no such neighbour take no part.
struct FeatureAffinityParams {
  int top_k = 1;                // the paper: "its nearest labeled segment"
  double min_similarity = 0.0;  // cosine; neighbours pointing away never donate a label
};

struct LossConfig {
  int num_classes = 21;     // C: labels 0..C-1; tags are a bitmask, so C <= 63
  RelationParams sem_ann;   // semantic annotation (spec §4.2)
  RelationParams sem_occ;   // semantic co-occurrence, set form over image tags (§4.3)
  RelationParams img_sim;   // low-level image similarity, per image, region key (§4.5)
  RelationParams feat_aff;  // feature affinity (§4.4, our design above)
  FeatureAffinityParams feat_aff_params;
  // img_sim on the with-location embedding and prototypes_loc (VOC) or on the plain ones
  // (DensePose).
  bool img_sim_use_location = true;
  // The joint softmax head's cross-entropy (§4.6) enters the total inside the annotation weight.
  bool joint_ce = true;
  // Used by the trainer, not by the loss: memory-bank depth (batches) and training k-means grid.
  int memory_batches = 2;
  int kmeans_grid = 6;
  int kmeans_iterations = 10;
};

// Throws with the offending field when κ <= 0 for an enabled relation, a weight is negative,
// num_classes is outside [1, 63], or the affinity parameters are out of range.
void validate(const LossConfig& config);

// Presets: voc_scribble, voc_tag, voc_box, voc_point, densepose_point, segsort.
LossConfig loss_preset(std::string_view name);
std::vector<std::string> loss_preset_names();
// One JSON object (for --print-config and run folders).
std::string to_json(const LossConfig& config);

// Per-relation losses (f32/f64 scalars; undefined when the relation is off).
struct RelationLosses {
  engine::Tensor sem_ann, sem_occ, img_sim, feat_aff;
};

// total = w_ann·(CE + L_ann) + w_occ·L_occ + w_img·L_img + w_aff·L_aff (spec §4.6, §4.7). `ce` is
// the joint head's cross-entropy scalar; undefined when config.joint_ce is false (checked).
engine::Tensor total_loss(const LossConfig& config, const RelationLosses& losses,
                          const engine::Tensor& ce = engine::Tensor());

}  // namespace spml
