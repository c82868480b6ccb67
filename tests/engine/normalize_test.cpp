// Known values, zero vectors and errors of l2_normalize.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/ops/reduce.h"

namespace engine {
namespace {

TEST(NormalizeL2, KnownValues) {
  Tensor x = Tensor::from_vector(std::vector<double>{3, 4, 0, -2}, {2, 2});
  std::vector<double> r = l2_normalize(x).to_vector<double>();
  std::vector<double> want = {0.6, 0.8, 0, -1};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(r[i], want[i], 1e-15);
  // Over dim 0: columns [3, 0] and [4, -2].
  std::vector<double> c = l2_normalize(x, 0).to_vector<double>();
  EXPECT_NEAR(c[0], 1.0, 1e-15);
  EXPECT_NEAR(c[1], 4.0 / std::sqrt(20.0), 1e-15);
  EXPECT_NEAR(c[3], -2.0 / std::sqrt(20.0), 1e-15);
}

TEST(NormalizeL2, UnitNormsOverEmbeddingDim) {
  Generator gen(8);
  Tensor x = randn({2, 9, 11, 64}, gen, 0.0, 1.0, DType::f32);
  std::vector<float> n = sum(mul(l2_normalize(x), l2_normalize(x)), {-1}).to_vector<float>();
  for (float v : n) EXPECT_NEAR(v, 1.0f, 1e-5);
}

TEST(NormalizeL2, ZeroVectorStaysZeroWithGradientOverEps) {
  Tensor x = Tensor::from_vector(std::vector<double>{0, 0, 0}, {1, 3}).set_requires_grad(true);
  Tensor y = l2_normalize(x, -1, 1e-6);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0, 0, 0}));
  sum(mul(y, Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}))).backward();
  std::vector<double> g = x.grad().to_vector<double>();
  EXPECT_NEAR(g[0], 1e6, 1e-6);
  EXPECT_NEAR(g[2], 3e6, 1e-6);
}

TEST(NormalizeL2, GradientIsOrthogonalToTheOutput) {
  // The norm of y is constant, so the gradient of sum(y * g) has no component along x.
  Generator gen(1);
  Tensor x = randn({5, 7}, gen, 0.0, 1.0, DType::f64).set_requires_grad(true);
  Tensor w = randn({5, 7}, gen, 0.0, 1.0, DType::f64);
  sum(mul(l2_normalize(x), w)).backward();
  std::vector<double> d = sum(mul(x.grad(), x.detach()), {1}).to_vector<double>();
  for (double v : d) EXPECT_NEAR(v, 0.0, 1e-13);
}

TEST(NormalizeL2, Errors) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2}, {2});
  try {
    l2_normalize(x, 0, 0.0);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("l2_normalize: eps must be > 0"), std::string::npos);
  }
  try {
    l2_normalize(x.to(DType::i32));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("l2_normalize"), std::string::npos);
    EXPECT_NE(e.message().find("i32"), std::string::npos);
  }
}

}  // namespace
}  // namespace engine
