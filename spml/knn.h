// Nearest-prototype labelling of segments: kNN pseudo-labels for image tags
// (../shared/spec/spml.md §6.2) and kNN segment retrieval inference (§7). CPU.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace spml {

constexpr int32_t kKnnIgnore = 255;

// The retrieval memory: one prototype per training segment. Built with make_prototype_memory.
struct PrototypeMemory {
  engine::Tensor prototypes;  // f32 [M, D], unit rows (zero rows never win a vote)
  engine::Tensor labels;      // i32 [M]; 255 (kKnnIgnore) entries are never retrieved
};

// prototypes f32 [M, D] (any norm; rows are L2-normalized here) and labels i32 [M] -> a memory.
// Several images' memories concatenate with concat_prototype_memory.
PrototypeMemory make_prototype_memory(const engine::Tensor& prototypes,
                                      const engine::Tensor& labels);
PrototypeMemory concat_prototype_memory(const std::vector<PrototypeMemory>& parts);

// features f32 [h, w, D], cluster_ids i32 [h, w] in [0, K) or -1 (pixel not clustered) ->
// f32 [K, D], each cluster's L2-normalized mean feature (the zero vector for an empty cluster).
engine::Tensor cluster_prototypes(const engine::Tensor& features, const engine::Tensor& cluster_ids,
                                  int64_t num_clusters);

// cluster_ids i32 [h, w] (as above), labels [h, w] u8 or i32 (pseudo-labels or annotations) ->
// i32 [K], each cluster's majority label with 255 counted as a class of its own (§6.2 step 1.3);
// ties go to the smallest label; an empty cluster gets 255. Labels must lie in [0, 255].
engine::Tensor cluster_majority_labels(const engine::Tensor& cluster_ids,
                                       const engine::Tensor& labels, int64_t num_clusters);

struct KnnConfig {
  int k = 20;  // top-20 in both §6.2 and §7
};

// queries f32 [K, D] (any norm) -> f32 [K, C]: for each query, the fraction of its top-k memory
// prototypes (by cosine; ties to the lower memory index) that carry each class. Memory entries
// labelled 255 or >= num_classes are excluded before the top-k is taken; with fewer than k
// candidates the fractions are over those that exist. A zero query gets all zeros.
engine::Tensor knn_votes(const engine::Tensor& queries, const PrototypeMemory& memory,
                         int num_classes, const KnnConfig& config = KnnConfig());

// cluster_ids i32 [h, w], scores f32 [K, C] -> f32 [h, w, C]; unclustered pixels (-1) get 0.
engine::Tensor broadcast_cluster_scores(const engine::Tensor& cluster_ids,
                                        const engine::Tensor& scores);

// §6.2 step 2.5: scores f32 [H, W, C] -> a copy where each class with tags[c] set is divided by
// max(its maximum over the image, floor); classes not in the tags are left unchanged (the
// reference does not zero them).
engine::Tensor normalize_tag_scores(const engine::Tensor& scores, const std::vector<bool>& tags,
                                    float floor = 0.15f);

// §7 kNN retrieval: cluster_ids i32 [h, w], queries f32 [K, D] (the image's cluster prototypes)
// -> i32 [h, w], each cluster's majority class among its top-k prototypes (argmax of the vote
// counts, ties to the lowest class id); unclustered pixels and clusters with no votes get 255.
engine::Tensor knn_retrieval_labels(const engine::Tensor& cluster_ids,
                                    const engine::Tensor& queries, const PrototypeMemory& memory,
                                    int num_classes, const KnnConfig& config = KnnConfig());

}  // namespace spml
