// Random-walk pseudo-labels (spec §6.1): the transition matrix, spreading inside a region of
// similar embeddings and stopping at a dissimilar boundary, the seed preparations.
#include "spml/random_walk.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "support/expect_error.h"

namespace {

using engine::Tensor;

// 4×12 map: columns < 8 embed near e0, columns >= 8 near e1 (orthogonal), with a small
// per-pixel perturbation so the affinities are not all exactly 1 inside a region.
Tensor two_region_embedding(int h, int w, int split) {
  Tensor e = Tensor::empty({h, w, 3});
  float* p = e.data<float>();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float* v = p + (y * w + x) * 3;
      const float eps = 0.05f * static_cast<float>((x + 2 * y) % 3);
      v[0] = x < split ? 2.0f : eps;  // unnormalized on purpose
      v[1] = x < split ? eps : 1.0f;
      v[2] = 0.1f;
    }
  return e;
}

TEST(RandomWalk, TransitionColumnsSumToOne) {
  Tensor e = two_region_embedding(4, 12, 8);
  Tensor t = spml::random_walk_transition({e, e});
  ASSERT_EQ(t.shape(), (engine::Shape{48, 48}));
  const float* p = t.data<float>();
  for (int j = 0; j < 48; ++j) {
    double s = 0;
    for (int i = 0; i < 48; ++i) s += p[i * 48 + j];
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
  // Symmetric affinities: T_ij · colsum_j = T_ji · colsum_i; in particular identical pixels
  // (same embedding) get the same entry.
  EXPECT_NEAR(p[0 * 48 + 3], p[3 * 48 + 0], 1e-6f);
}

TEST(RandomWalk, SpreadsInsideRegionAndStopsAtBoundary) {
  const int h = 4, w = 12, split = 8;
  Tensor e = two_region_embedding(h, w, split);
  Tensor seeds = Tensor::empty({h, w, 2});
  seeds.zero_();
  float* s = seeds.data<float>();
  s[(0 * w + 0) * 2 + 1] = 1.0f;   // class 1 seeded at one pixel of the left region
  s[(3 * w + 11) * 2 + 0] = 1.0f;  // class 0 seeded at one pixel of the right region
  Tensor out = spml::random_walk({e}, seeds);
  const float* o = out.data<float>();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float c0 = o[(y * w + x) * 2], c1 = o[(y * w + x) * 2 + 1];
      if (x < split) {
        EXPECT_GT(c1, 1e-3f) << y << "," << x;       // reached every left pixel
        EXPECT_LT(c0, 1e-6f * c1) << y << "," << x;  // the right seed did not cross
      } else {
        EXPECT_GT(c0, 1e-3f) << y << "," << x;
        EXPECT_LT(c1, 1e-6f * c0) << y << "," << x;
      }
    }
}

TEST(RandomWalk, ScoresUpsampleToImageSize) {
  Tensor e = two_region_embedding(4, 12, 8);
  Tensor seeds = Tensor::empty({4, 12, 2});
  seeds.fill_(0.5);
  Tensor up = spml::random_walk_scores({e}, seeds, 32, 96);
  EXPECT_EQ(up.shape(), (engine::Shape{32, 96, 2}));
}

TEST(RandomWalk, SeedPreparations) {
  Tensor probs = Tensor::from_vector<float>({0.2f, 0.4f, 0.1f, 0.8f, 0.2f, 0.3f}, {1, 2, 3});
  Tensor n = spml::normalize_seed_scores(probs, {true, false, true});
  EXPECT_EQ(n.to_vector<float>(), (std::vector<float>{0.25f, 0.0f, 1.0f / 3.0f, 1.0f, 0.0f, 1.0f}));
  Tensor cams = Tensor::from_vector<float>({0.5f, 0.0f, 0.0f, 0.0f}, {1, 2, 2});
  Tensor m = spml::cam_seed_scores(cams);
  std::vector<float> v = m.to_vector<float>();
  ASSERT_EQ(v.size(), 6u);
  EXPECT_NEAR(v[0], std::pow(0.5f, 6.0f), 1e-7f);
  EXPECT_EQ(v[1], 0.5f);
  EXPECT_EQ(v[3], 1.0f);  // no CAM at all: background 1
}

TEST(RandomWalk, RejectsBadInputs) {
  Tensor e = two_region_embedding(4, 12, 8);
  Tensor bad = Tensor::empty({4, 11, 2});
  engine::testing::expect_error([&] { spml::random_walk({e}, bad); },
                                "scores must be f32 [4, 12, C] on the embedding's device");
  Tensor big = Tensor::empty({200, 200, 2});
  engine::testing::expect_error([&] { spml::random_walk_transition({big}); },
                                "exceeds the dense-walk limit");
  engine::testing::expect_error([&] { spml::normalize_seed_scores(e, {true}); },
                                "present has 1 entries for 3 classes");
}

}  // namespace
