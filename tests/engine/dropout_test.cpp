// dropout: mask fraction, Philox stream convention, reproducibility, scaling, identity cases,
// gradient, errors.
#include <gtest/gtest.h>

#include <string>

#include "engine/kernels/dropout.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"

namespace engine {
namespace {

TEST(Dropout, KeepsAboutOneMinusPAndScalesKept) {
  const int64_t n = 200000;
  for (double p : {0.1, 0.3, 0.5, 0.9}) {
    Generator gen(123);
    auto y = dropout(ones({n}), p, true, gen).to_vector<float>();
    int64_t dropped = 0;
    for (float v : y) {
      if (v == 0.0f)
        ++dropped;
      else
        ASSERT_NEAR(v, 1.0 / (1.0 - p), 1e-5);
    }
    // Binomial std at n = 2e5 is <= 0.0012; 0.006 is 5 sigma.
    EXPECT_NEAR(double(dropped) / double(n), p, 0.006) << "p " << p;
  }
}

TEST(Dropout, MaskFollowsPhiloxStreamConvention) {
  Generator gen(77, 10);
  const int64_t n = 1001;
  Tensor y = dropout(ones({7, 11, 13}), 0.4, true, gen);
  EXPECT_EQ(gen.offset(), uint64_t(10 + (n + 3) / 4));
  auto v = y.to_vector<float>();
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(v[size_t(i)] != 0.0f, dropout_keep(77, 10, i, 0.4f)) << i;
}

TEST(Dropout, SameSeedSameMaskNextCallDifferent) {
  Tensor x = ones({5, 9, 7, 3});
  Generator a(9), b(9);
  auto ya = dropout(x, 0.5, true, a).to_vector<float>();
  auto yb = dropout(x, 0.5, true, b).to_vector<float>();
  EXPECT_EQ(ya, yb);
  auto ya2 = dropout(x, 0.5, true, a).to_vector<float>();
  EXPECT_NE(ya, ya2);
  Generator c(10);
  EXPECT_NE(ya, dropout(x, 0.5, true, c).to_vector<float>());
}

TEST(Dropout, IdentityAndZeroCases) {
  Tensor x = arange(1.0, 13.0, 1.0, DType::f32).reshape({3, 4});
  Generator gen(1);
  EXPECT_TRUE(dropout(x, 0.5, false, gen).same(x));
  EXPECT_TRUE(dropout(x, 0.0, true, gen).same(x));
  EXPECT_EQ(gen.offset(), 0u);
  auto z = dropout(x, 1.0, true, gen).to_vector<float>();
  EXPECT_EQ(z, std::vector<float>(12, 0.0f));
}

TEST(Dropout, GradientIsMaskTimesScale) {
  Generator gen(4);
  Tensor x = ones({6, 5, 3}, DType::f64).set_requires_grad();
  Tensor y = dropout(x * 3.0, 0.25, true, gen);
  sum(y).backward();
  auto yv = y.to_vector<double>(), g = x.grad().to_vector<double>();
  for (size_t i = 0; i < yv.size(); ++i) {
    // y = 3 * mask / 0.75, dy/dx = 3 * mask / 0.75
    ASSERT_DOUBLE_EQ(g[i], yv[i]);
    ASSERT_TRUE(yv[i] == 0.0 || yv[i] == 4.0) << yv[i];
  }
}

TEST(Dropout, RejectsBadProbability) {
  Generator gen(1);
  try {
    dropout(ones({2, 3}), 1.5, true, gen);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dropout: p 1.5 outside [0, 1] (x [2, 3])"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace engine
