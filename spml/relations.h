// The four SPML relations as keys (../shared/spec/spml.md §4; docs/spml-loss.md). Each relation
// gives every pixel a key (negative: the pixel takes no part) and every candidate segment a key
// (negative: not a candidate), and a match rule; positives and negatives of a pixel then follow
// from the keys pair by pair inside the loss kernels, so no pixel×segment mask is ever stored.
// The per-pair rule and the per-pixel finish live in spml/relation_rules.h (ENGINE_HD, shared
// with the CUDA kernels).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "spml/loss_config.h"
#include "spml/relation_rules.h"
#include "spml/segments.h"

namespace spml {

enum class Relation : int32_t { kSemAnn = 0, kSemOcc = 1, kImgSim = 2, kFeatAff = 3 };
constexpr int kNumRelations = 4;
const char* relation_name(Relation r);

// What the loss sees of one training step. Pixels are the batch's valid pixels (Segments order).
struct LossInputs {
  engine::Tensor embedding;      // f32/f64 [P, D]: unit rows (differentiable)
  engine::Tensor embedding_loc;  // [P, D + side]: with-location unit rows; needed only by img_sim
                                 // with LossConfig::img_sim_use_location
  engine::Tensor pixel_segment;  // i32 [P]: own segment, an index into `current`
  SegmentSet current;            // this batch's segments; prototypes differentiable
  SegmentSet memory;             // memory bank (constants); size() == 0 when empty
};

// One relation's keys over the candidates of its space.
struct RelationKeys {
  Relation relation = Relation::kSemAnn;
  int32_t rule = kMatchEqual;
  double concentration = 0.0;
  std::vector<int64_t> pixel_key;    // [P]; < 0: the pixel takes no part
  std::vector<int64_t> segment_key;  // [num_candidates]; < 0: not a candidate
  std::vector<double> pixel_weight;  // [P]: factor of ℓ_i in this relation's mean (0 if absent)
  int64_t num_pixels_in = 0;         // pixels taking part
};

// Relations sharing one embedding space and candidate list. Candidates are the current segments
// followed by the memory bank's (plain space), or the current segments only (location space of
// img_sim). A pixel's candidates are further limited to [cand_lo, cand_hi): the whole list, or
// its image's segments (img_sim; segments are contiguous per image).
struct RelationSpace {
  bool location = false;       // embedding_loc / prototypes_loc
  int64_t num_candidates = 0;  // rows of the candidate prototype matrix
  int64_t num_grad = 0;        // the first num_grad candidates are current (differentiable)
  std::vector<int32_t> cand_lo, cand_hi;  // [P]
  std::vector<RelationKeys> relations;
};

struct LossPlan {
  std::vector<int32_t> own;  // [P]: own segment (index into the current segments)
  RelationSpace plain;       // sem_ann, sem_occ, feat_aff
  RelationSpace local;       // img_sim
};

// Checks the inputs (shapes, dtypes, key ranges; errors name the tensor) and derives every
// enabled relation's keys (host work, O(P·R + S)); feature affinity also runs its
// nearest-labeled-neighbour search over the detached prototypes.
LossPlan build_loss_plan(const LossInputs& inputs, const LossConfig& config);

// Feature-affinity segment keys (bitmask of labels) for segments with prototypes [S, D] (any
// float dtype, unit rows) and labels [S] (kUnlabeledSegment for unlabeled): a labeled segment's
// key is its own label bit; an unlabeled one's is the union of the labels of its top_k most
// similar labeled segments with cosine >= min_similarity, or -1 (no part) when there are none.
std::vector<int64_t> feature_affinity_keys(const engine::Tensor& prototypes,
                                           const std::vector<int32_t>& labels,
                                           const FeatureAffinityParams& params);

}  // namespace spml
