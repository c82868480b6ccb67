// batch_norm: normalization statistics, running-buffer updates (PyTorch convention), eval mode,
// gradients against the composite formula, and error messages.
#include <gtest/gtest.h>

#include "support/expect_error.h"

#include <cmath>
#include <string>

#include "engine/ops/batch_norm.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"

namespace engine {
namespace {

using testing::expect_error;

TEST(BatchNorm, TrainingOutputHasZeroMeanUnitVariancePerChannel) {
  Generator gen(3);
  Tensor x = randn({4, 5, 6, 3}, gen, 0.0, 1.0, DType::f64);
  x = x * Tensor::from_vector<double>({1.0, 5.0, 0.1}, {3}) +
      Tensor::from_vector<double>({10.0, -3.0, 100.0}, {3});
  Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
  std::vector<double> v = y.to_vector<double>();
  for (int c = 0; c < 3; ++c) {
    double s = 0, s2 = 0;
    int n = 0;
    for (size_t i = size_t(c); i < v.size(); i += 3, ++n) s += v[i];
    double m = s / n;
    for (size_t i = size_t(c); i < v.size(); i += 3) s2 += (v[i] - m) * (v[i] - m);
    EXPECT_NEAR(m, 0.0, 1e-9) << "channel " << c;
    // Biased variance is var / (var + eps); channel 2 has var ~0.01, so eps shows at 1e-3.
    EXPECT_NEAR(s2 / n, 1.0, 2e-3) << "channel " << c;
  }
}

// x channel 0: 1, 2, 3, 6 (mean 3, biased var 3.5, unbiased 14/3);
// channel 1: -1, 0, 1, 4 (mean 1, biased var 3.5, unbiased 14/3).
Tensor small_x() {
  return Tensor::from_vector<float>({1, -1, 2, 0, 3, 1, 6, 4}, {2, 2, 1, 2});
}

TEST(BatchNorm, RunningStatsMomentumPointOne) {
  Tensor rm = Tensor::from_vector<float>({0.5f, -2.0f}, {2});
  Tensor rv = Tensor::from_vector<float>({2.0f, 1.0f}, {2});
  Tensor y = batch_norm(small_x(), Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5);
  // 0.9 * 0.5 + 0.1 * 3 = 0.75; 0.9 * -2 + 0.1 * 1 = -1.7
  // 0.9 * 2 + 0.1 * 14/3 = 2.2666667; 0.9 * 1 + 0.1 * 14/3 = 1.3666667
  auto m = rm.to_vector<float>(), v = rv.to_vector<float>();
  EXPECT_NEAR(m[0], 0.75, 1e-6);
  EXPECT_NEAR(m[1], -1.7, 1e-6);
  EXPECT_NEAR(v[0], 2.2666667, 1e-6);
  EXPECT_NEAR(v[1], 1.3666667, 1e-6);
  // Normalization uses the biased batch variance: (1 - 3) / sqrt(3.5 + 1e-5).
  EXPECT_NEAR(y.to_vector<float>()[0], -2.0 / std::sqrt(3.5 + 1e-5), 1e-6);
  EXPECT_NEAR(y.to_vector<float>()[7], 3.0 / std::sqrt(3.5 + 1e-5), 1e-6);
}

TEST(BatchNorm, RunningStatsSpmlMomentum) {
  Tensor rm = Tensor::from_vector<double>({0.5, -2.0}, {2});
  Tensor rv = Tensor::from_vector<double>({2.0, 1.0}, {2});
  batch_norm(small_x().to(DType::f64), Tensor(), Tensor(), rm, rv, true, 3e-4, 1e-5);
  // 0.9997 * 0.5 + 0.0003 * 3 = 0.50075; 0.9997 * -2 + 0.0003 * 1 = -1.9991
  // 0.9997 * 2 + 0.0003 * 14/3 = 2.0008; 0.9997 * 1 + 0.0003 * 14/3 = 1.0011
  auto m = rm.to_vector<double>(), v = rv.to_vector<double>();
  EXPECT_NEAR(m[0], 0.50075, 1e-12);
  EXPECT_NEAR(m[1], -1.9991, 1e-12);
  EXPECT_NEAR(v[0], 2.0008, 1e-12);
  EXPECT_NEAR(v[1], 1.0011, 1e-12);
}

TEST(BatchNorm, RunningStatsUpdateIsNotRecorded) {
  Tensor x = small_x().set_requires_grad();
  Tensor rm = zeros({2}), rv = ones({2});
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(rm.requires_grad());
  EXPECT_FALSE(rv.requires_grad());
  EXPECT_EQ(rm.grad_fn(), nullptr);
}

TEST(BatchNorm, EvalUsesRunningStatsAndLeavesThemAlone) {
  Tensor rm = Tensor::from_vector<float>({1.0f, 2.0f}, {2});
  Tensor rv = Tensor::from_vector<float>({4.0f, 0.25f}, {2});
  Tensor w = Tensor::from_vector<float>({2.0f, -1.0f}, {2});
  Tensor b = Tensor::from_vector<float>({0.5f, 0.0f}, {2});
  Tensor y = batch_norm(small_x(), w, b, rm, rv, false, 0.1, 1e-12);
  auto out = y.to_vector<float>();
  // channel 0: (x - 1) / 2 * 2 + 0.5; channel 1: (x - 2) / 0.5 * -1
  std::vector<float> expect = {0.5f, 6.0f, 1.5f, 4.0f, 2.5f, 2.0f, 5.5f, -4.0f};
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], expect[i], 1e-5) << i;
  EXPECT_EQ(rm.to_vector<float>(), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(rv.to_vector<float>(), (std::vector<float>{4.0f, 0.25f}));
}

// The fused backward against the same function written with differentiable ops.
TEST(BatchNorm, TrainingGradientsMatchCompositeFormula) {
  Generator gen(11);
  Tensor x = randn({3, 5, 7, 4}, gen, 0.0, 2.0, DType::f64);
  Tensor w = rand({4}, gen, 0.5, 2.0, DType::f64);
  Tensor b = randn({4}, gen, 0.0, 1.0, DType::f64);
  Tensor dy = randn({3, 5, 7, 4}, gen, 0.0, 1.0, DType::f64);

  Tensor x1 = x.clone().set_requires_grad(), w1 = w.clone().set_requires_grad(),
         b1 = b.clone().set_requires_grad();
  batch_norm(x1, w1, b1, Tensor(), Tensor(), true, 0.1, 1e-5).backward(dy);

  Tensor x2 = x.clone().set_requires_grad(), w2 = w.clone().set_requires_grad(),
         b2 = b.clone().set_requires_grad();
  Tensor mu = mean(x2, {0, 1, 2});
  Tensor xm = x2 - mu;
  Tensor var = mean(xm * xm, {0, 1, 2});
  Tensor y2 = xm * rsqrt(var + 1e-5) * w2 + b2;
  y2.backward(dy);

  auto close = [](const Tensor& a, const Tensor& e, const char* what) {
    auto va = a.to_vector<double>(), ve = e.to_vector<double>();
    ASSERT_EQ(va.size(), ve.size());
    for (size_t i = 0; i < va.size(); ++i) ASSERT_NEAR(va[i], ve[i], 1e-10) << what << " " << i;
  };
  close(x1.grad(), x2.grad(), "dx");
  close(w1.grad(), w2.grad(), "dgamma");
  close(b1.grad(), b2.grad(), "dbeta");
}

TEST(BatchNorm, EvalGradientIsAffine) {
  Tensor x = small_x().set_requires_grad();
  Tensor w = Tensor::from_vector<float>({2.0f, -1.0f}, {2}).set_requires_grad();
  Tensor rm = Tensor::from_vector<float>({1.0f, 2.0f}, {2});
  Tensor rv = Tensor::from_vector<float>({4.0f, 0.25f}, {2});
  sum(batch_norm(x, w, Tensor(), rm, rv, false, 0.1, 1e-12)).backward();
  auto gx = x.grad().to_vector<float>();
  for (size_t i = 0; i < gx.size(); i += 2) {
    EXPECT_NEAR(gx[i], 1.0, 1e-5);       // 2 / sqrt(4)
    EXPECT_NEAR(gx[i + 1], -2.0, 1e-5);  // -1 / sqrt(0.25)
  }
  // dgamma = sum((x - rm) / sqrt(rv)): channel 0 (0+1+2+5)/2 = 4, channel 1 (-3-2-1+2)/0.5 = -8.
  auto gw = w.grad().to_vector<float>();
  EXPECT_NEAR(gw[0], 4.0, 1e-5);
  EXPECT_NEAR(gw[1], -8.0, 1e-5);
}

TEST(BatchNorm, NonContiguousInputMatchesContiguousCopy) {
  Generator gen(8);
  Tensor base = randn({3, 4, 5, 6}, gen, 0.0, 1.0, DType::f64);
  Tensor view = base.permute({0, 2, 1, 3});  // [3, 5, 4, 6], strided
  ASSERT_FALSE(view.is_contiguous());
  auto a = batch_norm(view, Tensor(), Tensor(), Tensor(), Tensor(), true).to_vector<double>();
  auto b = batch_norm(view.contiguous(), Tensor(), Tensor(), Tensor(), Tensor(), true)
               .to_vector<double>();
  EXPECT_EQ(a, b);
}

TEST(BatchNorm, ErrorsNameShapes) {
  Tensor x = zeros({2, 7, 9, 3});
  expect_error([&] { batch_norm(x, zeros({4}), Tensor(), Tensor(), Tensor(), true); },
               "batch_norm: weight [4] expects [3] (the channels of x [2, 7, 9, 3]");
  expect_error(
      [&] {
        batch_norm(x, Tensor(), zeros({3, 1}), Tensor(), Tensor(), true);
      },
      "batch_norm: bias [3, 1] expects [3]");
  expect_error([&] { batch_norm(x, Tensor(), Tensor(), zeros({5}), ones({5}), true); },
               "running_mean [5] expects [3]");
  expect_error([&] { batch_norm(x, Tensor(), Tensor(), zeros({3}), Tensor(), true); },
               "both defined or both undefined");
  expect_error([&] { batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false); },
               "eval mode (training = false) needs running_mean");
  expect_error(
      [&] {
        batch_norm(zeros({1, 1, 1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true);
      },
      "more than one value per channel, x is [1, 1, 1, 3]");
  expect_error([&] { batch_norm(zeros({3}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
               "x [3] needs at least 2 dims");
  expect_error([&] { batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 1.5); },
               "momentum 1.5");
}

}  // namespace
}  // namespace engine

namespace engine {
namespace {

// The fused ops against their composition: outputs, running buffers and every gradient.
void expect_fused_matches_composition(bool residual, bool training) {
  Generator gen(11);
  Tensor x0 = randn({3, 4, 5, 6}, gen, 0.5, 2.0, DType::f64);
  Tensor res0 = randn({3, 4, 5, 6}, gen, 0.0, 1.0, DType::f64);
  Tensor w0 = randn({6}, gen, 1.0, 0.3, DType::f64);
  Tensor b0 = randn({6}, gen, 0.0, 0.5, DType::f64);
  // Separate leaves per side, so that each side's gradients are its own.
  Tensor x = x0.clone().set_requires_grad(), res = res0.clone().set_requires_grad(),
         w = w0.clone().set_requires_grad(), b = b0.clone().set_requires_grad();
  Tensor x2 = x0.clone().set_requires_grad(), res2 = res0.clone().set_requires_grad(),
         w2 = w0.clone().set_requires_grad(), b2 = b0.clone().set_requires_grad();
  Tensor rm1 = randn({6}, gen, 0.0, 1.0, DType::f64), rv1 = ones({6}, DType::f64) * 2.0;
  Tensor rm2 = rm1.clone(), rv2 = rv1.clone();
  Tensor fused = residual ? batch_norm_add_relu(x, res, w, b, rm1, rv1, training, 0.1, 1e-5)
                          : batch_norm_relu(x, w, b, rm1, rv1, training, 0.1, 1e-5);
  Tensor bn = batch_norm(x2, w2, b2, rm2, rv2, training, 0.1, 1e-5);
  Tensor composed = relu(residual ? bn + res2 : bn);
  std::vector<double> f = fused.to_vector<double>(), c = composed.to_vector<double>();
  ASSERT_EQ(f.size(), c.size());
  int positives = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    EXPECT_NEAR(f[i], c[i], 1e-12) << "element " << i;
    positives += f[i] > 0.0;
  }
  // Both sides of the kink are exercised.
  EXPECT_GT(positives, 0);
  EXPECT_LT(positives, int(f.size()));
  auto expect_vec_near = [](const Tensor& a, const Tensor& e, const char* what) {
    std::vector<double> va = a.to_vector<double>(), ve = e.to_vector<double>();
    ASSERT_EQ(va.size(), ve.size()) << what;
    for (size_t i = 0; i < va.size(); ++i) EXPECT_NEAR(va[i], ve[i], 1e-10) << what << " " << i;
  };
  expect_vec_near(rm1, rm2, "running_mean");
  expect_vec_near(rv1, rv2, "running_var");

  Tensor dy = randn({3, 4, 5, 6}, gen, 0.0, 1.0, DType::f64);
  fused.backward(dy);
  composed.backward(dy);
  expect_vec_near(x.grad(), x2.grad(), "dx");
  expect_vec_near(w.grad(), w2.grad(), "dweight");
  expect_vec_near(b.grad(), b2.grad(), "dbias");
  if (residual) expect_vec_near(res.grad(), res2.grad(), "dresidual");
}

TEST(BatchNormFused, ReluTrainingEqualsComposition) {
  expect_fused_matches_composition(false, true);
}
TEST(BatchNormFused, ReluEvalEqualsComposition) {
  expect_fused_matches_composition(false, false);
}
TEST(BatchNormFused, AddReluTrainingEqualsComposition) {
  expect_fused_matches_composition(true, true);
}
TEST(BatchNormFused, AddReluEvalEqualsComposition) {
  expect_fused_matches_composition(true, false);
}

// x channel 0: -1, 1 (mean 0, var 1); no affine: bn = -1/sqrt(1+eps), +1/sqrt(1+eps).
TEST(BatchNormFused, AddReluKnownValues) {
  Tensor x = Tensor::from_vector<double>({-1.0, 1.0}, {2, 1});
  Tensor res = Tensor::from_vector<double>({0.5, -2.0}, {2, 1});
  Tensor y = batch_norm_add_relu(x, res, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
  std::vector<double> v = y.to_vector<double>();
  EXPECT_DOUBLE_EQ(v[0], 0.0);  // -0.99999 + 0.5 < 0
  EXPECT_DOUBLE_EQ(v[1], 0.0);  // 0.99999 - 2 < 0
  Tensor r2 = Tensor::from_vector<double>({1.5, 0.25}, {2, 1});
  v = batch_norm_add_relu(x, r2, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5)
          .to_vector<double>();
  const double s = 1.0 / std::sqrt(1.0 + 1e-5);
  EXPECT_NEAR(v[0], 1.5 - s, 1e-12);
  EXPECT_NEAR(v[1], 0.25 + s, 1e-12);
}

TEST(BatchNormFused, ResidualShapeMismatchIsAnError) {
  Tensor x = zeros({2, 3, 4}), r = zeros({2, 3, 5});
  expect_error([&] { batch_norm_add_relu(x, r, Tensor(), Tensor(), Tensor(), Tensor(), true); },
               "batch_norm_add_relu");
  expect_error(
      [&] { batch_norm_add_relu(x, Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), true); },
      "residual");
}

}  // namespace
}  // namespace engine
