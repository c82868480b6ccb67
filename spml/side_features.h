// Parameter-free per-pixel side features (../shared/spec/spml.md §1.5): pixel location for every
// model, and smoothed, normalized colour for the DensePose model. They are used only by
// clustering and by the low-level image-similarity relation, never fed to the network.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace spml {

// f32 [n, h, w, 2]: (y, x), each linspace(0, 1, size) - 0.5, so [-0.5, 0.5] over the map
// (0 for a map of size 1). On `device`.
engine::Tensor location_features(int64_t n, int64_t h, int64_t w,
                                 engine::Device device = engine::Device::cpu());

// f32 [N, h, w, 3] from images f32 [N, H, W, 3] (H, W >= 5): smoothed by the reference's 5×5
// kernel (weight = distance from the centre, normalized to sum 1, no padding, so the map
// shrinks by 4), resized bilinearly to h×w, then per image and channel the mean subtracted and
// the result divided by its maximum |value|, giving [-1, 1]. Not differentiable.
engine::Tensor color_features(const engine::Tensor& images, int64_t h, int64_t w);

// l2_normalize(concat(embedding, side)) over the last dim: embedding [N, h, w, D] (unit rows),
// side [N, h, w, S] -> [N, h, w, D + S]. Differentiable with respect to the embedding.
engine::Tensor with_side_features(const engine::Tensor& embedding, const engine::Tensor& side);

}  // namespace spml
