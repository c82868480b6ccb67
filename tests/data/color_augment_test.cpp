#include "data/color_augment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "support/expect_error.h"

namespace {

using engine::Tensor;

Tensor image_of(const std::vector<uint8_t>& v, int64_t h, int64_t w) {
  return Tensor::from_vector<uint8_t>(v, {h, w, 3});
}

Tensor pattern(int64_t h, int64_t w, uint32_t salt) {
  std::vector<uint8_t> v(size_t(h * w * 3));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = uint8_t((i * 37u + salt * 11u + (i / 7) * 5u) % 256u);
  return image_of(v, h, w);
}

TEST(ColorAugment, GrayscaleUsesLumaWeightsRoundedHalfUp) {
  // 0.3·100 + 0.59·150 + 0.11·200 = 140.5 -> 141; 0.3·255 = 76.5 -> 77; (1, 0, 0) -> 0.3 -> 0.
  Tensor img = image_of({100, 150, 200, 255, 0, 0, 1, 0, 0, 255, 255, 255}, 2, 2);
  EXPECT_EQ(data::to_grayscale(img).to_vector<uint8_t>(),
            (std::vector<uint8_t>{141, 141, 141, 77, 77, 77, 0, 0, 0, 255, 255, 255}));
}

TEST(ColorAugment, KernelIsNormalizedGaussianOfTheSpec) {
  const double sigma = 1.7;
  auto k = data::blur_kernel(sigma);
  double sum = 0;
  for (double v : k) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  const double ratio = std::exp(-(4.0 + 1.0) / (sigma * sigma));  // offset (2, 1) vs centre
  EXPECT_NEAR(k[(1 + 2) * 5 + 2 + 2] / k[12], ratio, 1e-12);
  EXPECT_EQ(k[0], k[24]);
  EXPECT_EQ(k[3], k[15]);  // (dy, dx) = (-2, 1) and (1, -2)
}

TEST(ColorAugment, BlurKeepsAConstantImage) {
  std::vector<uint8_t> v(7 * 9 * 3);
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t(i % 3 == 0 ? 17 : i % 3 == 1 ? 200 : 93);
  Tensor img = image_of(v, 7, 9);
  for (double sigma : {0.1, 1.0, 5.0})
    EXPECT_EQ(data::gaussian_blur(img, sigma).to_vector<uint8_t>(), v) << "sigma " << sigma;
}

TEST(ColorAugment, BlurOfAnImpulseIsTheKernel) {
  const double sigma = 2.3;
  const int64_t h = 9, w = 11;
  std::vector<uint8_t> v(size_t(h * w * 3), 0);
  const int64_t cy = 4, cx = 5;
  v[size_t((cy * w + cx) * 3 + 1)] = 255;  // green only
  Tensor out = data::gaussian_blur(image_of(v, h, w), sigma);
  auto k = data::blur_kernel(sigma);
  auto o = out.to_vector<uint8_t>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t dy = y - cy, dx = x - cx;
      const double want =
          (std::abs(dy) <= 2 && std::abs(dx) <= 2) ? 255.0 * k[(dy + 2) * 5 + dx + 2] : 0.0;
      const size_t at = size_t((y * w + x) * 3);
      EXPECT_EQ(o[at], 0);
      EXPECT_EQ(o[at + 2], 0);
      EXPECT_NEAR(double(o[at + 1]), want, 0.5 + 1e-4) << "y " << y << " x " << x;
    }
}

TEST(ColorAugment, BlurClampsAtTheBorder) {
  // 1 x 3 image, one channel ramp: the left neighbours of x = 0 repeat pixel 0.
  Tensor img = image_of({0, 0, 0, 90, 90, 90, 180, 180, 180}, 1, 3);
  const double sigma = 1.0;
  auto k = data::blur_kernel(sigma);
  // 1-D weights of the separable kernel: the row sums of the 2-D one.
  double k1[5] = {};
  for (int dy = 0; dy < 5; ++dy)
    for (int dx = 0; dx < 5; ++dx) k1[dx] += k[dy * 5 + dx];
  const double px[3] = {0, 90, 180};
  auto at = [&](int x) { return px[std::clamp(x, 0, 2)]; };
  auto o = data::gaussian_blur(img, sigma).to_vector<uint8_t>();
  for (int x = 0; x < 3; ++x) {
    double want = 0;
    for (int t = 0; t < 5; ++t) want += k1[t] * at(x + t - 2);
    EXPECT_NEAR(double(o[size_t(x * 3)]), want, 0.5 + 1e-4) << "x " << x;
  }
}

TEST(ColorAugment, ProbabilityZeroAndOne) {
  Tensor img = pattern(12, 10, 3);
  engine::Generator gen(5);
  data::ColorAugmentConfig none;
  none.grayscale_p = 0;
  none.blur_p = 0;
  EXPECT_EQ(data::color_augment(img, none, gen).to_vector<uint8_t>(), img.to_vector<uint8_t>());

  data::ColorAugmentConfig gray_only = none;
  gray_only.grayscale_p = 1;
  EXPECT_EQ(data::color_augment(img, gray_only, gen).to_vector<uint8_t>(),
            data::to_grayscale(img).to_vector<uint8_t>());

  data::ColorAugmentConfig both;
  both.grayscale_p = 1;
  both.blur_p = 1;
  engine::Generator g1(9), g2(9);
  auto choices = data::draw_color_augment_choices(both, g1);
  EXPECT_TRUE(choices.grayscale && choices.blur);
  EXPECT_GE(choices.sigma, 0.1);
  EXPECT_LE(choices.sigma, 5.0);
  Tensor want = data::gaussian_blur(data::to_grayscale(img), choices.sigma);
  EXPECT_EQ(data::color_augment(img, both, g2).to_vector<uint8_t>(), want.to_vector<uint8_t>());
}

TEST(ColorAugment, FrequenciesFollowTheProbabilities) {
  data::ColorAugmentConfig c;  // 0.3 and 0.5
  engine::Generator gen(1);
  int gray = 0, blur = 0;
  const int n = 4000;
  double sigma_sum = 0;
  for (int i = 0; i < n; ++i) {
    auto ch = data::draw_color_augment_choices(c, gen);
    gray += ch.grayscale;
    blur += ch.blur;
    sigma_sum += ch.sigma;
  }
  EXPECT_NEAR(gray / double(n), 0.3, 0.03);
  EXPECT_NEAR(blur / double(n), 0.5, 0.03);
  EXPECT_NEAR(sigma_sum / n, 2.55, 0.1);
}

TEST(ColorAugment, BatchIsPerSampleDeterministic) {
  const int64_t h = 8, w = 6;
  Tensor a = pattern(h, w, 1), b = pattern(h, w, 2);
  std::vector<uint8_t> both = a.to_vector<uint8_t>();
  auto bv = b.to_vector<uint8_t>();
  both.insert(both.end(), bv.begin(), bv.end());
  Tensor batch = Tensor::from_vector<uint8_t>(both, {2, h, w, 3});
  data::ColorAugmentConfig c;
  c.grayscale_p = 0.5;
  c.blur_p = 0.5;
  Tensor out1 = data::color_augment_batch(batch, c, 77, 3, {40, 12});
  Tensor out2 = data::color_augment_batch(batch, c, 77, 3, {40, 12});
  EXPECT_EQ(out1.to_vector<uint8_t>(), out2.to_vector<uint8_t>());
  // Sample 12 alone, as the first of a batch, gets the same result as in second place.
  engine::Generator g = data::color_sample_generator(77, 3, 12);
  Tensor single = data::color_augment(b, c, g);
  EXPECT_EQ(out1.select(0, 1).contiguous().to_vector<uint8_t>(), single.to_vector<uint8_t>());
  // Some (epoch, index) keys change the image.
  bool changed = false;
  for (int64_t idx = 0; idx < 16 && !changed; ++idx) {
    Tensor o = data::color_augment_batch(batch, c, 77, 0, {idx, idx + 100});
    changed = o.to_vector<uint8_t>() != both;
  }
  EXPECT_TRUE(changed);
}

TEST(ColorAugment, BadInputsAreErrors) {
  data::ColorAugmentConfig c;
  c.blur_p = 1.5;
  engine::Generator gen(0);
  Tensor img = pattern(4, 4, 0);
  engine::testing::expect_error([&] { data::color_augment(img, c, gen); }, "blur_p");
  c = {};
  c.blur_sigma_min = 3;
  c.blur_sigma_max = 2;
  engine::testing::expect_error([&] { data::validate(c); }, "blur_sigma_min");
  Tensor f = Tensor::empty({4, 4, 3});
  engine::testing::expect_error([&] { data::to_grayscale(f); }, "to_grayscale: expected");
  engine::testing::expect_error([&] { data::gaussian_blur(img, 0.0); }, "sigma");
  Tensor batch = Tensor::empty({2, 4, 4, 3}, engine::DType::u8);
  engine::testing::expect_error([&] { data::color_augment_batch(batch, {}, 0, 0, {1}); },
                                "1 sample indices for a batch of 2");
}

}  // namespace
