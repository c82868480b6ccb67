// Known values, views, gradients of partially used pieces and error messages of the join family.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/join.h"
#include "engine/ops/reduce.h"

namespace engine {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

Tensor iota_i32(const Shape& shape, int32_t start = 0) {
  std::vector<int32_t> v(size_t(numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + int32_t(i);
  return Tensor::from_vector<int32_t>(v, shape);
}

TEST(Concat, IntegersAlongEachDim) {
  Tensor a = iota_i32({2, 2});      // 0 1 / 2 3
  Tensor b = iota_i32({2, 1}, 10);  // 10 / 11
  EXPECT_EQ(concat({a, b}, 1).to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 10, 2, 3, 11}));
  Tensor c = iota_i32({1, 2}, 20);
  Tensor y = concat({a, c}, 0);
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 2, 3, 20, 21}));
}

TEST(Concat, NonContiguousAndEmptyInputs) {
  Tensor a = iota_i32({2, 3}).transpose(0, 1);  // [3, 2]: 0 3 / 1 4 / 2 5
  Tensor e = Tensor::empty({3, 0}, DType::i32);
  Tensor b = iota_i32({3, 1}, 7);
  EXPECT_EQ(concat({a, e, b}, -1).to_vector<int32_t>(),
            (std::vector<int32_t>{0, 3, 7, 1, 4, 8, 2, 5, 9}));
}

TEST(Concat, BoolAndU8KeepBits) {
  Tensor a = Tensor::from_vector<uint8_t>({255, 0}, {2});
  Tensor b = Tensor::from_vector<uint8_t>({7}, {1});
  EXPECT_EQ(concat({a, b}, 0).to_vector<uint8_t>(), (std::vector<uint8_t>{255, 0, 7}));
}

TEST(Concat, GradientIsTheSliceOfEachInput) {
  Tensor a = zeros({2, 3}, DType::f64).set_requires_grad();
  Tensor b = zeros({2, 2}, DType::f64).set_requires_grad();
  Tensor g = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {2, 5});
  concat({a, b}, 1).backward(g);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{1, 2, 3, 6, 7, 8}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{4, 5, 9, 10}));
}

TEST(Concat, ErrorsNameIndexAndShapes) {
  Tensor a = zeros({2, 4, 5}), b = zeros({2, 4, 5}), c = zeros({2, 3, 6});
  EXPECT_THAT(
      [&] {
        concat({a, b, c}, 1);
      },
      ThrowsMessage<Error>(AllOf(HasSubstr("concat"), HasSubstr("tensor 2"), HasSubstr("[2, 3, 6]"),
                                 HasSubstr("[2, 4, 5]"), HasSubstr("dim 1"))));
  EXPECT_THAT(
      [&] {
        concat({a, zeros({2, 4})}, 0);
      },
      ThrowsMessage<Error>(
          AllOf(HasSubstr("tensor 1"), HasSubstr("[2, 4]"), HasSubstr("[2, 4, 5]"))));
  EXPECT_THAT(
      [&] {
        concat({a, zeros({2, 4, 5}, DType::f64)}, 0);
      },
      ThrowsMessage<Error>(AllOf(HasSubstr("tensor 1"), HasSubstr("f64"), HasSubstr("f32"))));
  EXPECT_THAT([&] { concat({}, 0); }, ThrowsMessage<Error>(HasSubstr("concat")));
  EXPECT_THAT([&] { concat({a}, 3); }, ThrowsMessage<Error>(HasSubstr("concat")));
}

TEST(Concat, LargeChannelConcatMatchesElementLoop) {
  // Big enough for the multi-threaded path.
  Tensor a = iota_i32({4, 33, 35, 40}), b = iota_i32({4, 33, 35, 9}, -1000000);
  std::vector<int32_t> y = concat({a, b}, 3).to_vector<int32_t>();
  std::vector<int32_t> av = a.to_vector<int32_t>(), bv = b.to_vector<int32_t>();
  const int64_t pixels = 4 * 33 * 35;
  ASSERT_EQ(y.size(), size_t(pixels * 49));
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t c = 0; c < 49; ++c)
      ASSERT_EQ(y[size_t(p * 49 + c)],
                c < 40 ? av[size_t(p * 40 + c)] : bv[size_t(p * 9 + c - 40)]);
}

TEST(Stack, NewDimAtFrontAndBack) {
  Tensor a = iota_i32({2}), b = iota_i32({2}, 5);
  Tensor s0 = stack({a, b}, 0);
  EXPECT_EQ(s0.shape(), (Shape{2, 2}));
  EXPECT_EQ(s0.to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 5, 6}));
  Tensor s1 = stack({a, b}, -1);
  EXPECT_EQ(s1.to_vector<int32_t>(), (std::vector<int32_t>{0, 5, 1, 6}));
  EXPECT_THAT(
      [&] {
        stack({a, iota_i32({3})}, 0);
      },
      ThrowsMessage<Error>(
          AllOf(HasSubstr("stack"), HasSubstr("tensor 1"), HasSubstr("[3]"), HasSubstr("[2]"))));
}

TEST(Split, ViewsShareStorage) {
  Tensor x = iota_i32({2, 5});
  auto parts = split(x, {3, 2}, 1);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[1].shape(), (Shape{2, 2}));
  EXPECT_TRUE(parts[1].storage() == x.storage());
  EXPECT_EQ(parts[1].to_vector<int32_t>(), (std::vector<int32_t>{3, 4, 8, 9}));
  EXPECT_THAT(
      [&] {
        split(x, {3, 3}, 1);
      },
      ThrowsMessage<Error>(AllOf(HasSubstr("split"), HasSubstr("sum to 6"), HasSubstr("[2, 5]"))));
}

TEST(Split, UnusedPiecesGetZeroGradient) {
  Tensor x = ones({1, 5}, DType::f64).set_requires_grad();
  auto parts = split(x, {2, 3}, 1);
  sum(mul(parts[1], 4.0)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 4, 4, 4}));
}

TEST(Chunk, SizesFollowPyTorch) {
  auto sizes = [](int64_t n, int64_t k) {
    std::vector<int64_t> s;
    for (const Tensor& t : chunk(zeros({n, 2}), k, 0)) s.push_back(t.size(0));
    return s;
  };
  EXPECT_EQ(sizes(7, 4), (std::vector<int64_t>{2, 2, 2, 1}));
  EXPECT_EQ(sizes(5, 4), (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(sizes(6, 3), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(sizes(2, 5), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(sizes(0, 3), (std::vector<int64_t>{0, 0, 0}));
  EXPECT_THAT([&] { chunk(zeros({3}), 0, 0); }, ThrowsMessage<Error>(HasSubstr("chunk")));
}

TEST(Pad, ConstantNhwcSpatial) {
  Tensor x = iota_i32({1, 2, 2, 1}, 1);  // 1 2 / 3 4
  Tensor y = pad(x, {{0, 0}, {1, 0}, {0, 1}}, 255);
  EXPECT_EQ(y.shape(), (Shape{1, 3, 3, 1}));
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{255, 255, 255, 1, 2, 255, 3, 4, 255}));
}

TEST(Pad, ChannelsAndFloatValue) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor y = pad(x, {{0, 0}, {1, 2}}, -1.5);
  EXPECT_EQ(y.to_vector<float>(),
            (std::vector<float>{-1.5f, 1, 2, -1.5f, -1.5f, -1.5f, 3, 4, -1.5f, -1.5f}));
}

TEST(Pad, NegativeCrops) {
  Tensor x = iota_i32({3, 4});  // rows 0..3, 4..7, 8..11
  Tensor y = pad(x, {{-1, 0}, {1, -2}});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{0, 4, 5, 0, 8, 9}));
}

TEST(Pad, GradientIsTheInteriorSlice) {
  Tensor x = zeros({2, 2}, DType::f64).set_requires_grad();
  Tensor g = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3});
  pad(x, {{1, 0}, {0, 1}}).backward(g);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 5, 7, 8}));
}

TEST(Pad, LargeSpatialPadMatchesElementLoop) {
  Tensor x = iota_i32({3, 61, 67, 24});
  Tensor y = pad(x, {{0, 0}, {2, 3}, {4, 1}}, -7);
  ASSERT_EQ(y.shape(), (Shape{3, 66, 72, 24}));
  std::vector<int32_t> yv = y.to_vector<int32_t>(), xv = x.to_vector<int32_t>();
  size_t k = 0;
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t h = 0; h < 66; ++h)
      for (int64_t w = 0; w < 72; ++w)
        for (int64_t c = 0; c < 24; ++c, ++k) {
          int64_t ih = h - 2, iw = w - 4;
          bool inside = ih >= 0 && ih < 61 && iw >= 0 && iw < 67;
          ASSERT_EQ(yv[k], inside ? xv[size_t(((n * 61 + ih) * 67 + iw) * 24 + c)] : -7);
        }
}

TEST(Pad, Errors) {
  Tensor x = zeros({2, 3});
  EXPECT_THAT(
      [&] {
        pad(x, {{0, 0}, {0, 0}, {1, 1}});
      },
      ThrowsMessage<Error>(AllOf(HasSubstr("pad"), HasSubstr("[2, 3]"))));
  EXPECT_THAT(
      [&] {
        pad(x, {{0, 0}, {-2, -2}});
      },
      ThrowsMessage<Error>(AllOf(HasSubstr("cropping 2 + 2"), HasSubstr("size 3"))));
  EXPECT_THAT(
      [&] {
        pad(iota_i32({2}), {{1, 1}}, 0.5);
      },
      ThrowsMessage<Error>(AllOf(HasSubstr("not an integer"), HasSubstr("i32"))));
}

}  // namespace
}  // namespace engine
