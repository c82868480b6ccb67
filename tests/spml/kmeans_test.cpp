// Spherical K-Means: the rounded grid, known clusterings, padding, determinism.
#include "spml/kmeans.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/random.h"
#include "support/expect_error.h"

namespace {

using engine::Tensor;

std::vector<int32_t> ids_of(const Tensor& t) {
  const int32_t* p = t.data<int32_t>();
  return std::vector<int32_t>(p, p + t.numel());
}

TEST(KMeansGrid, RoundedLinspaceMakesHalfWidthBorderCells) {
  // h = 7, K = 3: linspace(0, 2, 7) = 0, .33, .67, 1, 1.33, 1.67, 2 -> rows 0 0 1 1 1 2 2.
  Tensor g = spml::kmeans_grid(7, 1, 3);
  EXPECT_EQ(ids_of(g), (std::vector<int32_t>{0, 0, 1, 1, 1, 2, 2}));
  // Columns count K per step: id = row + K * col.
  Tensor c = spml::kmeans_grid(1, 5, 2);  // linspace(0, 1, 5) = 0 .25 .5 .75 1 -> 0 0 0 1 1
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{0, 0, 0, 2, 2}));
}

TEST(KMeans, SeparatesTwoDirectionsWhateverTheGrid) {
  // Left half points along e0, right half along e1; a 1x2 grid... K must be square, so use K=2
  // (4 clusters): the two directions end in different clusters and each side is one cluster.
  const int64_t h = 4, w = 6, f = 3;
  std::vector<float> v(static_cast<size_t>(h * w * f), 0.0f);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) v[static_cast<size_t>((y * w + x) * f + (x < 3 ? 0 : 1))] = 1;
  Tensor feat = Tensor::from_vector(v, {1, h, w, f});
  spml::KMeansConfig cfg{2, 10};
  std::vector<int32_t> ids = ids_of(spml::spherical_kmeans(feat, Tensor(), cfg));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      int32_t id = ids[static_cast<size_t>(y * w + x)];
      int32_t ref = ids[static_cast<size_t>(x < 3 ? 0 : w - 1)];
      EXPECT_EQ(id, ref) << "pixel " << y << "," << x;
    }
  EXPECT_NE(ids[0], ids[static_cast<size_t>(w - 1)]);
}

TEST(KMeans, ZeroIterationsReturnsTheGridAndPaddingIsMinusOne) {
  engine::Generator gen{7, 0};
  Tensor feat = engine::l2_normalize(engine::randn({2, 5, 7, 4}, gen), 3);
  std::vector<uint8_t> valid(2 * 5 * 7, 1);
  valid[3] = 0;
  valid[40] = 0;
  Tensor vm = Tensor::from_vector(valid, {2, 5, 7});
  std::vector<int32_t> ids = ids_of(spml::spherical_kmeans(feat, vm, {3, 0}));
  std::vector<int32_t> grid = ids_of(spml::kmeans_grid(5, 7, 3));
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(ids[i], valid[i] ? grid[i % grid.size()] : -1) << i;
}

TEST(KMeans, PaddingDoesNotMoveTheClusters) {
  // Padding pixels carry garbage features; the valid pixels' clustering must not depend on it.
  engine::Generator gen{11, 0};
  Tensor feat = engine::l2_normalize(engine::randn({1, 9, 9, 5}, gen), 3);
  std::vector<uint8_t> valid(81, 1);
  for (int x = 0; x < 9; ++x) valid[static_cast<size_t>(8 * 9 + x)] = 0;  // last row padded
  Tensor vm = Tensor::from_vector(valid, {1, 9, 9});
  Tensor other = feat.clone();
  {
    float* p = other.data<float>();
    for (int x = 0; x < 9; ++x) p[(8 * 9 + x) * 5] = 1000.0f;
  }
  EXPECT_EQ(ids_of(spml::spherical_kmeans(feat, vm, {3, 10})),
            ids_of(spml::spherical_kmeans(other, vm, {3, 10})));
}

TEST(KMeans, MonotoneObjective) {
  // Each iteration of spherical K-Means cannot lower the total cosine to the assigned
  // prototypes; check that more iterations never give a worse objective on random data.
  engine::Generator gen{3, 0};
  Tensor feat = engine::l2_normalize(engine::randn({1, 12, 12, 6}, gen), 3);
  auto objective = [&](int iters) {
    std::vector<int32_t> ids = ids_of(spml::spherical_kmeans(feat, Tensor(), {3, iters}));
    const float* f = feat.data<float>();
    std::vector<double> sums(9 * 6, 0.0);
    for (size_t i = 0; i < ids.size(); ++i)
      for (int d = 0; d < 6; ++d) sums[static_cast<size_t>(ids[i] * 6 + d)] += f[i * 6 + d];
    double total = 0;  // sum over clusters of the norm of the sum = sum of cosines to the mean
    for (int c = 0; c < 9; ++c) {
      double n2 = 0;
      for (int d = 0; d < 6; ++d)
        n2 += sums[static_cast<size_t>(c * 6 + d)] * sums[static_cast<size_t>(c * 6 + d)];
      total += std::sqrt(n2);
    }
    return total;
  };
  double prev = objective(0);
  for (int it = 1; it <= 5; ++it) {
    double cur = objective(it);
    EXPECT_GE(cur, prev - 1e-4) << "iteration " << it;
    prev = cur;
  }
}

TEST(KMeans, ErrorsNameTheArgument) {
  Tensor feat = engine::zeros({1, 3, 3, 2});
  engine::testing::expect_error(
      [&] {
        spml::spherical_kmeans(feat.reshape({9, 2}), Tensor(), {});
      },
      "features must be [N, h, w, F]");
  engine::testing::expect_error(
      [&] {
        spml::spherical_kmeans(feat, engine::zeros({1, 3, 4}, engine::DType::u8), {});
      },
      "valid must be u8 [1, 3, 3]");
  engine::testing::expect_error(
      [&] {
        spml::spherical_kmeans(feat, Tensor(), {0, 1});
      },
      "grid must be >= 1");
}

}  // namespace
