// Side features: location grid values, colour normalization range, joint re-normalization.
#include "spml/side_features.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/random.h"

namespace {

using engine::Tensor;

TEST(SideFeatures, LocationRunsFromMinusHalfToHalfInYXOrder) {
  Tensor loc = spml::location_features(2, 3, 5);
  ASSERT_EQ(loc.shape(), (engine::Shape{2, 3, 5, 2}));
  const float* p = loc.data<float>();
  EXPECT_FLOAT_EQ(p[0], -0.5f);                     // (0,0) y
  EXPECT_FLOAT_EQ(p[1], -0.5f);                     // (0,0) x
  EXPECT_FLOAT_EQ(p[(1 * 5 + 2) * 2], 0.0f);        // y at row 1 of 3
  EXPECT_FLOAT_EQ(p[(1 * 5 + 1) * 2 + 1], -0.25f);  // x at col 1 of 5
  EXPECT_FLOAT_EQ(p[(2 * 5 + 4) * 2 + 1], 0.5f);
  EXPECT_FLOAT_EQ(p[(15 + 2 * 5 + 4) * 2], 0.5f);  // second image, same grid
}

TEST(SideFeatures, ColourIsCenteredAndScaledPerImageAndChannel) {
  engine::Generator gen{1, 0};
  Tensor img = engine::rand({2, 13, 11, 3}, gen, 0.0, 255.0);
  Tensor c = spml::color_features(img, 4, 3);
  ASSERT_EQ(c.shape(), (engine::Shape{2, 4, 3, 3}));
  const float* p = c.data<float>();
  for (int n = 0; n < 2; ++n)
    for (int ch = 0; ch < 3; ++ch) {
      double sum = 0, maxabs = 0;
      for (int i = 0; i < 12; ++i) {
        float v = p[(n * 12 + i) * 3 + ch];
        sum += v;
        maxabs = std::max(maxabs, std::abs(static_cast<double>(v)));
      }
      EXPECT_NEAR(sum / 12, 0.0, 1e-5);
      EXPECT_NEAR(maxabs, 1.0, 1e-5);
    }
}

TEST(SideFeatures, WithSideFeaturesIsUnitAndDifferentiable) {
  engine::Generator gen{2, 0};
  Tensor emb = engine::l2_normalize(engine::randn({1, 3, 3, 4}, gen), 3).detach();
  emb.set_requires_grad();
  Tensor joint = spml::with_side_features(emb, spml::location_features(1, 3, 3));
  ASSERT_EQ(joint.shape(), (engine::Shape{1, 3, 3, 6}));
  const float* p = joint.data<float>();
  for (int i = 0; i < 9; ++i) {
    double n2 = 0;
    for (int d = 0; d < 6; ++d) n2 += p[i * 6 + d] * p[i * 6 + d];
    EXPECT_NEAR(n2, 1.0, 1e-5);
  }
  EXPECT_TRUE(joint.requires_grad());
}

}  // namespace
