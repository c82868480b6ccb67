// What clustering hands to the losses: the segments of a batch (../shared/spec/spml.md §2.4, §3)
// and their prototypes with the keys the four relations compare. Pixels are the valid pixels of
// the batch's embedding map [N, h, w, D], in row-major (n, y, x) order.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace spml {

// Segment label of a segment whose pixels carry no class (weak label 255 = unlabeled).
constexpr int32_t kUnlabeledSegment = -1;

// Which segment each valid pixel belongs to. Segment ids are contiguous over the batch, image by
// image (all segments of image 0 first); every segment is pure in (image, label, region).
struct Segments {
  engine::Tensor pixel_index;  // i64 [P]: flat index n*h*w + y*w + x of each valid pixel, ascending
  engine::Tensor pixel_segment;  // i32 [P]: segment id in [0, S)
  engine::Tensor image;          // i32 [S]: image of the segment within the batch
  engine::Tensor label;          // i32 [S]: class in [0, C), or kUnlabeledSegment
  engine::Tensor region;         // i32 [S]: over-segmentation region id
  engine::Tensor tags;           // i64 [S]: its image's foreground tags, bit c = class c
  int64_t num_segments() const { return image.defined() ? image.numel() : 0; }
  int64_t num_pixels() const { return pixel_segment.defined() ? pixel_segment.numel() : 0; }
};

// Segments with prototypes: the current batch's (differentiable) or the memory bank's
// (constants). Keys as in Segments; image ids of the bank are offset so that they never equal
// a current image id.
struct SegmentSet {
  engine::Tensor prototypes;      // f32 [S, D]: unit rows, mean direction of the embeddings
  engine::Tensor prototypes_loc;  // f32 [S, D + side]: the same from the with-location
                                  // embedding (undefined when unused)
  engine::Tensor label;           // i32 [S]
  engine::Tensor image;           // i32 [S]
  engine::Tensor region;          // i32 [S]
  engine::Tensor tags;            // i64 [S]
  int64_t size() const { return label.defined() ? label.numel() : 0; }
};

}  // namespace spml
