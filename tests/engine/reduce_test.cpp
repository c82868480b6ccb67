// Known values, tie rules, gradients and error messages of max/min/argmax/amax/amin/var.
#include <gtest/gtest.h>

#include "support/expect_error.h"

#include <string>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"

namespace engine {
namespace {

using testing::expect_error;

Tensor t2x3(const std::vector<double>& v) {
  return Tensor::from_vector(v, {2, 3});
}

TEST(ReduceMax, ValuesAndFirstIndexOnTies) {
  Tensor x = t2x3({1, 3, 3, 5, 2, 5});
  ValuesIndices r = max(x, 1);
  EXPECT_EQ(r.values.to_vector<double>(), (std::vector<double>{3, 5}));
  EXPECT_EQ(r.indices.dtype(), DType::i64);
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  ValuesIndices m = min(x, 0, true);
  EXPECT_EQ(m.values.shape(), (Shape{1, 3}));
  EXPECT_EQ(m.values.to_vector<double>(), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(m.indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(argmax(x, -1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(argmin(x, 1, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(argmin(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
}

TEST(ReduceMax, GradientGoesToTheIndexOnly) {
  Tensor x = t2x3({1, 3, 3, 5, 2, 5}).set_requires_grad(true);
  sum(mul(max(x, 1).values, Tensor::from_vector(std::vector<double>{2, 7}, {2}))).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 2, 0, 7, 0, 0}));
}

TEST(ReduceMax, InnerLayoutMatchesPermutedRows) {
  // dim 0 of [5, 7, 3] walks the column kernel; the same values via the last dim walk rows.
  Generator gen(3);
  Tensor x = randn({37, 9, 300}, gen, 0.0, 1.0, DType::f32);
  ValuesIndices a = max(x, 0);
  ValuesIndices b = max(x.permute({1, 2, 0}).contiguous(), -1);
  EXPECT_EQ(a.values.to_vector<float>(), b.values.to_vector<float>());
  EXPECT_EQ(a.indices.to_vector<int64_t>(), b.indices.to_vector<int64_t>());
}

TEST(ReduceAmax, TiesShareTheGradientEqually) {
  Tensor x = t2x3({1, 3, 3, 5, 2, 5}).set_requires_grad(true);
  Tensor m = amax(x, {1});
  EXPECT_EQ(m.to_vector<double>(), (std::vector<double>{3, 5}));
  sum(m).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0.5, 0.5, 0.5, 0, 0.5}));
  Tensor y = t2x3({4, -1, 4, 0, 4, 2}).set_requires_grad(true);
  Tensor full = max(y);
  EXPECT_EQ(full.dim(), 0);
  EXPECT_EQ(full.item(), 4.0);
  full.backward();
  const double third = 1.0 / 3.0;
  EXPECT_EQ(y.grad().to_vector<double>(), (std::vector<double>{third, 0, third, 0, third, 0}));
  EXPECT_EQ(min(y).item(), -1.0);
  EXPECT_EQ(amin(y, {0, 1}, true).shape(), (Shape{1, 1}));
}

TEST(ReduceVar, UnbiasedAndBiased) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {4});
  EXPECT_NEAR(var(x).item(), 5.0 / 3.0, 1e-15);
  EXPECT_NEAR(var(x, {}, false).item(), 1.25, 1e-15);
  // Per-column variance of [[1, 10], [3, 30], [5, 50]] over dim 0: 4 and 400 (unbiased).
  Tensor y = Tensor::from_vector(std::vector<double>{1, 10, 3, 30, 5, 50}, {3, 2});
  EXPECT_EQ(var(y, {0}).to_vector<double>(), (std::vector<double>{4, 400}));
  EXPECT_EQ(var(y, {-1}, false, true).shape(), (Shape{3, 1}));
}

TEST(ReduceVar, LargeOffsetKeepsPrecisionInFloat) {
  // A naive E[x^2] - E[x]^2 in float loses everything at this offset; two passes in double do not.
  std::vector<float> v;
  for (int i = 0; i < 1000; ++i) v.push_back(10000.0f + float(i % 2));
  Tensor x = Tensor::from_vector(v, {1000});
  EXPECT_NEAR(var(x, {}, false).item(), 0.25, 1e-6);
}

TEST(ReduceVar, ColumnKernelMatchesRowKernel) {
  Generator gen(5);
  Tensor x = randn({4, 33, 33, 64}, gen, 1.0, 2.0, DType::f32);
  std::vector<float> a = var(x, {0, 1, 2}).to_vector<float>();
  std::vector<float> b = var(x.permute({3, 0, 1, 2}).contiguous(), {1, 2, 3}).to_vector<float>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5 * std::abs(b[i]));
}

TEST(ReduceErrors, NameTheOpAndTheProblem) {
  Tensor one = Tensor::from_vector(std::vector<double>{2}, {1});
  expect_error([&] { var(one); }, {"var", "unbiased", "1 element"});
  Tensor empty = Tensor::empty({3, 0}, DType::f32);
  expect_error([&] { max(empty, 1); }, {"max", "empty dim", "[3, 0]"});
  expect_error([&] { amin(t2x3({1, 2, 3, 4, 5, 6}), {1, -1}); }, {"amin", "repeated dim"});
  expect_error([&] { argmax(t2x3({1, 2, 3, 4, 5, 6}), 2); }, {"argmax", "dim 2"});
  Tensor ints = Tensor::from_vector(std::vector<int32_t>{1, 2}, {2});
  expect_error([&] { amax(ints); }, {"amax", "f32 or f64", "i32"});
}

}  // namespace
}  // namespace engine
