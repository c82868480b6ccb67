// Spatial resizing of NHWC images and feature maps, with PyTorch F.interpolate semantics.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace engine {

// x [N, H, W, C] (f32 or f64) -> [N, out_h, out_w, C], bilinear (mode='bilinear').
// align_corners = true: source = dst * (H - 1) / (out_h - 1) (0 when out_h == 1), so the corner
// pixels coincide. align_corners = false: half-pixel centres, source = (dst + 0.5) * H / out_h -
// 0.5, clamped at 0. Neighbour indices clamp to H - 1. Sizes up or down in any ratio.
// Differentiable in x.
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners);

// x [N, H, W, C] of any dtype -> [N, out_h, out_w, C], PyTorch mode='nearest': source =
// min(floor(dst * H / out_h), H - 1). Label maps keep their ids exactly (use [N, H, W, 1] for a
// [N, H, W] map, or resize_nearest_labels). Differentiable for f32/f64 (the gradient of each input
// pixel sums those of the outputs that copied it).
Tensor resize_nearest(const Tensor& x, int64_t out_h, int64_t out_w);

// Label maps [N, H, W] (any dtype) -> [N, out_h, out_w] with resize_nearest.
Tensor resize_nearest_labels(const Tensor& labels, int64_t out_h, int64_t out_w);

}  // namespace engine
