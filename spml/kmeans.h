// Spherical K-Means per image (../shared/spec/spml.md §2.2–2.3): the segments SPML contrasts
// start as clusters of unit feature vectors (embedding ⊕ side features, re-normalized).
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace spml {

struct KMeansConfig {
  // The K×K grid that initializes the clusters: 6 for VOC training, 12 for VOC inference and
  // DensePose training, 24 for DensePose inference.
  int grid = 6;
  // M-step (prototype = normalized sum of its pixels) then E-step (argmax cosine), this many
  // times; no convergence test. 0 returns the grid.
  int iterations = 10;
};

// The rounded-grid initialization: pixel (y, x) of an h×w map starts in cluster row + K·col with
// row = round(linspace(0, K-1, h)[y]) and col = round(linspace(0, K-1, w)[x]), so the first and
// last grid rows and columns are half as wide. i32 [h, w] on the CPU.
engine::Tensor kmeans_grid(int64_t h, int64_t w, int grid);

// features f32 [N, h, w, F] with unit rows; valid u8 [N, h, w] (1 = the pixel takes part; may be
// undefined = all) -> i32 [N, h, w] cluster ids in [0, K²) per image, -1 where not valid, on the
// CPU. An empty cluster's prototype is the zero vector (similarity 0 to everything), as in the
// reference. Ties go to the lowest cluster id. No gradient. Runs on the features' device: the
// steps are batched GEMMs, so the CUDA backend gets them from cuBLAS.
engine::Tensor spherical_kmeans(const engine::Tensor& features, const engine::Tensor& valid,
                                const KMeansConfig& config);

}  // namespace spml
