// Segment formation (../shared/spec/spml.md §2.4, §3): the K-Means clusters of each image split
// by every distinct (weak-label value, over-segmentation region) pair, so that every segment is
// pure in label and region. Integer work on the CPU: O(pixels log pixels) per batch.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "spml/segments.h"

namespace spml {

// clusters i32 [N, h, w] (-1 = pixel takes no part, from spherical_kmeans); labels u8 [N, h, w]
// (class ids < num_classes, anything else = unlabeled, e.g. 255); regions i32 [N, h, w] (ids
// >= 0; undefined = one region per image); tags: one bitmask per image (bit c = foreground
// class c). All on the CPU (others are copied). Segment ids are contiguous over the batch,
// image by image, ordered by (cluster, label, region) within an image, so the result does not
// depend on pixel order or thread count.
Segments make_segments(const engine::Tensor& clusters, const engine::Tensor& labels,
                       const engine::Tensor& regions, const std::vector<uint64_t>& tags,
                       int num_classes);

}  // namespace spml
