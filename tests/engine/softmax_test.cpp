// Known values, stability and dims of softmax / log_softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"

namespace engine {
namespace {

TEST(Softmax, KnownValues) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3});
  std::vector<double> p = softmax(x, 0).to_vector<double>();
  std::vector<double> want = {0.090030573170380462, 0.24472847105479764, 0.66524095577481771};
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(p[size_t(i)], want[size_t(i)], 1e-14);
  std::vector<double> lp = log_softmax(x, -1).to_vector<double>();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(lp[size_t(i)], std::log(want[size_t(i)]), 1e-14);
}

TEST(Softmax, LargeLogitsStayFinite) {
  Tensor x = Tensor::from_vector(std::vector<float>{1000, 1001, 1002, -1000}, {1, 4});
  std::vector<float> p = softmax(x).to_vector<float>();
  EXPECT_NEAR(p[2], 0.66524096f, 1e-6);
  EXPECT_EQ(p[3], 0.0f);
  std::vector<float> lp = log_softmax(x).to_vector<float>();
  // log-probabilities carry the absolute rounding of float logits near 1000 (~6e-5).
  EXPECT_NEAR(lp[0], std::log(0.09003057f), 2e-4);
  EXPECT_NEAR(lp[3], -2002.4076f, 1e-2);
}

TEST(Softmax, FloatMatchesDoubleToRounding) {
  // The f32 kernels use an inline polynomial exp; hold them to float rounding against f64 on
  // the same (f32-representable) inputs. x - max carries ~|x - max| * 6e-8 of rounding, which
  // becomes the relative error of exp, hence the tolerance that grows with |log p|.
  Generator gen(6);
  Tensor x32 = randn({64, 37}, gen, 0.0, 8.0, DType::f32);
  Tensor x = x32.to(DType::f64);
  std::vector<double> ref = softmax(x).to_vector<double>();
  std::vector<float> got = softmax(x32).to_vector<float>();
  std::vector<double> lref = log_softmax(x).to_vector<double>();
  std::vector<float> lgot = log_softmax(x32).to_vector<float>();
  for (size_t i = 0; i < ref.size(); ++i) {
    double tol = 1e-6 + 1.2e-7 * std::abs(lref[i]);
    EXPECT_NEAR(got[i], ref[i], tol * ref[i] + 1e-37) << i;
    EXPECT_NEAR(lgot[i], lref[i], tol * std::abs(lref[i]) + 1e-6) << i;
  }
}

TEST(Softmax, OtherDimMatchesLastDimOfPermuted) {
  Generator gen(11);
  Tensor x = randn({2, 5, 7, 3}, gen, 0.0, 1.0, DType::f64);
  std::vector<double> a = softmax(x, 1).permute({0, 2, 3, 1}).contiguous().to_vector<double>();
  std::vector<double> b = softmax(x.permute({0, 2, 3, 1}), -1).to_vector<double>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-15);
  std::vector<double> s = sum(softmax(x, 1), {1}).to_vector<double>();
  for (double v : s) EXPECT_NEAR(v, 1.0, 1e-14);
}

TEST(Softmax, GradientOfSumIsZero) {
  // Probabilities sum to 1, so d(sum softmax)/dx = 0 exactly up to rounding.
  Generator gen(2);
  Tensor x = randn({4, 6}, gen, 0.0, 1.0, DType::f64).set_requires_grad(true);
  sum(softmax(x, -1)).backward();
  for (double g : x.grad().to_vector<double>()) EXPECT_NEAR(g, 0.0, 1e-15);
}

TEST(Softmax, RejectsIntegersAndBadDims) {
  Tensor ints = Tensor::from_vector(std::vector<int64_t>{1, 2}, {2});
  try {
    softmax(ints);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("softmax"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("i64"), std::string::npos) << e.message();
  }
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2}, {2});
  try {
    log_softmax(x, 3);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("log_softmax: dim 3"), std::string::npos) << e.message();
  }
}

}  // namespace
}  // namespace engine
