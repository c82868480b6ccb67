// Known values (checked against PyTorch F.interpolate), label-map behaviour, the backward as the
// exact adjoint, and error messages of the resize family.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "engine/ops/resize.h"

namespace engine {
namespace {

using ::testing::HasSubstr;

Tensor grid_2x2() {
  return Tensor::from_vector<float>({1, 2, 3, 4}, {1, 2, 2, 1});
}

void expect_values(const Tensor& t, const std::vector<float>& want, float tol = 1e-6f) {
  std::vector<float> got = t.to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

TEST(ResizeBilinear, AlignCornersTo3x3) {
  Tensor y = resize_bilinear(grid_2x2(), 3, 3, true);
  EXPECT_EQ(y.shape(), (Shape{1, 3, 3, 1}));
  expect_values(y, {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4});
}

TEST(ResizeBilinear, HalfPixelTo4x4) {
  // torch.nn.functional.interpolate(x, size=(4, 4), mode='bilinear', align_corners=False)
  Tensor y = resize_bilinear(grid_2x2(), 4, 4, false);
  expect_values(y, {1.0, 1.25, 1.75, 2.0,  //
                    1.5, 1.75, 2.25, 2.5,  //
                    2.5, 2.75, 3.25, 3.5,  //
                    3.0, 3.25, 3.75, 4.0});
}

TEST(ResizeBilinear, HalfPixelTo3x3) {
  // src = (dst + 0.5) * 2/3 - 0.5 = {-1/6 -> 0, 0.5, 7/6 -> clamped neighbour}
  Tensor y = resize_bilinear(grid_2x2(), 3, 3, false);
  expect_values(y, {1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.0, 3.5, 4.0});
}

TEST(ResizeBilinear, AlignCornersTo4x4) {
  Tensor y = resize_bilinear(grid_2x2(), 4, 4, true);
  float t = 1.0f / 3.0f;
  std::vector<float> row = {0, t, 2 * t, 1};
  std::vector<float> want;
  for (float r : row)
    for (float c : row) want.push_back(1 + c + 2 * r);
  expect_values(y, want, 1e-5f);
}

TEST(ResizeBilinear, DownscaleHalfPixelAveragesPairs) {
  // 4 -> 2 with half-pixel centres samples at 0.5 and 2.5: the mean of each pair.
  Tensor x = Tensor::from_vector<double>({0, 2, 10, 20}, {1, 1, 4, 1});
  Tensor y = resize_bilinear(x, 1, 2, false);
  std::vector<double> v = y.to_vector<double>();
  EXPECT_DOUBLE_EQ(v[0], 1.0);
  EXPECT_DOUBLE_EQ(v[1], 15.0);
}

TEST(ResizeBilinear, SinglePixelOutput) {
  // align_corners: a 1-pixel output samples source 0. Half-pixel: source (0.5 * in - 0.5), the
  // centre: row 1 of 3 and column 2 of 5 here.
  std::vector<float> v(15);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i * i);
  Tensor x = Tensor::from_vector<float>(v, {1, 3, 5, 1});
  EXPECT_EQ(resize_bilinear(x, 1, 1, true).to_vector<float>(), (std::vector<float>{0}));
  EXPECT_EQ(resize_bilinear(x, 1, 1, false).to_vector<float>(), (std::vector<float>{49}));
}

TEST(ResizeBilinear, ChannelsInterpolateIndependently) {
  // Two channels: the second is the first times -3.
  Tensor x = Tensor::from_vector<float>({1, -3, 2, -6, 3, -9, 4, -12}, {1, 2, 2, 2});
  std::vector<float> y = resize_bilinear(x, 3, 5, false).to_vector<float>();
  std::vector<float> ref = resize_bilinear(grid_2x2(), 3, 5, false).to_vector<float>();
  for (size_t i = 0; i < ref.size(); ++i) {
    EXPECT_FLOAT_EQ(y[2 * i], ref[i]);
    EXPECT_FLOAT_EQ(y[2 * i + 1], -3 * ref[i]);
  }
}

TEST(ResizeBilinear, SameSizeIsIdentityBothModes) {
  Generator gen(3);
  Tensor x = randn({2, 5, 7, 3}, gen);
  for (bool align : {false, true})
    EXPECT_EQ(resize_bilinear(x, 5, 7, align).to_vector<float>(), x.to_vector<float>());
}

TEST(ResizeBilinear, BackwardIsAdjointOfForward) {
  // <resize(x), g> == <x, resize^T(g)> for random x, g, on odd sizes both ways.
  Generator gen(11);
  for (bool align : {false, true}) {
    for (auto [ih, iw, oh, ow] : {std::array<int64_t, 4>{7, 9, 15, 4}, {13, 5, 6, 11}}) {
      Tensor x = randn({2, ih, iw, 3}, gen, 0, 1, DType::f64).set_requires_grad();
      Tensor g = randn({2, oh, ow, 3}, gen, 0, 1, DType::f64);
      Tensor y = resize_bilinear(x, oh, ow, align);
      y.backward(g);
      double lhs = sum(mul(y.detach(), g)).item();
      double rhs = sum(mul(x.detach(), x.grad())).item();
      EXPECT_NEAR(lhs, rhs, 1e-9 * (1 + std::abs(lhs)));
    }
  }
}

TEST(ResizeBilinear, GradientSumsToOutputCount) {
  // Each output pixel's weights sum to one, so an all-ones upstream gradient sums to out_h*out_w.
  Tensor x = zeros({1, 7, 9, 2}, DType::f64).set_requires_grad();
  resize_bilinear(x, 15, 4, false).backward(ones({1, 15, 4, 2}, DType::f64));
  EXPECT_NEAR(sum(x.grad()).item(), 15 * 4 * 2, 1e-9);
}

// A direct transcription of PyTorch's upsample_bilinear2d (one output pixel at a time, scatter
// for the backward), used on sizes large enough that the kernels run multi-threaded.
struct Reference {
  static double src(int64_t dst, int64_t in, int64_t out, bool align) {
    if (align) return out > 1 ? double(dst) * double(in - 1) / double(out - 1) : 0.0;
    return std::max(0.0, (double(dst) + 0.5) * double(in) / double(out) - 0.5);
  }
  // Calls f(input_offset, weight) for the four taps of output pixel (n, oh, ow) channel c.
  template <typename F>
  static void taps(const Shape& in, int64_t oh, int64_t ow, int64_t out_h, int64_t out_w,
                   bool align, int64_t n, int64_t c, F&& f) {
    double sh = src(oh, in[1], out_h, align), sw = src(ow, in[2], out_w, align);
    int64_t h0 = int64_t(sh), w0 = int64_t(sw);
    int64_t h1 = std::min(h0 + 1, in[1] - 1), w1 = std::min(w0 + 1, in[2] - 1);
    double lh = sh - double(h0), lw = sw - double(w0);
    auto at = [&](int64_t h, int64_t w) { return ((n * in[1] + h) * in[2] + w) * in[3] + c; };
    f(at(h0, w0), (1 - lh) * (1 - lw));
    f(at(h0, w1), (1 - lh) * lw);
    f(at(h1, w0), lh * (1 - lw));
    f(at(h1, w1), lh * lw);
  }
};

TEST(ResizeBilinear, MatchesReferenceOnLargeOddSizes) {
  Generator gen(21);
  const Shape in = {2, 33, 37, 16};
  for (bool align : {false, true}) {
    for (auto [oh_n, ow_n] : {std::pair<int64_t, int64_t>{65, 70}, {17, 25}}) {
      Tensor x = randn(in, gen, 0, 1, DType::f64).set_requires_grad();
      Tensor g = randn({2, oh_n, ow_n, 16}, gen, 0, 1, DType::f64);
      Tensor y = resize_bilinear(x, oh_n, ow_n, align);
      y.backward(g);
      std::vector<double> xv = x.detach().to_vector<double>(), gv = g.to_vector<double>();
      std::vector<double> yv = y.detach().to_vector<double>(), gx = x.grad().to_vector<double>();
      std::vector<double> want_y(yv.size(), 0.0), want_gx(xv.size(), 0.0);
      size_t k = 0;
      for (int64_t n = 0; n < 2; ++n)
        for (int64_t oh = 0; oh < oh_n; ++oh)
          for (int64_t ow = 0; ow < ow_n; ++ow)
            for (int64_t c = 0; c < 16; ++c, ++k)
              Reference::taps(in, oh, ow, oh_n, ow_n, align, n, c, [&](int64_t i, double w) {
                want_y[k] += w * xv[size_t(i)];
                want_gx[size_t(i)] += w * gv[k];
              });
      for (size_t i = 0; i < yv.size(); ++i) ASSERT_NEAR(yv[i], want_y[i], 1e-12) << i;
      for (size_t i = 0; i < gx.size(); ++i) ASSERT_NEAR(gx[i], want_gx[i], 1e-11) << i;
    }
  }
}

TEST(ResizeBilinear, BackwardIsBitwiseDeterministic) {
  Generator gen(8);
  Tensor x = randn({3, 41, 41, 21}, gen).set_requires_grad();
  Tensor g = randn({3, 161, 161, 21}, gen);
  resize_bilinear(x, 161, 161, true).backward(g);
  std::vector<float> first = x.grad().to_vector<float>();
  x.zero_grad();
  resize_bilinear(x, 161, 161, true).backward(g);
  EXPECT_EQ(x.grad().to_vector<float>(), first);
}

TEST(ResizeNearest, LabelMapKeepsIdsExactly) {
  // ids including 255 (ignore) and large i64 values survive bit-for-bit.
  std::vector<int64_t> ids = {0, 255, 7, 1LL << 40, 3, 12, -1, 20};
  Tensor labels = Tensor::from_vector<int64_t>(ids, {1, 2, 4});
  Tensor y = resize_nearest_labels(labels, 5, 9);
  EXPECT_EQ(y.dtype(), DType::i64);
  EXPECT_EQ(y.shape(), (Shape{1, 5, 9}));
  std::vector<int64_t> v = y.to_vector<int64_t>();
  for (int64_t oh = 0; oh < 5; ++oh)
    for (int64_t ow = 0; ow < 9; ++ow) {
      // PyTorch: floor(dst * in / out) with a float scale.
      int64_t ih = std::min<int64_t>(int64_t(std::floor(float(oh) * (2.0f / 5.0f))), 1);
      int64_t iw = std::min<int64_t>(int64_t(std::floor(float(ow) * (4.0f / 9.0f))), 3);
      EXPECT_EQ(v[size_t(oh * 9 + ow)], ids[size_t(ih * 4 + iw)]) << oh << "," << ow;
    }
}

TEST(ResizeNearest, KnownValuesUpAndDown) {
  // PyTorch: interpolate(arange(6).view(1,1,2,3).float(), size=(3,4), mode='nearest')
  //   rows src {0,0,1}, cols src {0,0,1,2}.
  Tensor x = Tensor::from_vector<int32_t>({0, 1, 2, 3, 4, 5}, {1, 2, 3, 1});
  EXPECT_EQ(resize_nearest(x, 3, 4).to_vector<int32_t>(),
            (std::vector<int32_t>{0, 0, 1, 2, 0, 0, 1, 2, 3, 3, 4, 5}));
  // 5 -> 2: src = floor(dst * 2.5) = {0, 2}.
  Tensor u = Tensor::from_vector<uint8_t>({10, 11, 12, 13, 14}, {1, 1, 5, 1});
  EXPECT_EQ(resize_nearest(u, 1, 2).to_vector<uint8_t>(), (std::vector<uint8_t>{10, 12}));
}

TEST(ResizeNearest, FloatBackwardCountsCopies) {
  // 2 -> 5 along W: src {0,0,0,1,1}: the first input pixel is copied 3 times, the second twice.
  Tensor x = zeros({1, 1, 2, 1}, DType::f64).set_requires_grad();
  resize_nearest(x, 1, 5).backward(ones({1, 1, 5, 1}, DType::f64));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 2}));
}

TEST(ResizeErrors, MessagesNameOpAndShapes) {
  Tensor x3 = zeros({2, 3, 4});
  EXPECT_THAT([&] { resize_bilinear(x3, 4, 4, false); },
              ::testing::ThrowsMessage<Error>(
                  AllOf(HasSubstr("resize_bilinear"), HasSubstr("NHWC"), HasSubstr("[2, 3, 4]"))));
  Tensor x = zeros({1, 3, 4, 2});
  EXPECT_THAT([&] { resize_bilinear(x, 0, 4, true); },
              ::testing::ThrowsMessage<Error>(
                  AllOf(HasSubstr("output size 0x4"), HasSubstr("[1, 3, 4, 2]"))));
  Tensor xi = zeros({1, 3, 4, 2}, DType::i32);
  EXPECT_THAT(
      [&] { resize_bilinear(xi, 5, 5, true); },
      ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("resize_bilinear"), HasSubstr("i32"))));
  EXPECT_THAT([&] { resize_nearest_labels(x, 5, 5); },
              ::testing::ThrowsMessage<Error>(
                  AllOf(HasSubstr("resize_nearest_labels"), HasSubstr("[1, 3, 4, 2]"))));
  EXPECT_THAT(
      [&] {
        resize_nearest(zeros({1, 0, 4, 2}), 5, 5);
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("empty spatial dim")));
}

}  // namespace
}  // namespace engine
