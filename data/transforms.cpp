#include "data/transforms.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"

namespace data {

using engine::DType;
using engine::Tensor;

const std::vector<uint8_t>& densepose_flip_classes() {
  static const std::vector<uint8_t> table = {0, 1, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 14};
  return table;
}

engine::Generator sample_generator(uint64_t seed, int64_t epoch, int64_t index) {
  ENGINE_CHECK(epoch >= 0 && epoch < (int64_t(1) << 16),
               "sample_generator: epoch {} outside [0, 65536)", epoch);
  ENGINE_CHECK(index >= 0 && index < (int64_t(1) << 32),
               "sample_generator: sample index {} outside [0, 2^32)", index);
  // Each sample owns 2^16 counter blocks, far more than an augmentation draws.
  return engine::Generator(seed, (uint64_t(epoch) << 48) | (uint64_t(index) << 16));
}

AugmentChoices draw_augment_choices(const AugmentConfig& config, int height, int width,
                                    engine::Generator& gen) {
  ENGINE_CHECK(config.crop > 0, "augment: crop size must be positive, got {}", config.crop);
  ENGINE_CHECK(config.scale_min > 0 && config.scale_min <= config.scale_max,
               "augment: scale range [{}, {}] must satisfy 0 < min <= max", config.scale_min,
               config.scale_max);
  AugmentChoices c;
  // Every draw is made whatever the config, so the stream positions never depend on it.
  bool flip = gen.next_double() < 0.5;
  double ratio = config.scale_min + (config.scale_max - config.scale_min) * gen.next_double();
  c.flip = config.flip && flip;
  c.scaled_h = std::max(1, int(ratio * height));
  c.scaled_w = std::max(1, int(ratio * width));
  int padded_h = std::max(c.scaled_h, config.crop), padded_w = std::max(c.scaled_w, config.crop);
  c.crop_y = int(gen.next_below(uint64_t(padded_h - config.crop + 1)));
  c.crop_x = int(gen.next_below(uint64_t(padded_w - config.crop + 1)));
  return c;
}

namespace {

void check_map(const Tensor& map, const char* name, DType dtype, int64_t h, int64_t w,
               const std::string& id) {
  if (!map.defined()) return;
  ENGINE_CHECK(map.device().is_cpu() && map.dtype() == dtype && map.dim() == 2 &&
                   map.size(0) == h && map.size(1) == w,
               "transform of sample '{}': {} must be {} [{}, {}] on cpu, got {}", id, name,
               engine::dtype_name(dtype), h, w, map.desc());
}

// Where each output column / row reads from in the source, for nearest and bilinear sampling.
// Output index o maps to scaled index s = o + crop; s >= scaled size means padding (index -1).
struct Axis {
  std::vector<int32_t> nearest;  // -1 = padding
  std::vector<int32_t> lo, hi;   // bilinear neighbours
  std::vector<float> frac;       // weight of hi
};

Axis make_axis(int out, int crop, int scaled, int src, bool flip) {
  Axis a;
  a.nearest.resize(out);
  a.lo.resize(out);
  a.hi.resize(out);
  a.frac.resize(out);
  double ratio = double(src) / double(scaled);
  for (int o = 0; o < out; ++o) {
    int s = o + crop;
    if (s >= scaled) {
      a.nearest[o] = a.lo[o] = a.hi[o] = -1;
      a.frac[o] = 0;
      continue;
    }
    // OpenCV INTER_NEAREST: floor(s · src / scaled).
    int n = std::min(int(std::floor(s * ratio)), src - 1);
    // OpenCV INTER_LINEAR: half-pixel centres, clamped at the border.
    double u = std::clamp((s + 0.5) * ratio - 0.5, 0.0, double(src - 1));
    if (flip) {
      // Resizing the mirrored image equals mirroring the source coordinate.
      n = src - 1 - n;
      u = double(src - 1) - u;
    }
    int lo = std::min(int(std::floor(u)), src - 1);
    a.nearest[o] = n;
    a.lo[o] = lo;
    a.hi[o] = std::min(lo + 1, src - 1);
    a.frac[o] = float(u - lo);
  }
  return a;
}

template <typename T>
Tensor sample_nearest(const Tensor& src, const Axis& ay, const Axis& ax, T pad,
                      const std::vector<uint8_t>* remap) {
  int out_h = int(ay.nearest.size()), out_w = int(ax.nearest.size());
  int64_t src_w = src.size(1);
  Tensor in = src.contiguous();
  const T* s = in.data<T>();
  Tensor out = Tensor::empty({out_h, out_w}, in.dtype());
  T* d = out.data<T>();
  for (int y = 0; y < out_h; ++y) {
    T* row = d + int64_t(y) * out_w;
    int sy = ay.nearest[y];
    if (sy < 0) {
      std::fill(row, row + out_w, pad);
      continue;
    }
    const T* srow = s + int64_t(sy) * src_w;
    for (int x = 0; x < out_w; ++x) {
      int sx = ax.nearest[x];
      row[x] = sx < 0 ? pad : srow[sx];
    }
    if (remap) {
      for (int x = 0; x < out_w; ++x) {
        auto v = uint32_t(row[x]);
        if (ax.nearest[x] >= 0 && v < remap->size()) row[x] = T((*remap)[v]);
      }
    }
  }
  return out;
}

Tensor sample_bilinear_rgb(const Tensor& src, const Axis& ay, const Axis& ax) {
  int out_h = int(ay.nearest.size()), out_w = int(ax.nearest.size());
  int64_t src_w = src.size(1);
  Tensor in = src.contiguous();
  const uint8_t* s = in.data<uint8_t>();
  Tensor out = Tensor::empty({out_h, out_w, 3}, DType::u8);
  uint8_t* d = out.data<uint8_t>();
  for (int y = 0; y < out_h; ++y) {
    uint8_t* row = d + int64_t(y) * out_w * 3;
    if (ay.lo[y] < 0) {
      for (int x = 0; x < out_w; ++x)
        for (int c = 0; c < 3; ++c) row[3 * x + c] = kPadColor[c];
      continue;
    }
    const uint8_t* r0 = s + int64_t(ay.lo[y]) * src_w * 3;
    const uint8_t* r1 = s + int64_t(ay.hi[y]) * src_w * 3;
    float fy = ay.frac[y];
    for (int x = 0; x < out_w; ++x) {
      int x0 = ax.lo[x];
      if (x0 < 0) {
        for (int c = 0; c < 3; ++c) row[3 * x + c] = kPadColor[c];
        continue;
      }
      int x1 = ax.hi[x];
      float fx = ax.frac[x];
      for (int c = 0; c < 3; ++c) {
        float top = r0[3 * x0 + c] + fx * float(r0[3 * x1 + c] - r0[3 * x0 + c]);
        float bot = r1[3 * x0 + c] + fx * float(r1[3 * x1 + c] - r1[3 * x0 + c]);
        float v = top + fy * (bot - top);
        row[3 * x + c] = uint8_t(std::clamp(v + 0.5f, 0.0f, 255.0f));
      }
    }
  }
  return out;
}

uint64_t flip_tags(uint64_t tags, const std::vector<uint8_t>& table) {
  if (table.empty()) return tags;
  uint64_t out = 0;
  for (int c = 0; c < kMaxTagClasses; ++c) {
    if (!(tags >> c & 1)) continue;
    int to = c < int(table.size()) ? table[c] : c;
    ENGINE_CHECK(to < kMaxTagClasses, "flip table maps class {} to {}, beyond the {} tag bits", c,
                 to, kMaxTagClasses);
    out |= uint64_t(1) << to;
  }
  return out;
}

}  // namespace

Sample apply_augment(const Sample& sample, const AugmentChoices& c, int crop_h, int crop_w,
                     const std::vector<uint8_t>& flip_classes) {
  const Tensor& img = sample.image;
  ENGINE_CHECK(img.defined() && img.device().is_cpu() && img.dtype() == DType::u8 &&
                   img.dim() == 3 && img.size(2) == 3,
               "transform of sample '{}': image must be u8 [H, W, 3] on cpu, got {}", sample.id,
               img.defined() ? img.desc() : std::string("undefined"));
  int64_t h = img.size(0), w = img.size(1);
  ENGINE_CHECK(h > 0 && w > 0, "transform of sample '{}': empty image", sample.id);
  check_map(sample.label, "label", DType::u8, h, w, sample.id);
  check_map(sample.full_label, "full_label", DType::u8, h, w, sample.id);
  check_map(sample.region, "region", DType::i32, h, w, sample.id);
  check_map(sample.valid, "valid", DType::u8, h, w, sample.id);
  ENGINE_CHECK(crop_h > 0 && crop_w > 0 && c.scaled_h > 0 && c.scaled_w > 0 && c.crop_y >= 0 &&
                   c.crop_x >= 0,
               "transform of sample '{}': bad geometry (scaled {}x{}, crop {}x{} at {},{})",
               sample.id, c.scaled_h, c.scaled_w, crop_h, crop_w, c.crop_y, c.crop_x);

  Axis ay = make_axis(crop_h, c.crop_y, c.scaled_h, int(h), false);
  Axis ax = make_axis(crop_w, c.crop_x, c.scaled_w, int(w), c.flip);
  const std::vector<uint8_t>* remap = c.flip && !flip_classes.empty() ? &flip_classes : nullptr;

  Sample out;
  out.id = sample.id;
  out.image = sample_bilinear_rgb(img, ay, ax);
  if (sample.label.defined())
    out.label = sample_nearest<uint8_t>(sample.label, ay, ax, kUnlabeled, remap);
  if (sample.full_label.defined())
    out.full_label = sample_nearest<uint8_t>(sample.full_label, ay, ax, kUnlabeled, remap);
  if (sample.region.defined())
    out.region = sample_nearest<int32_t>(sample.region, ay, ax, kPadRegion, nullptr);
  if (sample.valid.defined()) {
    out.valid = sample_nearest<uint8_t>(sample.valid, ay, ax, 0, nullptr);
  } else {
    out.valid = Tensor::empty({crop_h, crop_w}, DType::u8);
    uint8_t* v = out.valid.data<uint8_t>();
    for (int y = 0; y < crop_h; ++y)
      for (int x = 0; x < crop_w; ++x)
        v[int64_t(y) * crop_w + x] = ay.nearest[y] >= 0 && ax.nearest[x] >= 0;
  }
  out.tags = c.flip ? flip_tags(sample.tags, flip_classes) : sample.tags;
  return out;
}

Sample augment(const Sample& sample, const AugmentConfig& config, engine::Generator& gen) {
  ENGINE_CHECK(sample.image.defined() && sample.image.dim() == 3,
               "augment: sample '{}' has no [H, W, 3] image", sample.id);
  AugmentChoices c =
      draw_augment_choices(config, int(sample.image.size(0)), int(sample.image.size(1)), gen);
  return apply_augment(sample, c, config.crop, config.crop, config.flip_classes);
}

Sample eval_transform(const Sample& sample, double scale, int multiple) {
  ENGINE_CHECK(sample.image.defined() && sample.image.dim() == 3,
               "eval_transform: sample '{}' has no [H, W, 3] image", sample.id);
  ENGINE_CHECK(scale > 0 && std::isfinite(scale), "eval_transform: scale must be > 0, got {}",
               scale);
  ENGINE_CHECK(multiple >= 1, "eval_transform: multiple must be >= 1, got {}", multiple);
  AugmentChoices c;
  c.scaled_h = std::max(1, int(scale * double(sample.image.size(0))));
  c.scaled_w = std::max(1, int(scale * double(sample.image.size(1))));
  int out_h = (c.scaled_h + multiple - 1) / multiple * multiple;
  int out_w = (c.scaled_w + multiple - 1) / multiple * multiple;
  return apply_augment(sample, c, out_h, out_w);
}

Tensor normalize_images(const Tensor& images) {
  ENGINE_CHECK(
      images.defined() && images.dtype() == DType::u8 && images.dim() == 4 && images.size(3) == 3,
      "normalize_images: expected u8 [N, H, W, 3] RGB, got {}",
      images.defined() ? images.desc() : std::string("undefined"));
  engine::autograd::NoGradGuard no_grad;
  // (x/255 − m)/s = (x − 255·m) · 1/(255·s): one subtraction and one multiplication.
  std::vector<float> shift(3), inv_scale(3);
  for (int c = 0; c < 3; ++c) {
    shift[c] = 255.0f * kImageNetMean[c];
    inv_scale[c] = 1.0f / (255.0f * kImageNetStd[c]);
  }
  Tensor m = Tensor::from_vector(shift, {3}).to(images.device());
  Tensor s = Tensor::from_vector(inv_scale, {3}).to(images.device());
  return engine::mul(engine::sub(images.to(DType::f32), m), s);
}

}  // namespace data
