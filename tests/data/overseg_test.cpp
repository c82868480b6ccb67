// Felzenszwalb–Huttenlocher over-segmentation (data/overseg.h).
#include "data/overseg.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

#include "tests/support/expect_error.h"

namespace {

using engine::Tensor;

// A textured RGB image: smooth value gradients plus a small deterministic dither.
Tensor textured(int h, int w, uint32_t seed) {
  std::vector<uint8_t> px(size_t(h) * size_t(w) * 3);
  uint32_t s = seed;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        s = s * 1664525u + 1013904223u;
        int v = ((x / 9 + y / 7 + c) % 4) * 60 + int(s >> 28);
        px[(size_t(y) * size_t(w) + size_t(x)) * 3 + size_t(c)] = uint8_t(v);
      }
  return Tensor::from_vector(px, {h, w, 3});
}

TEST(Overseg, DeterministicAndCompactInRasterOrder) {
  Tensor img = textured(37, 53, 1);
  Tensor a = data::oversegment(img, {0.5f, 200.f, 10});
  Tensor b = data::oversegment(img, {0.5f, 200.f, 10});
  ASSERT_EQ(a.shape(), (engine::Shape{37, 53}));
  EXPECT_EQ(a.dtype(), engine::DType::i32);
  std::vector<int32_t> va = a.to_vector<int32_t>(), vb = b.to_vector<int32_t>();
  EXPECT_EQ(va, vb);
  // Ids appear first in increasing order 0, 1, 2, ... when scanning rows.
  int32_t next = 0;
  for (int32_t v : va) {
    ASSERT_LE(v, next);
    if (v == next) ++next;
  }
  EXPECT_EQ(data::count_regions(a), int64_t(next));
  EXPECT_GT(next, 1);
}

TEST(Overseg, RespectsASharpColourEdge) {
  // Left third red, the rest blue, with mild noise: no region may straddle the edge.
  int h = 40, w = 60;
  std::vector<uint8_t> px(size_t(h) * w * 3);
  uint32_t s = 7;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      s = s * 1664525u + 1013904223u;
      int n = int(s >> 29);
      uint8_t* p = &px[(size_t(y) * w + x) * 3];
      p[0] = uint8_t(x < 20 ? 200 + n : 20 + n);
      p[1] = uint8_t(30 + n);
      p[2] = uint8_t(x < 20 ? 30 + n : 190 + n);
    }
  Tensor r = data::oversegment(Tensor::from_vector(px, {h, w, 3}), {0.8f, 500.f, 20});
  std::vector<int32_t> v = r.to_vector<int32_t>();
  std::set<int32_t> left, right;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) (x < 20 ? left : right).insert(v[size_t(y) * w + x]);
  for (int32_t id : left) EXPECT_EQ(right.count(id), 0u) << "region " << id << " crosses";
  // Flat halves with weak noise: a few regions each at this k, not hundreds.
  EXPECT_LE(left.size(), 4u);
  EXPECT_LE(right.size(), 4u);
}

TEST(Overseg, FewerRegionsAsKGrows) {
  Tensor img = textured(64, 80, 3);
  int64_t prev = INT64_MAX;
  for (float k : {10.f, 100.f, 1000.f, 10000.f}) {
    int64_t n = data::count_regions(data::oversegment(img, {0.5f, k, 1}));
    EXPECT_LT(n, prev) << "k = " << k;
    prev = n;
  }
  EXPECT_GE(prev, 1);
}

TEST(Overseg, MinSizeIsHonoured) {
  Tensor img = textured(50, 50, 5);
  Tensor r = data::oversegment(img, {0.f, 1.f, 30});
  std::vector<int32_t> v = r.to_vector<int32_t>();
  std::vector<int> sizes(size_t(data::count_regions(r)), 0);
  for (int32_t id : v) ++sizes[size_t(id)];
  for (int s : sizes) EXPECT_GE(s, 30);
}

TEST(Overseg, RegionCountCapped) {
  // Random noise with k = 0 and min_size 1 would make one region per pixel (> 65535).
  int h = 300, w = 300;
  std::vector<uint8_t> px(size_t(h) * w * 3);
  uint32_t s = 11;
  for (auto& p : px) {
    s = s * 1664525u + 1013904223u;
    p = uint8_t(s >> 24);
  }
  Tensor r = data::oversegment(Tensor::from_vector(px, {h, w, 3}), {0.f, 0.f, 1});
  int64_t n = data::count_regions(r);
  EXPECT_LE(n, 65535);
  EXPECT_GT(n, 1000);
}

TEST(Overseg, SinglePixelAndErrors) {
  Tensor one = Tensor::from_vector(std::vector<uint8_t>{1, 2, 3}, {1, 1, 3});
  EXPECT_EQ(data::oversegment(one).to_vector<int32_t>(), std::vector<int32_t>{0});
  engine::testing::expect_error(
      [] {
        data::oversegment(Tensor::empty({4, 4}, engine::DType::u8));
      },
      "u8 [H, W, 3]");
  engine::testing::expect_error(
      [] {
        data::oversegment(Tensor::empty({4, 4, 3}, engine::DType::f32));
      },
      "f32");
  engine::testing::expect_error([&] { data::oversegment(one, {0.8f, -1.f, 10}); }, "k -1");
  engine::testing::expect_error([&] { data::oversegment(one, {0.8f, 10.f, 0}); }, "min_size 0");
}

}  // namespace
