// Hand-computed cross-entropy / nll values, ignore_index handling, reductions and errors.
#include <gtest/gtest.h>

#include "support/expect_error.h"

#include <cmath>
#include <string>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"

namespace engine {
namespace {

using testing::expect_error;

// Rows [1, 2, 3] and [1, 1, 1]: -log softmax = log(e + e^2 + e^3) - x_t and log 3.
const double kRow0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
const double kRow1 = std::log(3.0);

Tensor logits_2x3() {
  return Tensor::from_vector(std::vector<double>{1, 2, 3, 1, 1, 1}, {2, 3}).set_requires_grad(true);
}

TEST(LossCrossEntropy, HandComputedReductions) {
  Tensor x = logits_2x3();
  Tensor t = Tensor::from_vector(std::vector<int64_t>{2, 0}, {2});
  EXPECT_NEAR(kRow0, 0.40760596444437, 1e-12);
  EXPECT_NEAR(cross_entropy(x, t).item(), (kRow0 + kRow1) / 2, 1e-14);
  EXPECT_NEAR(cross_entropy(x, t, 255, Reduction::sum).item(), kRow0 + kRow1, 1e-14);
  std::vector<double> none = cross_entropy(x, t, 255, Reduction::none).to_vector<double>();
  EXPECT_NEAR(none[0], kRow0, 1e-14);
  EXPECT_NEAR(none[1], kRow1, 1e-14);
}

TEST(LossCrossEntropy, IgnoredPixelsHaveNoLossNoGradientAndLeaveTheMean) {
  Tensor x = logits_2x3();
  Tensor t = Tensor::from_vector(std::vector<int32_t>{2, 255}, {2});
  Tensor loss = cross_entropy(x, t);
  EXPECT_NEAR(loss.item(), kRow0, 1e-14);  // mean over the one valid row
  loss.backward();
  std::vector<double> g = x.grad().to_vector<double>();
  double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(g[0], std::exp(1.0) / z, 1e-15);
  EXPECT_NEAR(g[1], std::exp(2.0) / z, 1e-15);
  EXPECT_NEAR(g[2], std::exp(3.0) / z - 1.0, 1e-15);
  EXPECT_EQ(g[3], 0.0);
  EXPECT_EQ(g[4], 0.0);
  EXPECT_EQ(g[5], 0.0);
}

TEST(LossCrossEntropy, AllIgnoredGivesZeroLossAndZeroGradient) {
  Tensor x = logits_2x3();
  Tensor t = Tensor::from_vector(std::vector<int64_t>{7, 7}, {2});
  Tensor loss = cross_entropy(x, t, 7);
  EXPECT_EQ(loss.item(), 0.0);
  loss.backward();
  for (double g : x.grad().to_vector<double>()) EXPECT_EQ(g, 0.0);
}

TEST(LossCrossEntropy, NhwcMatchesLogSoftmaxPlusNll) {
  Generator gen(4);
  Tensor x = randn({2, 3, 5, 4}, gen, 0.0, 2.0, DType::f64);
  std::vector<int32_t> labels;
  for (int i = 0; i < 30; ++i) labels.push_back(i % 5 == 4 ? 255 : (i * 7) % 4);
  Tensor t = Tensor::from_vector(labels, {2, 3, 5});
  Tensor a = x.clone().set_requires_grad(true), b = x.clone().set_requires_grad(true);
  Tensor la = cross_entropy(a, t);
  Tensor lb = nll_loss(log_softmax(b, -1), t);
  EXPECT_NEAR(la.item(), lb.item(), 1e-14);
  la.backward();
  lb.backward();
  std::vector<double> ga = a.grad().to_vector<double>(), gb = b.grad().to_vector<double>();
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-15);
}

TEST(LossCrossEntropy, ErrorsNameShapesAndBadValues) {
  Tensor x = Tensor::empty({2, 5, 7, 21}, DType::f32).fill_(0.0);
  Tensor wrong = Tensor::empty({2, 5, 8}, DType::i32).fill_(0.0);
  expect_error([&] { cross_entropy(x, wrong); },
               {"cross_entropy", "[2, 5, 8]", "[2, 5, 7, 21]", "[2, 5, 7]"});
  Tensor t = Tensor::empty({2, 5, 7}, DType::i64).fill_(3.0);
  Tensor bad = Tensor::from_vector(std::vector<int64_t>{1, 21, 0}, {3});
  Tensor x3 = Tensor::empty({3, 21}, DType::f32).fill_(0.0);
  expect_error([&] { cross_entropy(x3, bad); }, {"cross_entropy", "target value 21", "[0, 21)"});
  Tensor neg = Tensor::from_vector(std::vector<int32_t>{-1, 0, 0}, {3});
  expect_error([&] { nll_loss(x3, neg); }, {"nll_loss", "target value -1", "ignore_index 255"});
  expect_error([&] { cross_entropy(x, t.to(DType::f32)); }, {"cross_entropy", "target", "f32"});
  expect_error([&] { cross_entropy(Tensor::empty({4}, DType::f32), bad); },
               {"cross_entropy", "[N, C]", "[4]"});
}

TEST(LossNll, HandComputed) {
  Tensor lp = Tensor::from_vector(std::vector<double>{-0.5, -1.5, -2.0, -0.1}, {2, 2})
                  .set_requires_grad(true);
  Tensor t = Tensor::from_vector(std::vector<int64_t>{1, 1}, {2});
  Tensor loss = nll_loss(lp, t, 255, Reduction::sum);
  EXPECT_NEAR(loss.item(), 1.6, 1e-15);
  loss.backward();
  EXPECT_EQ(lp.grad().to_vector<double>(), (std::vector<double>{0, -1, 0, -1}));
}

}  // namespace
}  // namespace engine
