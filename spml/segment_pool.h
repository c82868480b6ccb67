// Segment pooling (../shared/spec/spml.md §3): each segment's prototype is the mean direction of
// its pixels' unit embeddings, L2-normalize(Σ e_i), differentiable back to the embeddings.
#pragma once

#include "engine/tensor.h"
#include "spml/segments.h"

namespace spml {

// The embedding rows of the segmented (valid) pixels: embedding [N, h, w, D] -> [P, D] in
// Segments::pixel_index order. Differentiable.
engine::Tensor segment_pixels(const engine::Tensor& embedding, const Segments& segments);

// pixels [P, D] (rows of segment_pixels) -> prototypes [S, D], unit rows. Differentiable; the
// sum is deterministic (engine::segment_sum).
engine::Tensor pool_prototypes(const engine::Tensor& pixels, const Segments& segments);

// The current batch's SegmentSet: prototypes from `embedding`, and from `embedding_loc` (the
// with-side-features embedding, [N, h, w, D + S]) when defined, with the segments' keys moved to
// the embedding's device.
SegmentSet make_segment_set(const engine::Tensor& embedding, const engine::Tensor& embedding_loc,
                            const Segments& segments);

}  // namespace spml
