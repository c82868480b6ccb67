// Permutohedral lattice vs brute-force Gaussian filtering, and the dense CRF on clear cases.
#include "spml/crf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "spml/permutohedral.h"
#include "support/expect_error.h"

namespace {

using engine::Tensor;

// Exact O(N²) Gaussian filter out_i = Σ_j exp(-|f_i - f_j|²/2) in_j; the test reference only.
std::vector<double> brute_filter(const std::vector<float>& f, int64_t n, int d,
                                 const std::vector<float>& in, int c) {
  std::vector<double> out(static_cast<size_t>(n * c), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double dist = 0.0;
      for (int t = 0; t < d; ++t) {
        const double diff = double(f[i * d + t]) - double(f[j * d + t]);
        dist += diff * diff;
      }
      const double k = std::exp(-0.5 * dist);
      for (int l = 0; l < c; ++l) out[i * c + l] += k * in[j * c + l];
    }
  return out;
}

// The lattice filter is K̃ ≈ s·K for an unknown constant s and a few percent of interpolation
// error (Adams et al. report ~5-10% for d ≤ 5). The CRF only uses it normalized, D^-1/2 K̃ D^-1/2,
// where s cancels, so the test compares normalized outputs K̃v / K̃1 against Kv / K1 with an
// absolute tolerance of 0.08 on values in [0, 1] (observed: 0.033 for d = 2, 0.026 for d = 5),
// and bounds the spread max/min of K̃1 / K1 over the points (observed 1.19 for d = 2; 1.59 for
// d = 5, where few points share each lattice vertex so the interpolation is coarser).
void compare_with_brute(const std::vector<float>& f, int64_t n, int d, double tol,
                        double max_ratio_spread) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  const int c = 3;
  std::vector<float> v(static_cast<size_t>(n * c));
  for (float& x : v) x = u(rng);
  std::vector<float> ones(static_cast<size_t>(n), 1.0f);
  spml::PermutohedralLattice lat(f.data(), n, d);
  std::vector<float> lv(static_cast<size_t>(n * c)), l1(static_cast<size_t>(n));
  lat.filter(v.data(), lv.data(), c);
  lat.filter(ones.data(), l1.data(), 1);
  std::vector<double> bv = brute_filter(f, n, d, v, c), b1 = brute_filter(f, n, d, ones, 1);
  double ratio_min = 1e30, ratio_max = 0.0, max_err = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_GT(l1[i], 0.0f);
    const double r = l1[i] / b1[i];
    ratio_min = std::min(ratio_min, r);
    ratio_max = std::max(ratio_max, r);
    for (int l = 0; l < c; ++l)
      max_err = std::max(max_err, std::abs(lv[i * c + l] / l1[i] - bv[i * c + l] / b1[i]));
  }
  EXPECT_LT(max_err, tol) << "normalized filter error, d=" << d;
  EXPECT_LT(ratio_max / ratio_min, max_ratio_spread) << "lattice scale is not uniform, d=" << d;
}

TEST(Permutohedral, SpatialMatchesBruteForce) {
  const int h = 13, w = 11;
  for (float sxy : {1.0f, 2.5f}) {
    std::vector<float> f;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        f.push_back(x / sxy);
        f.push_back(y / sxy);
      }
    compare_with_brute(f, h * w, 2, 0.08, 1.3);
  }
}

TEST(Permutohedral, BilateralMatchesBruteForce) {
  const int h = 12, w = 10;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> col(0, 255);
  std::vector<float> f;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      f.push_back(x / 3.0f);
      f.push_back(y / 3.0f);
      const int base = x < w / 2 ? 40 : 200;  // two colour regions plus noise
      for (int k = 0; k < 3; ++k) f.push_back((base + col(rng) % 30) / 20.0f);
    }
  compare_with_brute(f, h * w, 5, 0.08, 2.0);
}

TEST(Permutohedral, FarApartPointsDoNotMix) {
  // Two points 40 std apart: each keeps (nearly) only its own value.
  std::vector<float> f = {0, 0, 40, 40};
  spml::PermutohedralLattice lat(f.data(), 2, 2);
  std::vector<float> in = {1, 0}, out(2);
  lat.filter(in.data(), out.data(), 1);
  EXPECT_GT(out[0], 0.0f);
  EXPECT_EQ(out[1], 0.0f);
}

// A 24×24 image split at x = 12 into dark / bright halves; class 0 on the left, 1 on the right.
Tensor two_region_image(int h, int w) {
  Tensor img = Tensor::empty({h, w, 3}, engine::DType::u8);
  uint8_t* p = img.data<uint8_t>();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < 3; ++k) p[(y * w + x) * 3 + k] = x < w / 2 ? 30 : 220;
  return img;
}

TEST(DenseCrf, CleansNoisyUnaryAlongEdge) {
  const int h = 24, w = 24;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Tensor probs = Tensor::empty({h, w, 2});
  float* p = probs.data<float>();
  int flipped = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int truth = x < w / 2 ? 0 : 1;
      // 25% of the pixels weakly prefer the wrong class; the rest prefer the right one.
      const bool wrong = u(rng) < 0.25f;
      flipped += wrong;
      const float pt = wrong ? 0.4f : 0.7f;
      p[(y * w + x) * 2 + truth] = pt;
      p[(y * w + x) * 2 + 1 - truth] = 1.0f - pt;
    }
  ASSERT_GT(flipped, 50);
  spml::CrfConfig cfg;
  cfg.bilateral_sxy = 10.0f;  // the image is tiny; 67 would span it several times anyway
  Tensor q = spml::dense_crf(probs, two_region_image(h, w), cfg);
  Tensor labels = spml::argmax_labels(q);
  const int32_t* l = labels.data<int32_t>();
  int errors = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) errors += l[y * w + x] != (x < w / 2 ? 0 : 1);
  EXPECT_EQ(errors, 0);
  // Marginals are distributions.
  const float* qp = q.data<float>();
  for (int i = 0; i < h * w; ++i) EXPECT_NEAR(qp[i * 2] + qp[i * 2 + 1], 1.0f, 1e-5f);
}

TEST(DenseCrf, ZeroPairwiseWeightsGiveUnaryArgmax) {
  const int h = 9, w = 7, c = 4;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.01f, 1.0f);
  Tensor probs = Tensor::empty({h, w, c});
  float* p = probs.data<float>();
  for (int i = 0; i < h * w * c; ++i) p[i] = u(rng);
  Tensor img = Tensor::empty({h, w, 3}, engine::DType::u8);
  img.fill_(100);
  spml::CrfConfig cfg;
  cfg.gaussian_weight = 0.0f;
  cfg.bilateral_weight = 0.0f;
  Tensor q = spml::dense_crf(probs, img, cfg);
  Tensor a = spml::argmax_labels(q), b = spml::argmax_labels(probs);
  EXPECT_EQ(a.to_vector<int32_t>(), b.to_vector<int32_t>());
  // Q = p / Σp exactly (softmax of log p).
  const float* qp = q.data<float>();
  for (int i = 0; i < h * w; ++i) {
    float s = 0;
    for (int l = 0; l < c; ++l) s += p[i * c + l];
    for (int l = 0; l < c; ++l) EXPECT_NEAR(qp[i * c + l], p[i * c + l] / s, 1e-5f);
  }
}

TEST(DenseCrf, RejectsBadInputs) {
  Tensor probs = Tensor::empty({4, 5, 2});
  probs.fill_(0.5);
  Tensor img = Tensor::empty({4, 6, 3}, engine::DType::u8);
  engine::testing::expect_error([&] { spml::dense_crf(probs, img); }, "image must be u8 [4, 5, 3]");
  Tensor img2 = Tensor::empty({4, 5, 3}, engine::DType::u8);
  spml::CrfConfig cfg;
  cfg.bilateral_srgb = 0.0f;
  engine::testing::expect_error([&] { spml::dense_crf(probs, img2, cfg); }, "bad config");
}

}  // namespace
