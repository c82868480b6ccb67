// Segment pooling: mean direction of the pixels, gradients back to the embedding, memory bank.
#include "spml/segment_pool.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/ops/reduce.h"
#include "engine/random.h"
#include "spml/memory_bank.h"
#include "spml/segmentation.h"
#include "support/expect_error.h"
#include "support/gradcheck.h"

namespace {

using engine::Tensor;

spml::Segments two_segment_image() {
  // 1x2x2: pixels 0,1 in cluster 0, pixel 2 in cluster 1, pixel 3 is padding.
  return spml::make_segments(Tensor::from_vector(std::vector<int32_t>{0, 0, 1, -1}, {1, 2, 2}),
                             Tensor::from_vector(std::vector<uint8_t>{0, 0, 1, 1}, {1, 2, 2}),
                             Tensor(), {0x2}, 2);
}

TEST(SegmentPool, PrototypeIsTheNormalizedSumOfItsPixels) {
  std::vector<float> e{1, 0, 0, 1, 0.6f, 0.8f, 9, 9};
  Tensor emb = Tensor::from_vector(e, {1, 2, 2, 2});
  spml::Segments seg = two_segment_image();
  Tensor px = spml::segment_pixels(emb, seg);
  ASSERT_EQ(px.shape(), (engine::Shape{3, 2}));
  Tensor proto = spml::pool_prototypes(px, seg);
  const float* p = proto.data<float>();
  float r = 1.0f / std::sqrt(2.0f);
  EXPECT_NEAR(p[0], r, 1e-6);
  EXPECT_NEAR(p[1], r, 1e-6);
  EXPECT_NEAR(p[2], 0.6f, 1e-6);
  EXPECT_NEAR(p[3], 0.8f, 1e-6);
}

TEST(SegmentPool, GradientReachesTheEmbedding) {
  engine::Generator gen{5, 0};
  Tensor emb = engine::randn({1, 2, 2, 3}, gen).to(engine::DType::f64);
  emb.set_requires_grad();
  spml::Segments seg = two_segment_image();
  Tensor w = engine::randn({2, 3}, gen).to(engine::DType::f64);
  auto f = [&](const std::vector<Tensor>& in) {
    return engine::sum(spml::pool_prototypes(spml::segment_pixels(in[0], seg), seg) * w);
  };
  engine::testing::GradCheckResult r = engine::testing::gradcheck(f, {emb});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(SegmentPool, SegmentSetCarriesKeysAndLocPrototypes) {
  engine::Generator gen{9, 0};
  Tensor emb = engine::l2_normalize(engine::randn({1, 2, 2, 4}, gen), 3);
  Tensor loc = engine::l2_normalize(engine::randn({1, 2, 2, 6}, gen), 3);
  spml::SegmentSet set = spml::make_segment_set(emb, loc, two_segment_image());
  EXPECT_EQ(set.size(), 2);
  EXPECT_EQ(set.prototypes.shape(), (engine::Shape{2, 4}));
  EXPECT_EQ(set.prototypes_loc.shape(), (engine::Shape{2, 6}));
  EXPECT_EQ(set.label.data<int32_t>()[1], 1);
}

TEST(MemoryBank, KeepsTheLastKBatchesWithImageIdsPastTheCurrentBatch) {
  spml::MemoryBank bank(2);
  auto batch = [](float value, int32_t label) {
    spml::SegmentSet s;
    s.prototypes = engine::full({2, 3}, value);
    s.label = Tensor::from_vector(std::vector<int32_t>{label, -1}, {2});
    s.image = Tensor::from_vector(std::vector<int32_t>{0, 1}, {2});
    s.region = Tensor::from_vector(std::vector<int32_t>{0, 0}, {2});
    s.tags = Tensor::from_vector(std::vector<int64_t>{1, 2}, {2});
    return s;
  };
  EXPECT_EQ(bank.contents(2).size(), 0);
  bank.push(batch(1, 10), 2);
  bank.push(batch(2, 20), 2);
  bank.push(batch(3, 30), 2);  // the first batch drops out
  EXPECT_EQ(bank.batches(), 2);
  spml::SegmentSet m = bank.contents(4);
  ASSERT_EQ(m.size(), 4);
  const int32_t* img = m.image.data<int32_t>();
  EXPECT_EQ(std::vector<int32_t>(img, img + 4), (std::vector<int32_t>{4, 5, 6, 7}));
  EXPECT_EQ(m.label.data<int32_t>()[0], 30);
  EXPECT_EQ(m.prototypes.data<float>()[0], 3.0f);
  EXPECT_EQ(m.prototypes.data<float>()[6], 2.0f);
  EXPECT_FALSE(m.prototypes.requires_grad());

  spml::MemoryBank restored(2);
  restored.load_state(bank.state());
  spml::SegmentSet r = restored.contents(4);
  ASSERT_EQ(r.size(), 4);
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(r.prototypes.data<float>()[i], m.prototypes.data<float>()[i]);
  EXPECT_EQ(r.image.data<int32_t>()[3], 7);

  spml::MemoryBank none(0);
  none.push(batch(1, 1), 2);
  EXPECT_EQ(none.contents(2).size(), 0);
  engine::testing::expect_error([&] { spml::MemoryBank(1).load_state(bank.state()); },
                                "holds 2 batches, capacity is 1");
}

}  // namespace
