// Pooling: hand-computed values, index convention, gradient routing, PyTorch's adaptive bins
// and output sizes, error messages.
#include <gtest/gtest.h>

#include "support/expect_error.h"

#include <cmath>
#include <string>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/pool.h"
#include "engine/ops/reduce.h"

namespace engine {
namespace {

using testing::expect_error;

// 1..9 as a 3x3 single-channel image.
Tensor grid3() {
  return arange(1.0, 10.0, 1.0, DType::f32).reshape({1, 3, 3, 1});
}

TEST(Pool, MaxPool2x2Stride2ValuesAndIndices) {
  Tensor x = arange(0.0, 16.0, 1.0, DType::f32).reshape({1, 4, 4, 1});
  MaxPoolResult r = max_pool2d_with_indices(x, 2, 2);
  EXPECT_EQ(r.out.shape(), (Shape{1, 2, 2, 1}));
  EXPECT_EQ(r.out.to_vector<float>(), (std::vector<float>{5, 7, 13, 15}));
  EXPECT_EQ(r.indices.dtype(), DType::i64);
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{5, 7, 13, 15}));
}

TEST(Pool, MaxPoolPaddingIsMinusInfinity) {
  // All values negative: a zero-padded max would return 0 at the borders.
  Tensor y = max_pool2d(neg(grid3()), 3, 2, 1);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 1}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-1, -2, -4, -5}));
  EXPECT_EQ(max_pool2d(grid3(), 3, 2, 1).to_vector<float>(), (std::vector<float>{5, 6, 8, 9}));
}

TEST(Pool, MaxPoolPropagatesNan) {
  Tensor x = Tensor::from_vector<float>({1, NAN, 3, 2}, {1, 2, 2, 1});
  MaxPoolResult r = max_pool2d_with_indices(x, 2, 2);
  EXPECT_TRUE(std::isnan(r.out.to_vector<float>()[0]));
  EXPECT_EQ(r.indices.to_vector<int64_t>()[0], 1);
}

TEST(Pool, MaxPoolPerChannelNhwc) {
  // Two channels with opposite orderings pick different pixels.
  Tensor x = Tensor::from_vector<float>({0, 3, 1, 2, 2, 1, 3, 0}, {1, 2, 2, 2});
  MaxPoolResult r = max_pool2d_with_indices(x, 2, 2);
  EXPECT_EQ(r.out.to_vector<float>(), (std::vector<float>{3, 3}));
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{3, 0}));
}

TEST(Pool, MaxPoolGradientAccumulatesOverOverlappingWindows) {
  // k3 s1 p1 on 1..9: outputs [[5,6,6],[8,9,9],[8,9,9]].
  Tensor x = grid3().set_requires_grad();
  Tensor y = max_pool2d(x, 3, 1, 1);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{5, 6, 6, 8, 9, 9, 8, 9, 9}));
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 0, 0, 0, 1, 2, 0, 2, 4}));
}

TEST(Pool, MaxPoolDilationAndCeilModeSizes) {
  Tensor x = zeros({1, 11, 9, 2});
  EXPECT_EQ(max_pool2d(x, 3, 1, 1, 2).shape(), (Shape{1, 9, 7, 2}));
  // (11 + 2 - 3) / 2 + 1 = 6 either way; width (9 - 2) / 2 + 1 = 4, ceil 5 (starts at 8 < 9).
  EXPECT_EQ(max_pool2d(x, {3, 2}, 2, {1, 0}, 1, false).shape(), (Shape{1, 6, 4, 2}));
  EXPECT_EQ(max_pool2d(x, {3, 2}, 2, {1, 0}, 1, true).shape(), (Shape{1, 6, 5, 2}));
  // ResNet stem on an odd size: ceil((H - 1) / 2).
  EXPECT_EQ(max_pool2d(zeros({2, 161, 97, 4}), 3, 2, 1).shape(), (Shape{2, 81, 49, 4}));
}

TEST(Pool, AvgPoolCountIncludePad) {
  // k3 s2 p1 on 1..9; top-left window holds 1, 2, 4, 5 (sum 12) and 5 padded zeros.
  auto inc = avg_pool2d(grid3(), 3, 2, 1, true).to_vector<float>();
  auto exc = avg_pool2d(grid3(), 3, 2, 1, false).to_vector<float>();
  std::vector<float> sums = {12, 16, 24, 28};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(inc[i], sums[i] / 9.0f, 1e-6);
    EXPECT_NEAR(exc[i], sums[i] / 4.0f, 1e-6);
  }
}

TEST(Pool, AvgPoolCeilModeWindowPastTheEdge) {
  // Width 5, kernel 2, stride 2, ceil: the last window holds only column 4 and divides by 1
  // (it lies past the input, not in padding).
  Tensor x = arange(1.0, 6.0, 1.0, DType::f32).reshape({1, 1, 5, 1});
  auto y = avg_pool2d(x, {1, 2}, {1, 2}, 0, true, true).to_vector<float>();
  EXPECT_EQ(y, (std::vector<float>{1.5f, 3.5f, 5.0f}));
}

TEST(Pool, AvgPoolGradient) {
  Tensor x = grid3().set_requires_grad();
  sum(avg_pool2d(x, 2, 1)).backward();
  // Each output divides by 4; pixel (i, j) sits in (#rows covering i) * (#cols covering j).
  EXPECT_EQ(x.grad().to_vector<float>(),
            (std::vector<float>{0.25f, 0.5f, 0.25f, 0.5f, 1.0f, 0.5f, 0.25f, 0.5f, 0.25f}));
}

TEST(Pool, AdaptiveBinsFiveToThree) {
  // Bins of 5 -> 3: [0, 2), [1, 4), [3, 5).
  Tensor x = arange(1.0, 6.0, 1.0, DType::f32).reshape({1, 5, 1, 1});
  auto y = adaptive_avg_pool2d(x, 3, 1).to_vector<float>();
  EXPECT_NEAR(y[0], 1.5f, 1e-6);
  EXPECT_NEAR(y[1], 3.0f, 1e-6);
  EXPECT_NEAR(y[2], 4.5f, 1e-6);
  Tensor xg = x.clone().set_requires_grad();
  sum(adaptive_avg_pool2d(xg, 3, 1)).backward();
  // Overlapping bins: pixel 1 is in bins 0 and 1, pixel 3 in bins 1 and 2.
  auto g = xg.grad().to_vector<float>();
  std::vector<float> expect = {0.5f, 0.5f + 1.0f / 3, 1.0f / 3, 1.0f / 3 + 0.5f, 0.5f};
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(g[i], expect[i], 1e-6) << i;
}

TEST(Pool, AdaptivePspBinsOnIndivisibleSizes) {
  Generator gen(5);
  Tensor x = randn({2, 9, 11, 3}, gen, 0.0, 1.0, DType::f64);
  auto xv = x.to_vector<double>();
  for (int64_t bins : {1, 2, 3, 6}) {
    Tensor y = adaptive_avg_pool2d(x, bins, bins);
    ASSERT_EQ(y.shape(), (Shape{2, bins, bins, 3}));
    auto yv = y.to_vector<double>();
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < bins; ++i)
        for (int64_t j = 0; j < bins; ++j)
          for (int64_t c = 0; c < 3; ++c) {
            int64_t h0 = i * 9 / bins, h1 = ((i + 1) * 9 + bins - 1) / bins;
            int64_t w0 = j * 11 / bins, w1 = ((j + 1) * 11 + bins - 1) / bins;
            double s = 0;
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) s += xv[size_t(((n * 9 + h) * 11 + w) * 3 + c)];
            double expect = s / double((h1 - h0) * (w1 - w0));
            EXPECT_NEAR(yv[size_t(((n * bins + i) * bins + j) * 3 + c)], expect, 1e-12)
                << "bins " << bins;
          }
  }
}

TEST(Pool, NonContiguousInputMatchesContiguousCopy) {
  Generator gen(6);
  Tensor view = randn({2, 9, 7, 3}, gen).transpose(1, 2);  // [2, 7, 9, 3], strided
  ASSERT_FALSE(view.is_contiguous());
  EXPECT_EQ(max_pool2d(view, 3, 2, 1).to_vector<float>(),
            max_pool2d(view.contiguous(), 3, 2, 1).to_vector<float>());
  EXPECT_EQ(adaptive_avg_pool2d(view, 3, 3).to_vector<float>(),
            adaptive_avg_pool2d(view.contiguous(), 3, 3).to_vector<float>());
}

TEST(Pool, Errors) {
  expect_error(
      [] {
        max_pool2d(zeros({7, 9, 3}), 3, 2, 1);
      },
      "max_pool2d: x [7, 9, 3] must be 4-d NHWC");
  expect_error(
      [] {
        max_pool2d(zeros({1, 7, 9, 3}), 3, 2, 2);
      },
      "max_pool2d: height padding 2 exceeds half the kernel 3");
  expect_error(
      [] {
        max_pool2d(zeros({1, 2, 9, 3}), 3, 1, 0);
      },
      "max_pool2d: x [1, 2, 9, 3] is too small in height");
  expect_error([] { avg_pool2d(zeros({1, 7, 9, 3}), 3, 0); }, "avg_pool2d: height needs");
  expect_error(
      [] {
        adaptive_avg_pool2d(zeros({1, 7, 9, 3}), 0, 2);
      },
      "adaptive_avg_pool2d: output size 0x2");
  expect_error([] { max_pool2d(zeros({1, 7, 9, 3}, DType::i32), 3, 2, 1); }, "max_pool2d");
}

}  // namespace
}  // namespace engine
