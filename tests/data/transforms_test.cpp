// Augmentation keeps image, label, full_label, region and valid aligned; padding is flagged;
// flip tables; eval padding; device-side normalization.
#include "data/transforms.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "support/expect_error.h"

namespace {

using data::Sample;
using engine::DType;
using engine::Tensor;

// A sample whose maps encode their source coordinates: region = y·W + x, label = region % 250,
// image R = 2x, G = 2y (a smooth ramp, so bilinear values stay close to the nearest source).
Sample coordinate_sample(int h, int w) {
  Sample s;
  s.id = "coords";
  s.image = Tensor::empty({h, w, 3}, DType::u8);
  s.label = Tensor::empty({h, w}, DType::u8);
  s.full_label = Tensor::empty({h, w}, DType::u8);
  s.region = Tensor::empty({h, w}, DType::i32);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int64_t i = int64_t(y) * w + x;
      s.image.data<uint8_t>()[3 * i + 0] = uint8_t(2 * x);
      s.image.data<uint8_t>()[3 * i + 1] = uint8_t(2 * y);
      s.image.data<uint8_t>()[3 * i + 2] = 7;
      s.region.data<int32_t>()[i] = int32_t(i);
      s.label.data<uint8_t>()[i] = uint8_t(i % 250);
      s.full_label.data<uint8_t>()[i] = uint8_t((i + 1) % 250);
    }
  s.tags = 1u << 2;
  return s;
}

TEST(Transforms, ExplicitFlipCropMovesEveryMapIdentically) {
  const int h = 10, w = 12;
  Sample s = coordinate_sample(h, w);
  data::AugmentChoices c;
  c.flip = true;
  c.scaled_h = h;
  c.scaled_w = w;
  c.crop_y = 2;
  c.crop_x = 3;
  Sample o = data::apply_augment(s, c, 6, 7);
  ASSERT_EQ(o.image.shape(), (engine::Shape{6, 7, 3}));
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 7; ++x) {
      int sy = y + 2, sx = w - 1 - (x + 3);
      int64_t i = y * 7 + x, src = int64_t(sy) * w + sx;
      EXPECT_EQ(o.region.data<int32_t>()[i], src);
      EXPECT_EQ(o.label.data<uint8_t>()[i], src % 250);
      EXPECT_EQ(o.full_label.data<uint8_t>()[i], (src + 1) % 250);
      EXPECT_EQ(o.valid.data<uint8_t>()[i], 1);
      // Scale 1: bilinear sampling lands exactly on source pixels.
      EXPECT_EQ(o.image.data<uint8_t>()[3 * i + 0], 2 * sx);
      EXPECT_EQ(o.image.data<uint8_t>()[3 * i + 1], 2 * sy);
    }
}

TEST(Transforms, PaddingIsFlaggedInValidAndFilled) {
  Sample s = coordinate_sample(10, 12);
  data::AugmentConfig cfg;
  cfg.crop = 16;
  cfg.scale_min = cfg.scale_max = 1.0f;
  engine::Generator gen = data::sample_generator(1, 0, 0);
  Sample o = data::augment(s, cfg, gen);
  ASSERT_EQ(o.valid.shape(), (engine::Shape{16, 16}));
  int64_t valid = 0;
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) {
      int64_t i = y * 16 + x;
      bool inside = y < 10 && x < 12;  // padding is bottom/right, so the crop starts at 0
      EXPECT_EQ(o.valid.data<uint8_t>()[i], inside ? 1 : 0) << y << "," << x;
      valid += o.valid.data<uint8_t>()[i];
      if (!inside) {
        EXPECT_EQ(o.label.data<uint8_t>()[i], data::kUnlabeled);
        EXPECT_EQ(o.full_label.data<uint8_t>()[i], data::kUnlabeled);
        EXPECT_EQ(o.region.data<int32_t>()[i], data::kPadRegion);
        for (int k = 0; k < 3; ++k)
          EXPECT_EQ(o.image.data<uint8_t>()[3 * i + k], data::kPadColor[k]);
      }
    }
  EXPECT_EQ(valid, 120);
}

TEST(Transforms, RandomAugmentationKeepsMapsAligned) {
  const int h = 37, w = 53;
  Sample s = coordinate_sample(h, w);
  data::AugmentConfig cfg;
  cfg.crop = 32;
  int flips = 0;
  for (int64_t idx = 0; idx < 40; ++idx) {
    engine::Generator gen = data::sample_generator(235, 3, idx);
    engine::Generator probe = gen;
    data::AugmentChoices c = data::draw_augment_choices(cfg, h, w, probe);
    EXPECT_GE(c.scaled_h, int(0.5 * h) - 1);
    EXPECT_LE(c.scaled_h, int(1.5 * h));
    flips += c.flip;
    Sample o = data::augment(s, cfg, gen);
    for (int64_t i = 0; i < 32 * 32; ++i) {
      int32_t r = o.region.data<int32_t>()[i];
      if (!o.valid.data<uint8_t>()[i]) {
        EXPECT_EQ(r, data::kPadRegion);
        EXPECT_EQ(o.label.data<uint8_t>()[i], data::kUnlabeled);
        continue;
      }
      ASSERT_GE(r, 0);
      EXPECT_EQ(o.label.data<uint8_t>()[i], r % 250);
      EXPECT_EQ(o.full_label.data<uint8_t>()[i], (r + 1) % 250);
      // The image came from (about) the same source pixel as the maps.
      EXPECT_LE(std::abs(int(o.image.data<uint8_t>()[3 * i + 0]) - 2 * (r % w)), 3) << idx;
      EXPECT_LE(std::abs(int(o.image.data<uint8_t>()[3 * i + 1]) - 2 * (r / w)), 3) << idx;
    }
  }
  EXPECT_GT(flips, 5);
  EXPECT_LT(flips, 35);
}

TEST(Transforms, SameStreamSameResultOtherEpochDiffers) {
  Sample s = coordinate_sample(40, 40);
  data::AugmentConfig cfg;
  cfg.crop = 24;
  engine::Generator g1 = data::sample_generator(7, 1, 9), g2 = data::sample_generator(7, 1, 9);
  Sample a = data::augment(s, cfg, g1), b = data::augment(s, cfg, g2);
  EXPECT_EQ(a.region.to_vector<int32_t>(), b.region.to_vector<int32_t>());
  bool differs = false;
  for (int64_t e = 2; e < 8 && !differs; ++e) {
    engine::Generator g = data::sample_generator(7, e, 9);
    differs = data::augment(s, cfg, g).region.to_vector<int32_t>() != a.region.to_vector<int32_t>();
  }
  EXPECT_TRUE(differs);
}

TEST(Transforms, FlipTableSwapsLeftRightPartsAndTags) {
  Sample s = coordinate_sample(4, 6);
  s.label.fill_(2);        // L.Hand in the DensePose order
  s.full_label.fill_(14);  // Head maps to itself
  s.label.data<uint8_t>()[0] = data::kUnlabeled;
  s.tags = (1u << 2) | (1u << 6);
  data::AugmentChoices c;
  c.flip = true;
  c.scaled_h = 4;
  c.scaled_w = 6;
  Sample o = data::apply_augment(s, c, 4, 6, data::densepose_flip_classes());
  std::vector<uint8_t> l = o.label.to_vector<uint8_t>();
  for (size_t i = 0; i < l.size(); ++i)
    EXPECT_EQ(l[i], i == 5 ? data::kUnlabeled : 3) << i;  // (0,0) moved to (0,5)
  for (uint8_t v : o.full_label.to_vector<uint8_t>()) EXPECT_EQ(v, 14);
  EXPECT_EQ(o.tags, (uint64_t(1) << 3) | (uint64_t(1) << 7));
  // Not flipped: ids and tags untouched.
  c.flip = false;
  Sample u = data::apply_augment(s, c, 4, 6, data::densepose_flip_classes());
  EXPECT_EQ(u.label.to_vector<uint8_t>()[1], 2);
  EXPECT_EQ(u.tags, s.tags);
  // The table is an involution.
  const auto& t = data::densepose_flip_classes();
  ASSERT_EQ(t.size(), 15u);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[t[i]], i);
}

TEST(Transforms, EvalPadsToMultiple) {
  Sample s = coordinate_sample(10, 12);
  Sample o = data::eval_transform(s, 1.0, 8);
  ASSERT_EQ(o.image.shape(), (engine::Shape{16, 16, 3}));
  int64_t valid = 0;
  for (uint8_t v : o.valid.to_vector<uint8_t>()) valid += v;
  EXPECT_EQ(valid, 120);
  EXPECT_EQ(o.region.data<int32_t>()[16 * 9 + 11], 9 * 12 + 11);
  Sample half = data::eval_transform(s, 0.5, 1);
  EXPECT_EQ(half.label.shape(), (engine::Shape{5, 6}));
}

TEST(Transforms, NormalizeImagesImageNet) {
  Tensor x = Tensor::from_vector<uint8_t>({0, 0, 0, 255, 255, 255, 124, 116, 104}, {1, 1, 3, 3});
  Tensor y = data::normalize_images(x);
  ASSERT_EQ(y.dtype(), DType::f32);
  std::vector<float> v = y.to_vector<float>();
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(v[c], -data::kImageNetMean[c] / data::kImageNetStd[c], 1e-5);
    EXPECT_NEAR(v[3 + c], (1 - data::kImageNetMean[c]) / data::kImageNetStd[c], 1e-5);
    EXPECT_NEAR(v[6 + c], 0.0, 0.01);  // the padding colour normalizes to ~0
  }
  engine::testing::expect_error([&] { data::normalize_images(y); }, "expected u8 [N, H, W, 3]");
}

TEST(Transforms, MismatchedMapNamesSample) {
  Sample s = coordinate_sample(10, 12);
  s.label = Tensor::empty({9, 12}, DType::u8);
  data::AugmentConfig cfg;
  cfg.crop = 8;
  engine::Generator gen(1);
  engine::testing::expect_error([&] { data::augment(s, cfg, gen); },
                                std::vector<std::string>{"'coords'", "label", "[10, 12]"});
}

}  // namespace
