// Built-in over-segmentation (../shared/spec/README.md decision 6): region maps for images that
// come without precomputed HED/UCM regions. Felzenszwalb–Huttenlocher graph segmentation
// ("Efficient Graph-Based Image Segmentation", IJCV 2004) on the Gaussian-smoothed RGB image over
// the 8-neighbour pixel grid; docs/data-synthetic.md says why this algorithm and not SLIC.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace data {

struct OversegParams {
  // Gaussian pre-smoothing, standard deviation in pixels (0 = none).
  float sigma = 0.8f;
  // Scale of observation: a region merges with a neighbour while the joining edge is no heavier
  // than its internal difference plus k / |region|. Larger k, larger regions. Units: RGB
  // Euclidean distance (0..441) times pixels.
  float k = 300.f;
  // Regions smaller than this many pixels are merged into their most similar neighbour.
  int min_size = 50;
};

// Region ids of a u8 [H, W, 3] RGB image as i32 [H, W]: ids 0..R-1, numbered in the order
// regions first appear in raster order (top-left to bottom-right), every region 8-connected.
// R <= 65535 always (so the map fits a 16-bit PNG): when there would be more, min_size is
// doubled until there are not. Deterministic; single-threaded (callers run images in parallel).
engine::Tensor oversegment(const engine::Tensor& rgb, const OversegParams& params = {});

// The number of regions of a map from oversegment() (its largest id + 1; 0 for an empty map).
int64_t count_regions(const engine::Tensor& regions);

}  // namespace data
