// Segment formation: splitting clusters by (label, region), contiguous ids, keys per segment.
#include "spml/segmentation.h"

#include <gtest/gtest.h>

#include <vector>

#include "support/expect_error.h"

namespace {

using engine::Tensor;

template <typename T>
std::vector<T> vals(const Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<T>(p, p + t.numel());
}

TEST(Segments, SplitByLabelAndRegionContiguousOverTheBatch) {
  // Image 0 (2x3): cluster 0 everywhere; labels 1 1 255 / 1 2 255; region 0 0 0 / 1 1 1.
  // Image 1 (2x3): clusters 0 0 1 / 1 1 -1 (last pixel is padding); labels 0; one region.
  std::vector<int32_t> clusters{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, -1};
  std::vector<uint8_t> labels{1, 1, 255, 1, 2, 255, 0, 0, 0, 0, 0, 0};
  std::vector<int32_t> regions{0, 0, 0, 1, 1, 1, 5, 5, 5, 5, 5, 5};
  spml::Segments s = spml::make_segments(Tensor::from_vector(clusters, {2, 2, 3}),
                                         Tensor::from_vector(labels, {2, 2, 3}),
                                         Tensor::from_vector(regions, {2, 2, 3}), {0x2, 0x0}, 3);
  // Image 0 keys sorted by (cluster, label, region): (0,1,0) (0,1,1) (0,2,1) (0,255,0) (0,255,1)
  // Image 1: (0,0,5) (1,0,5).
  ASSERT_EQ(s.num_segments(), 7);
  EXPECT_EQ(vals<int32_t>(s.label), (std::vector<int32_t>{1, 1, 2, -1, -1, 0, 0}));
  EXPECT_EQ(vals<int32_t>(s.region), (std::vector<int32_t>{0, 1, 1, 0, 1, 5, 5}));
  EXPECT_EQ(vals<int32_t>(s.image), (std::vector<int32_t>{0, 0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(vals<int64_t>(s.tags), (std::vector<int64_t>{2, 2, 2, 2, 2, 0, 0}));
  EXPECT_EQ(vals<int64_t>(s.pixel_index), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(vals<int32_t>(s.pixel_segment),
            (std::vector<int32_t>{0, 0, 3, 1, 2, 4, 5, 5, 6, 6, 6}));
}

TEST(Segments, NoRegionsMeansOneRegionAndLabelsAtOrAboveCAreUnlabeled) {
  std::vector<int32_t> clusters{0, 1, 1, 0};
  std::vector<uint8_t> labels{0, 21, 1, 0};  // 21 >= C = 21 -> unlabeled
  spml::Segments s = spml::make_segments(Tensor::from_vector(clusters, {1, 2, 2}),
                                         Tensor::from_vector(labels, {1, 2, 2}), Tensor(), {0}, 21);
  EXPECT_EQ(vals<int32_t>(s.label), (std::vector<int32_t>{0, 1, -1}));
  EXPECT_EQ(vals<int32_t>(s.pixel_segment), (std::vector<int32_t>{0, 2, 1, 0}));
}

TEST(Segments, EveryPixelOfASegmentSharesItsKeys) {
  // A larger pseudo-random case: purity of every segment in (image, label, region, cluster).
  const int n = 3, h = 11, w = 13;
  std::vector<int32_t> clusters(n * h * w), regions(n * h * w);
  std::vector<uint8_t> labels(n * h * w);
  uint32_t state = 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (int i = 0; i < n * h * w; ++i) {
    clusters[i] = static_cast<int32_t>(next() >> 28) % 9 - (i % 17 == 0 ? 10 : 0);
    if (clusters[i] < 0) clusters[i] = -1;
    labels[i] = (next() >> 29) == 0 ? 255 : static_cast<uint8_t>((next() >> 28) % 4);
    regions[i] = static_cast<int32_t>((next() >> 27) % 5);
  }
  spml::Segments s = spml::make_segments(Tensor::from_vector(clusters, {n, h, w}),
                                         Tensor::from_vector(labels, {n, h, w}),
                                         Tensor::from_vector(regions, {n, h, w}), {1, 2, 3}, 4);
  auto px = vals<int64_t>(s.pixel_index);
  auto seg = vals<int32_t>(s.pixel_segment);
  auto img = vals<int32_t>(s.image);
  auto lab = vals<int32_t>(s.label);
  auto reg = vals<int32_t>(s.region);
  std::vector<int32_t> cluster_of(static_cast<size_t>(s.num_segments()), -2);
  std::vector<bool> used(static_cast<size_t>(s.num_segments()), false);
  for (size_t k = 0; k < px.size(); ++k) {
    int64_t i = px[k];
    int32_t sg = seg[k];
    used[sg] = true;
    EXPECT_EQ(img[sg], i / (h * w));
    EXPECT_EQ(lab[sg], labels[i] < 4 ? labels[i] : -1);
    EXPECT_EQ(reg[sg], regions[i]);
    if (cluster_of[sg] == -2) cluster_of[sg] = clusters[i];
    EXPECT_EQ(cluster_of[sg], clusters[i]);
    EXPECT_GE(clusters[i], 0);
  }
  for (bool u : used) EXPECT_TRUE(u);
  for (size_t j = 1; j < img.size(); ++j) EXPECT_LE(img[j - 1], img[j]);
}

TEST(Segments, ErrorsNameTheMap) {
  Tensor c = Tensor::from_vector(std::vector<int32_t>{0, 0}, {1, 1, 2});
  Tensor l = Tensor::from_vector(std::vector<uint8_t>{0, 0, 0}, {1, 1, 3});
  engine::testing::expect_error([&] { spml::make_segments(c, l, Tensor(), {0}, 2); },
                                "labels must be u8 shaped like clusters");
  Tensor l2 = Tensor::from_vector(std::vector<uint8_t>{0, 0}, {1, 1, 2});
  engine::testing::expect_error(
      [&] {
        spml::make_segments(c, l2, Tensor(), {0, 0}, 2);
      },
      "2 tag masks for a batch of 1 images");
  Tensor r = Tensor::from_vector(std::vector<int32_t>{0, -3}, {1, 1, 2});
  engine::testing::expect_error([&] { spml::make_segments(c, l2, r, {0}, 2); },
                                "negative region id -3");
}

}  // namespace
