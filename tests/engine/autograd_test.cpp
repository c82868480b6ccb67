// Autograd engine: accumulation, fan-out, retain_graph, errors, NoGradGuard, view gradients.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "support/gradcheck.h"

namespace engine {
namespace {

using ::testing::HasSubstr;

Tensor leaf(std::vector<double> v, const Shape& s) {
  return Tensor::from_vector(v, s).set_requires_grad(true);
}

TEST(Autograd, ScalarBackwardAccumulatesIntoLeaves) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor y = sum(mul(x, x));  // dy/dx = 2x
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4, 6}));
  sum(x).backward();  // accumulates
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 5, 7}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, FanOutSumsGradients) {
  Tensor x = leaf({2}, {1});
  Tensor a = mul(x, 3.0), b = exp(x);
  sum(add(a, mul(b, x))).backward();  // d/dx = 3 + e^x + x e^x
  double e2 = std::exp(2.0);
  EXPECT_NEAR(x.grad().item(), 3 + e2 + 2 * e2, 1e-12);
}

TEST(Autograd, BackwardWithExplicitGradient) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = mul(x, 2.0);
  y.backward(Tensor::from_vector<double>({1, 10}, {2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 20}));
}

TEST(Autograd, NonScalarBackwardWithoutGradientFails) {
  Tensor x = leaf({1, 2}, {2});
  try {
    mul(x, 2.0).backward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("one-element tensor"));
  }
}

TEST(Autograd, SecondBackwardFailsUnlessRetained) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = sum(exp(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_NEAR(x.grad().to_vector<double>()[0], 2 * std::exp(1.0), 1e-12);
  try {
    y.backward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("a second time"));
  }
}

TEST(Autograd, BackwardThroughNonDifferentiableFails) {
  Tensor x = leaf({1, 2}, {2});
  Tensor mask = gt(x, 1.5);  // bool, no grad
  EXPECT_FALSE(mask.requires_grad());
  try {
    mask.backward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not require grad"));
  }
}

TEST(Autograd, NoGradGuardStopsRecording) {
  Tensor x = leaf({1}, {1});
  {
    autograd::NoGradGuard g;
    EXPECT_FALSE(mul(x, 2.0).requires_grad());
  }
  EXPECT_TRUE(mul(x, 2.0).requires_grad());
}

TEST(Autograd, SavedTensorsFreedAfterBackward) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor big = exp(x);  // exp saves its output
  std::weak_ptr<Storage> saved = big.storage();
  Tensor y = sum(big);
  big = Tensor();
  EXPECT_FALSE(saved.expired());  // held by exp's backward closure
  y.backward();
  EXPECT_TRUE(saved.expired());
}

TEST(Autograd, InPlaceOnLeafRequiringGradIsRefused) {
  Tensor x = leaf({1}, {1});
  EXPECT_THROW(x.fill_(0.0), Error);
  autograd::NoGradGuard g;
  x.fill_(3.0);
  EXPECT_EQ(x.item(), 3.0);
}

// Views are ops too: their gradients route back to the right elements.
TEST(Autograd, ViewGradientsByFiniteDifferences) {
  using testing::gradcheck;
  Generator gen(3);
  Tensor x = randn({3, 4, 5}, gen, 0, 1, DType::f64).set_requires_grad(true);
  auto fn = [](const std::vector<Tensor>& in) {
    const Tensor& t = in[0];
    Tensor a = t.permute({2, 0, 1}).slice(0, 1, 5, 2).reshape({2, -1});
    Tensor b = t.narrow(1, 1, 2).select(0, 2).unsqueeze(0).expand({2, 2, 5}).flatten(1);
    Tensor c = t.transpose(0, 2).contiguous().view({-1}).slice(0, 0, 10);
    return add(sum(a, {1}), add(sum(b, {1}), sum(c)));
  };
  auto r = gradcheck(fn, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Autograd, DtypeConversionIsDifferentiable) {
  Tensor x = leaf({1.5, -2}, {2});
  sum(mul(x.to(DType::f32), 3.0)).backward();
  EXPECT_EQ(x.grad().dtype(), DType::f64);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 3}));
}

}  // namespace
}  // namespace engine
