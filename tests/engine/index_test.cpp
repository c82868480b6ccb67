// Known values, properties and error messages of the indexing ops (engine/ops/index.h).
#include <gtest/gtest.h>

#include "support/expect_error.h"

#include <cmath>
#include <string>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/index.h"
#include "engine/ops/reduce.h"
#include "engine/random.h"

namespace engine {
namespace {

using testing::expect_error;

Tensor f32(const std::vector<float>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}
Tensor i64(const std::vector<int64_t>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}
Tensor i32(const std::vector<int32_t>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}

TEST(IndexGather, KnownValuesAndBackward) {
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad();
  Tensor y = gather(x, 1, i64({2, 0, 1, 1}, {2, 2}));
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{3, 1, 5, 5}));
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{1, 0, 1, 0, 2, 0}));
}

TEST(IndexGather, Dim0WithI32AndSmallerIndex) {
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {3, 2});
  // index [2, 1] is smaller than x in dim 1: only column 0 is read.
  Tensor y = gather(x, -2, i32({2, 0}, {2, 1}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{5, 1}));
}

TEST(IndexScatterAdd, RepeatedIndicesAccumulate) {
  Tensor base = f32({10, 20, 30}, {3}).set_requires_grad();
  Tensor src = f32({1, 2, 3, 4}, {4}).set_requires_grad();
  Tensor y = scatter_add(base, 0, i64({0, 2, 0, 0}, {4}), src);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{18, 20, 32}));
}

TEST(IndexScatterAdd, GradientsOfBaseAndSrc) {
  Tensor base = f32({10, 20, 30}, {3}).set_requires_grad();
  Tensor src = f32({1, 2, 3, 4}, {4}).set_requires_grad();
  Tensor y = scatter_add(base, 0, i64({0, 2, 0, 1}, {4}), src);
  sum(y * f32({1, 2, 3}, {3})).backward();
  EXPECT_EQ(base.grad().to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(src.grad().to_vector<float>(), (std::vector<float>{1, 3, 1, 2}));
}

TEST(IndexScatterAdd, Rows2D) {
  Tensor base = zeros({2, 3});
  Tensor src = f32({1, 2, 3, 4}, {2, 2});
  Tensor y = scatter_add(base, 1, i32({2, 2, 0, 1}, {2, 2}), src);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 0, 3, 3, 4, 0}));
}

TEST(IndexSelect, KnownValuesAndBackward) {
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad();
  Tensor y = index_select(x, -1, i32({2, 2, 0}, {3}));
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{3, 3, 1, 6, 6, 4}));
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{1, 0, 2, 1, 0, 2}));
}

TEST(IndexAdd, KnownValues) {
  Tensor base = f32({1, 1, 1, 1}, {2, 2});
  Tensor src = f32({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor y = index_add(base, 0, i64({1, 0, 1}, {3}), src);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{4, 5, 7, 9}));
}

// The naive loop segment_sum must match, in f32 and f64, for i32 and i64 ids, at a size that
// takes the parallel path.
template <typename T, typename I>
void check_segment_sum_against_loop(int64_t P, int64_t D, int64_t S) {
  Generator gen(5);
  DType dt = std::is_same_v<T, float> ? DType::f32 : DType::f64;
  Tensor x = randn({P, D}, gen, 0.0, 1.0, dt);
  Tensor ids = randint({P}, 0, S, gen, std::is_same_v<I, int32_t> ? DType::i32 : DType::i64);
  std::vector<T> xv = x.to_vector<T>();
  std::vector<I> iv = ids.to_vector<I>();
  std::vector<double> want(size_t(S * D), 0.0);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t d = 0; d < D; ++d) want[size_t(iv[size_t(p)] * D + d)] += xv[size_t(p * D + d)];
  Tensor y = segment_sum(x, ids, S);
  ASSERT_EQ(y.shape(), (Shape{S, D}));
  std::vector<T> got = y.to_vector<T>();
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-12;
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "element " << i;
  EXPECT_EQ(segment_sum(x, ids, S).to_vector<T>(), got);  // bitwise deterministic
}

TEST(IndexSegmentSum, MatchesNaiveLoop) {
  check_segment_sum_against_loop<float, int32_t>(20000, 7, 37);
  check_segment_sum_against_loop<double, int64_t>(20000, 7, 37);
  check_segment_sum_against_loop<float, int32_t>(20000, 40, 37);
  check_segment_sum_against_loop<double, int64_t>(30000, 5, 9000);
  check_segment_sum_against_loop<float, int64_t>(13, 3, 5);
  check_segment_sum_against_loop<double, int32_t>(1, 1, 1);
}

// Few segments accumulate by column blocks, many by target rows; both must give bitwise the
// same sums (so the thread-count-dependent choice never changes results).
TEST(IndexSegmentSum, StrategiesAgreeBitwise) {
  Generator gen(9);
  Tensor x = randn({5000, 64}, gen);
  Tensor ids = randint({5000}, 0, 50, gen, DType::i32);
  std::vector<float> few = segment_sum(x, ids, 50).to_vector<float>();
  std::vector<float> many = segment_sum(x, ids, 20000).narrow(0, 0, 50).to_vector<float>();
  EXPECT_EQ(few, many);
}

TEST(IndexSegmentSum, EmptySegmentsAndBackwardGathersRows) {
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {3, 2}).set_requires_grad();
  Tensor y = segment_sum(x, i32({3, 0, 3}, {3}), 5);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{3, 4, 0, 0, 0, 0, 6, 8, 0, 0}));
  Tensor w = f32({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {5, 2});
  sum(y * w).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{7, 8, 1, 2, 7, 8}));
}

TEST(IndexOneHot, KnownValuesWithIgnore) {
  Tensor y = one_hot(i32({0, 255, 2, 1}, {2, 2}), 3, DType::f32, 255);
  EXPECT_EQ(y.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0}));
  // An ignore value inside the class range also gives an all-zero row.
  Tensor z = one_hot(Tensor::from_vector(std::vector<uint8_t>{1, 0}, {2}), 2, DType::f64, 1);
  EXPECT_EQ(z.dtype(), DType::f64);
  EXPECT_EQ(z.to_vector<double>(), (std::vector<double>{0, 0, 1, 0}));
}

TEST(IndexErrors, MessagesNameOpArgumentValueAndSize) {
  Tensor x = zeros({3, 5});
  expect_error(
      [&] {
        gather(x, 1, i64({0, 7, 1}, {3, 1}));
      },
      "gather: index value 7 out of range for dim 1 of size 5 in x [3, 5]");
  expect_error(
      [&] {
        gather(x, 0, i32({-1}, {1, 1}));
      },
      "gather: index value -1 out of range for dim 0 of size 3 in x [3, 5]");
  expect_error([&] { gather(x, 1, i64({0}, {1})); },
               "gather: index [1] must have as many dims as x [3, 5]");
  expect_error(
      [&] {
        gather(x, 1, zeros({4, 1}).to(DType::i64));
      },
      "gather: index [4, 1] is larger than x [3, 5] in dim 0");
  expect_error([&] { gather(x, 2, i64({0}, {1, 1})); }, "gather: dim 2 out of range");
  expect_error(
      [&] {
        gather(x, 1, zeros({3, 1}));
      },
      "gather: argument 'index' must have dtype in {i32, i64}, got [3, 1] f32");
  expect_error(
      [&] {
        index_select(x, 0, i64({0, 3}, {2}));
      },
      "index_select: index value 3 out of range for dim 0 of size 3 in x [3, 5]");
  expect_error(
      [&] {
        index_select(x, 0, i64({0, 1}, {1, 2}));
      },
      "index_select: index must be 1-D, got [1, 2]");
  expect_error(
      [&] {
        scatter_add(x, 0, i64({0, 1}, {1, 2}), zeros({1, 3}));
      },
      "scatter_add: src [1, 3] must have index's shape [1, 2]");
  expect_error(
      [&] {
        scatter_add(x, 1, i64({5}, {1, 1}), zeros({1, 1}));
      },
      "scatter_add: index value 5 out of range for dim 1 of size 5 in base [3, 5]");
  expect_error(
      [&] {
        index_add(x, 1, i64({0, 1}, {2}), zeros({3, 3}));
      },
      "index_add: src [3, 3] must be base [3, 5] with size 2 (index length) at dim 1");
  expect_error(
      [&] {
        segment_sum(x, i32({0, 4, 1}, {3}), 4);
      },
      "segment_sum: segment id 4 at pixel 1 out of range for num_segments 4 (x [3, 5])");
  expect_error(
      [&] {
        segment_sum(x, i32({0, 1}, {2}), 4);
      },
      "segment_sum: ids [2] must be [P] with P = 3 (x [3, 5])");
  expect_error(
      [&] {
        one_hot(i64({0, 5}, {2}), 3);
      },
      "one_hot: label value 5 out of range for num_classes 3 (labels [2], no ignore_index)");
  expect_error(
      [&] {
        one_hot(i64({-1, 255}, {2}), 3, DType::f32, 255);
      },
      "one_hot: label value -1 out of range for num_classes 3 (labels [2], ignore_index 255)");
}

}  // namespace
}  // namespace engine
