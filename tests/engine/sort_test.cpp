// Known values, stability on ties, gradient routing and error messages of sort/argsort/topk.
#include <gtest/gtest.h>

#include "support/expect_error.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/sort.h"

namespace engine {
namespace {

using testing::expect_error;

Tensor f32(const std::vector<float>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}
using I = std::vector<int64_t>;
using F = std::vector<float>;

TEST(SortStable, TiesKeepOriginalOrderAscending) {
  SortResult r = sort(f32({3, 1, 2, 1, 3, 1}, {6}));
  EXPECT_EQ(r.values.to_vector<float>(), (F{1, 1, 1, 2, 3, 3}));
  EXPECT_EQ(r.indices.dtype(), DType::i64);
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (I{1, 3, 5, 2, 0, 4}));
}

TEST(SortStable, TiesKeepOriginalOrderDescending) {
  SortResult r = sort(f32({3, 1, 2, 1, 3, 1}, {6}), 0, true);
  EXPECT_EQ(r.values.to_vector<float>(), (F{3, 3, 2, 1, 1, 1}));
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (I{0, 4, 2, 1, 3, 5}));
  EXPECT_EQ(argsort(f32({3, 1, 2, 1, 3, 1}, {6}), -1, true).to_vector<int64_t>(),
            (I{0, 4, 2, 1, 3, 5}));
}

TEST(Sort, AlongDim0OfAMatrix) {
  // [[3, 0], [1, 5], [2, 5]] sorted down the columns.
  SortResult r = sort(f32({3, 0, 1, 5, 2, 5}, {3, 2}), 0);
  EXPECT_EQ(r.values.to_vector<float>(), (F{1, 0, 2, 5, 3, 5}));
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (I{1, 0, 2, 1, 0, 2}));
}

TEST(Sort, NaNOrdersAboveNumbers) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  SortResult up = sort(f32({2, nan, -1}, {3}));
  EXPECT_EQ(up.indices.to_vector<int64_t>(), (I{2, 0, 1}));
  SortResult down = sort(f32({2, nan, -1}, {3}), 0, true);
  EXPECT_EQ(down.indices.to_vector<int64_t>(), (I{1, 0, 2}));
}

TEST(Sort, GradientGoesBackToSourcePositions) {
  Tensor x = f32({0.5f, -2, 4, 1}, {4}).set_requires_grad();
  SortResult r = sort(x);  // indices 1, 0, 3, 2
  sum(r.values * f32({10, 20, 30, 40}, {4})).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (F{20, 10, 40, 30}));
}

TEST(TopK, LargestSmallestAndUnsorted) {
  Tensor x = f32({1, 5, 3, 5, 2}, {5});
  SortResult big = topk(x, 2);
  EXPECT_EQ(big.values.to_vector<float>(), (F{5, 5}));
  EXPECT_EQ(big.indices.to_vector<int64_t>(), (I{1, 3}));  // ties: lower position first
  SortResult small = topk(x, 2, 0, false);
  EXPECT_EQ(small.values.to_vector<float>(), (F{1, 2}));
  EXPECT_EQ(small.indices.to_vector<int64_t>(), (I{0, 4}));
  SortResult unsorted = topk(x, 3, -1, true, false);
  EXPECT_EQ(unsorted.indices.to_vector<int64_t>(), (I{1, 2, 3}));
  EXPECT_EQ(unsorted.values.to_vector<float>(), (F{5, 3, 5}));
  EXPECT_EQ(topk(x, 0).values.numel(), 0);
}

TEST(TopK, Rows2DAndGradient) {
  Tensor x = f32({1, 9, 4, 7, 0, 8}, {2, 3}).set_requires_grad();
  SortResult r = topk(x, 2, 1);
  EXPECT_EQ(r.values.shape(), (Shape{2, 2}));
  EXPECT_EQ(r.values.to_vector<float>(), (F{9, 4, 8, 7}));
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (I{1, 2, 2, 0}));
  sum(r.values * f32({1, 2, 3, 4}, {2, 2})).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (F{0, 1, 2, 4, 0, 3}));
}

TEST(SortErrors, Messages) {
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_error([&] { topk(x, 4, 1); }, "topk: k 4 out of range for dim 1 of size 3 in x [2, 3]");
  expect_error([&] { topk(x, -1, 0); }, "topk: k -1 out of range for dim 0 of size 2 in x [2, 3]");
  expect_error([&] { sort(x, 2); }, "sort: dim 2 out of range for a tensor of 2 dims");
  expect_error([&] { sort(x.to(DType::i64)); },
               "sort: argument 'x' must be f32 or f64, got [2, 3] i64");
  expect_error([&] { argsort(Tensor::from_vector(std::vector<float>{1}, {})); },
               "sort: x must have at least 1 dim");
}

}  // namespace
}  // namespace engine
