// matmul / linear: hand-computed values, broadcasting, views read without copies, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/ops/factory.h"
#include "engine/ops/linalg.h"
#include "engine/ops/reduce.h"

namespace engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(LinalgMatmul, KnownValues2d) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector<float>({7, 8, 9, 10, 11, 12}, {3, 2});
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), (Shape{2, 2}));
  EXPECT_THAT(c.to_vector<float>(), ElementsAre(58, 64, 139, 154));
}

TEST(LinalgMatmul, TransposedViewsMatchValues) {
  Tensor a = Tensor::from_vector<double>({1, 4, 2, 5, 3, 6}, {3, 2});     // a^T = [[1,2,3],[4,5,6]]
  Tensor b = Tensor::from_vector<double>({7, 9, 11, 8, 10, 12}, {2, 3});  // b^T = [[7,8],...]
  Tensor c = matmul(a.transpose(0, 1), b.transpose(0, 1));
  EXPECT_THAT(c.to_vector<double>(), ElementsAre(58, 64, 139, 154));
}

TEST(LinalgMatmul, BatchBroadcastAppliesOneMatrixToEveryBatch) {
  Tensor a = Tensor::from_vector<float>({1, 0, 0, 1, 2, 0, 0, 2}, {2, 2, 2});
  Tensor b = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), (Shape{2, 2, 2}));
  EXPECT_THAT(c.to_vector<float>(), ElementsAre(1, 2, 3, 4, 2, 4, 6, 8));
  Tensor d = matmul(Tensor::from_vector<float>({1, 1}, {1, 1, 2}), a);  // [1,1,2] x [2,2,2]
  EXPECT_EQ(d.shape(), (Shape{2, 1, 2}));
  EXPECT_THAT(d.to_vector<float>(), ElementsAre(1, 1, 2, 2));
}

TEST(LinalgMatmul, GradientOfBroadcastMatrixSumsOverBatch) {
  Tensor a = ones({3, 2, 4}, DType::f64);
  Tensor b = ones({4, 5}, DType::f64).set_requires_grad();
  sum(matmul(a, b)).backward();
  EXPECT_EQ(b.grad().shape(), (Shape{4, 5}));
  for (double v : b.grad().to_vector<double>()) EXPECT_EQ(v, 6.0);  // 3 batches x 2 rows
}

TEST(LinalgMatmul, EmptyInnerDimGivesZeros) {
  Tensor c = matmul(Tensor::empty({2, 0}), Tensor::empty({0, 3}));
  EXPECT_THAT(c.to_vector<float>(), ElementsAre(0, 0, 0, 0, 0, 0));
}

TEST(LinalgMatmul, Errors) {
  EXPECT_THAT(error_of([] {
                matmul(ones({2, 3}), ones({4, 5}));
              }),
              HasSubstr("matmul: inner dims differ: a [2, 3] has 3 columns, b [4, 5] has 4 rows"));
  EXPECT_THAT(error_of([] {
                matmul(ones({3}), ones({3, 2}));
              }),
              HasSubstr("matmul: operands need at least 2 dims, got a [3]"));
  EXPECT_THAT(error_of([] { matmul(ones({2, 2, 3}), ones({3, 3, 4})); }), HasSubstr("matmul"));
  EXPECT_THAT(error_of([] {
                matmul(ones({2, 3}), ones({3, 2}, DType::f64));
              }),
              HasSubstr("matmul"));
}

TEST(LinalgLinear, KnownValuesWithBias) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 1, 2});
  Tensor w = Tensor::from_vector<float>({1, 0, 0, 1, 1, 1}, {3, 2});  // [O=3, I=2]
  Tensor b = Tensor::from_vector<float>({10, 20, 30}, {3});
  Tensor y = linear(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{2, 1, 3}));
  EXPECT_THAT(y.to_vector<float>(), ElementsAre(11, 22, 33, 13, 24, 37));
}

TEST(LinalgLinear, Errors) {
  EXPECT_THAT(error_of([] {
                linear(ones({2, 5}), ones({3, 4}));
              }),
              HasSubstr("linear: weight [3, 4] expects 4 input features, x [2, 5] has 5"));
  EXPECT_THAT(error_of([] {
                linear(ones({2, 4}), ones({3, 4}), ones({2}));
              }),
              HasSubstr("linear: bias [2] must have 3 elements"));
}

}  // namespace
}  // namespace engine
