// Embedding-affinity random walk that turns seed class scores into pseudo-labels
// (../shared/spec/spml.md §6.1): dense affinities between all pixels of the 1/8-resolution
// embedding, a column-stochastic transition matrix, 64 steps of propagation. Runs on the views'
// device: the CPU (OpenMP loops, f64 column sums) or CUDA (engine ops: cuBLAS GEMMs in strict
// FP32 whatever MathFlags::allow_tf32 says, element-wise kernels); results are on that device.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace spml {

// The spec's constants: A_ij = exp(beta·(⟨e_i, e_j⟩ − 1)) averaged over the views, T = A^∘power
// (element-wise), columns normalized to 1, and T^(2^squarings) applied to the scores.
struct RandomWalkConfig {
  float beta = 5.0f;
  int power = 20;
  int squarings = 6;  // 2^6 = 64 steps
};

// Largest walk resolution h·w accepted (the dense N×N matrix is 4·N² bytes: 1 GiB at this N).
constexpr int64_t kRandomWalkMaxPixels = 16384;

// views: one or more f32 [h, w, D] embeddings of the same image at the walk resolution
// (⌊H/8⌋ × ⌊W/8⌋ in the spec; a flipped view must already be flipped back), any norm (each pixel
// is L2-normalized here; a zero vector stays zero). -> f32 [N, N] with N = h·w, pixel index
// y·w + x: T_ij = (mean_v A^v_ij)^power / Σ_i (mean_v A^v_ij)^power, so every column sums to 1.
engine::Tensor random_walk_transition(const std::vector<engine::Tensor>& views,
                                      const RandomWalkConfig& config = RandomWalkConfig());

// scores f32 [h, w, C] (the seed map M of §6.1, channels last) -> f32 [h, w, C], M·T^(2^squarings)
// in the spec's [C, N] notation, i.e. out[j] = Σ_i (T^64)_ij · scores[i]. Evaluated as 64
// successive products with T (C·N² each) rather than six squarings of T (N³ each): the same
// matrix product associated differently, far cheaper for C ≪ N.
engine::Tensor random_walk(const std::vector<engine::Tensor>& views, const engine::Tensor& scores,
                           const RandomWalkConfig& config = RandomWalkConfig());

// The seed preparation for scribbles / points / boxes (§6.1): probs f32 [h, w, C] -> each class
// map divided by its own maximum over the image (a map whose maximum is <= 0 is left at 0) and
// classes with present[c] == false zeroed (background included when absent). present.size() == C.
engine::Tensor normalize_seed_scores(const engine::Tensor& probs, const std::vector<bool>& present);

// The seed for image tags (§6.1): cams f32 [h, w, C-1] for the foreground classes (0 outside the
// image's tags) -> f32 [h, w, C] with channel 0 = (1 − max_c cam_c)^alpha (clamped at 0) and
// channel c+1 = cam_c.
engine::Tensor cam_seed_scores(const engine::Tensor& cams, float alpha = 6.0f);

// The full step 5 of §6.1 without the CRF: random_walk, then bilinear resize (half-pixel centres,
// as OpenCV) of the scores to out_h × out_w. -> f32 [out_h, out_w, C]. Follow with dense_crf and
// argmax_labels (spml/crf.h) for the pseudo-label.
engine::Tensor random_walk_scores(const std::vector<engine::Tensor>& views,
                                  const engine::Tensor& scores, int64_t out_h, int64_t out_w,
                                  const RandomWalkConfig& config = RandomWalkConfig());

}  // namespace spml
