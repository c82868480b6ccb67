// A tiny dataset in the DensePose layout of spec §10.3 (data/densepose.h) for tests of the
// DensePose paths: ROOT/lists/train.txt, images/<id>.png, segcls/densepose/gray/<id>.png (dense
// part map), segcls/densepose_points/gray/<id>.png (point labels of the A.3 shape) and, when
// asked for, seginst/pmi_0.1_256/<id>.png (region maps from data::oversegment).
#pragma once

#include <cstdint>
#include <string>

namespace engine::testing {

// Writes `count` images img0..img<count-1> of height × width (at least 40 × 36) under `root`
// (created; an existing folder is replaced). Each shows a person of six coarse parts (torso 1,
// head 14, arms 10 / 11, thighs 6 / 7) at a seeded random place on a noisy background. Dense
// map: the parts, 0 elsewhere. Points: a disc of radius 3 around each part's centre, background
// 0 in a 5-pixel border, 255 (unknown) everywhere else.
void write_tiny_densepose(const std::string& root, int count, int height, int width,
                          uint32_t seed = 12345, bool with_regions = false);

}  // namespace engine::testing
