#include "data/color_augment.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "data/transforms.h"
#include "engine/error.h"

namespace data {

using engine::Tensor;

namespace {

void check_image(const Tensor& image, const char* op) {
  ENGINE_CHECK(image.dtype() == engine::DType::u8 && image.dim() == 3 && image.size(2) == 3 &&
                   image.device().is_cpu(),
               "{}: expected a CPU u8 image [H, W, 3], got {}", op, image.desc());
}

uint8_t round_u8(float v) {
  return uint8_t(std::clamp(std::floor(v + 0.5f), 0.0f, 255.0f));
}

// In place on contiguous u8 [H, W, 3]; integer weights 30/59/11 make the rounding exact.
void grayscale_inplace(uint8_t* p, int64_t pixels) {
  for (int64_t i = 0; i < pixels; ++i, p += 3) {
    const uint32_t y = (30u * p[0] + 59u * p[1] + 11u * p[2] + 50u) / 100u;
    p[0] = p[1] = p[2] = uint8_t(y);
  }
}

// src and dst contiguous u8 [h, w, 3]; `tmp` holds h·w·3 floats. Rows run in parallel unless the
// caller is already inside a parallel region (then OpenMP runs them on the calling thread).
void blur_into(const uint8_t* src, uint8_t* dst, float* tmp, int64_t h, int64_t w, double sigma) {
  std::array<float, 5> k1;
  double sum = 0;
  for (int d = -2; d <= 2; ++d) sum += std::exp(-double(d * d) / (sigma * sigma));
  for (int d = -2; d <= 2; ++d) k1[d + 2] = float(std::exp(-double(d * d) / (sigma * sigma)) / sum);
#pragma omp parallel for schedule(static) if (h * w > 16384)
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* row = src + y * w * 3;
    float* out = tmp + y * w * 3;
    for (int64_t x = 0; x < w; ++x) {
      float a0 = 0, a1 = 0, a2 = 0;
      for (int t = 0; t < 5; ++t) {
        const int64_t xx = std::clamp<int64_t>(x + t - 2, 0, w - 1);
        const uint8_t* q = row + xx * 3;
        a0 += k1[t] * q[0];
        a1 += k1[t] * q[1];
        a2 += k1[t] * q[2];
      }
      out[x * 3] = a0;
      out[x * 3 + 1] = a1;
      out[x * 3 + 2] = a2;
    }
  }
#pragma omp parallel for schedule(static) if (h * w > 16384)
  for (int64_t y = 0; y < h; ++y) {
    const float* rows[5];
    for (int t = 0; t < 5; ++t) rows[t] = tmp + std::clamp<int64_t>(y + t - 2, 0, h - 1) * w * 3;
    uint8_t* out = dst + y * w * 3;
    for (int64_t i = 0; i < w * 3; ++i) {
      float a = 0;
      for (int t = 0; t < 5; ++t) a += k1[t] * rows[t][i];
      out[i] = round_u8(a);
    }
  }
}

// Applies `choices` to src (contiguous u8 [h, w, 3]) into dst.
void apply_into(const uint8_t* src, uint8_t* dst, int64_t h, int64_t w,
                const ColorAugmentChoices& choices, std::vector<float>& tmp) {
  const int64_t n = h * w * 3;
  if (choices.grayscale) {
    std::copy_n(src, n, dst);
    grayscale_inplace(dst, h * w);
    src = dst;  // the blur reads the grayscale image; blur_into reads src fully before writing
  }
  if (choices.blur) {
    tmp.resize(size_t(n));
    blur_into(src, dst, tmp.data(), h, w, choices.sigma);
  } else if (!choices.grayscale) {
    std::copy_n(src, n, dst);
  }
}

}  // namespace

void validate(const ColorAugmentConfig& c) {
  ENGINE_CHECK(c.grayscale_p >= 0 && c.grayscale_p <= 1,
               "color augment: grayscale_p must be in [0, 1], got {}", c.grayscale_p);
  ENGINE_CHECK(c.blur_p >= 0 && c.blur_p <= 1, "color augment: blur_p must be in [0, 1], got {}",
               c.blur_p);
  ENGINE_CHECK(c.blur_sigma_min > 0 && c.blur_sigma_min <= c.blur_sigma_max,
               "color augment: need 0 < blur_sigma_min <= blur_sigma_max, got {} and {}",
               c.blur_sigma_min, c.blur_sigma_max);
}

ColorAugmentChoices draw_color_augment_choices(const ColorAugmentConfig& config,
                                               engine::Generator& gen) {
  const double u_gray = gen.next_double();
  const double u_blur = gen.next_double();
  const double u_sigma = gen.next_double();
  ColorAugmentChoices c;
  c.grayscale = u_gray < config.grayscale_p;
  c.blur = u_blur < config.blur_p;
  c.sigma = config.blur_sigma_min + u_sigma * (config.blur_sigma_max - config.blur_sigma_min);
  return c;
}

std::array<double, 25> blur_kernel(double sigma) {
  ENGINE_CHECK(sigma > 0 && std::isfinite(sigma), "blur_kernel: sigma must be > 0, got {}", sigma);
  std::array<double, 25> k;
  double sum = 0;
  for (int dy = -2; dy <= 2; ++dy)
    for (int dx = -2; dx <= 2; ++dx)
      sum += k[(dy + 2) * 5 + dx + 2] = std::exp(-double(dx * dx + dy * dy) / (sigma * sigma));
  for (double& v : k) v /= sum;
  return k;
}

Tensor to_grayscale(const Tensor& image) {
  check_image(image, "to_grayscale");
  Tensor out = image.contiguous().clone();
  grayscale_inplace(out.data<uint8_t>(), out.size(0) * out.size(1));
  return out;
}

Tensor gaussian_blur(const Tensor& image, double sigma) {
  check_image(image, "gaussian_blur");
  ENGINE_CHECK(sigma > 0 && std::isfinite(sigma), "gaussian_blur: sigma must be > 0, got {}",
               sigma);
  Tensor src = image.contiguous();
  Tensor out = Tensor::empty(src.shape(), engine::DType::u8);
  std::vector<float> tmp(size_t(src.numel()));
  blur_into(src.data<uint8_t>(), out.data<uint8_t>(), tmp.data(), src.size(0), src.size(1), sigma);
  return out;
}

Tensor apply_color_augment(const Tensor& image, const ColorAugmentChoices& choices) {
  check_image(image, "apply_color_augment");
  ENGINE_CHECK(!choices.blur || (choices.sigma > 0 && std::isfinite(choices.sigma)),
               "apply_color_augment: blur sigma must be > 0, got {}", choices.sigma);
  Tensor src = image.contiguous();
  Tensor out = Tensor::empty(src.shape(), engine::DType::u8);
  std::vector<float> tmp;
  apply_into(src.data<uint8_t>(), out.data<uint8_t>(), src.size(0), src.size(1), choices, tmp);
  return out;
}

Tensor color_augment(const Tensor& image, const ColorAugmentConfig& config,
                     engine::Generator& gen) {
  validate(config);
  return apply_color_augment(image, draw_color_augment_choices(config, gen));
}

engine::Generator color_sample_generator(uint64_t seed, int64_t epoch, int64_t index) {
  return sample_generator(seed, epoch, index);
}

Tensor color_augment_batch(const Tensor& images, const ColorAugmentConfig& config, uint64_t seed,
                           int64_t epoch, const std::vector<int64_t>& indices) {
  ENGINE_CHECK(images.dtype() == engine::DType::u8 && images.dim() == 4 && images.size(3) == 3 &&
                   images.device().is_cpu(),
               "color_augment_batch: expected a CPU u8 batch [N, H, W, 3], got {}", images.desc());
  ENGINE_CHECK(int64_t(indices.size()) == images.size(0),
               "color_augment_batch: {} sample indices for a batch of {} images", indices.size(),
               images.size(0));
  validate(config);
  const int64_t n = images.size(0), h = images.size(1), w = images.size(2);
  std::vector<ColorAugmentChoices> choices(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    engine::Generator gen = color_sample_generator(seed, epoch, indices[size_t(i)]);
    choices[size_t(i)] = draw_color_augment_choices(config, gen);
  }
  Tensor src = images.contiguous();
  Tensor out = Tensor::empty(src.shape(), engine::DType::u8);
  const uint8_t* s = src.data<uint8_t>();
  uint8_t* d = out.data<uint8_t>();
  const int64_t per = h * w * 3;
#pragma omp parallel
  {
    std::vector<float> tmp;  // one scratch buffer per thread, reused across its samples
#pragma omp for schedule(dynamic)
    for (int64_t i = 0; i < n; ++i)
      apply_into(s + i * per, d + i * per, h, w, choices[size_t(i)], tmp);
  }
  return out;
}

}  // namespace data
