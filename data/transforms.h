// Augmentation and evaluation transforms on data::Sample (CPU, direct pixel loops), and the
// device-side mean/std normalization of u8 image batches (engine ops). Spec §5.1.
//
// Training augmentation, in the reference order: horizontal flip (p = 0.5; label ids optionally
// remapped through a class flip table, e.g. DensePose left/right parts), random scale
// ratio ~ U(scale_min, scale_max) to int(ratio·h) × int(ratio·w) (bilinear for the image, nearest
// for every label map, the region map and the validity mask), padding on the bottom/right to at
// least crop × crop, then a uniform random crop × crop window. Flip, scale and crop are fused into
// one pass over the output pixels, so the image, label, full_label, region and valid maps always
// take exactly the same geometric path.
//
// Padding values: image = the ImageNet mean colour in 0..255 units (124, 116, 104), which becomes
// ~0 after normalization, as in the reference; label and full_label = kUnlabeled (255);
// region = -1 (padding belongs to no region); valid = 0. Consumers must mask padding with `valid`
// (spec README decision 3: padding takes part in nothing), never with the label value.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "data/sample.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace data {

// ImageNet statistics in 0..1 units (RGB divided by 255).
constexpr std::array<float, 3> kImageNetMean = {0.485f, 0.456f, 0.406f};
constexpr std::array<float, 3> kImageNetStd = {0.229f, 0.224f, 0.225f};
// kImageNetMean in 0..255 units, rounded: the colour of padded image pixels.
constexpr std::array<uint8_t, 3> kPadColor = {124, 116, 104};
// Region id of padded pixels.
constexpr int32_t kPadRegion = -1;

struct AugmentConfig {
  int crop = 512;  // output is crop × crop
  float scale_min = 0.5f, scale_max = 1.5f;
  bool flip = true;  // horizontal flip with p = 0.5
  // Label id c becomes flip_classes[c] on flipped samples (ids beyond the table, 255 included,
  // are kept). Empty: ids are unchanged by a flip.
  std::vector<uint8_t> flip_classes;
};

// DensePose's left/right swap for background + 14 coarse parts (spec §5.1).
const std::vector<uint8_t>& densepose_flip_classes();

// The random choices of one augmentation, drawn from a generator (exposed for tests).
struct AugmentChoices {
  bool flip = false;
  int scaled_h = 0, scaled_w = 0;  // size after scaling, before padding
  int crop_y = 0, crop_x = 0;      // top-left of the crop window in the scaled, padded image
};
AugmentChoices draw_augment_choices(const AugmentConfig& config, int height, int width,
                                    engine::Generator& gen);

// The generator of one sample's augmentation: a Philox stream keyed by (seed, epoch, sample
// index), independent of thread count and of the order samples are processed in.
// epoch < 2^16, index < 2^32.
engine::Generator sample_generator(uint64_t seed, int64_t epoch, int64_t index);

// Applies explicit choices: the output is crop_h × crop_w. Undefined maps in the input stay
// undefined; an undefined input `valid` means all pixels valid; the output `valid` is always
// defined. Tags are remapped through flip_classes on flipped samples.
Sample apply_augment(const Sample& sample, const AugmentChoices& choices, int crop_h, int crop_w,
                     const std::vector<uint8_t>& flip_classes = {});

// Draws the choices from `gen` and applies them.
Sample augment(const Sample& sample, const AugmentConfig& config, engine::Generator& gen);

// Evaluation: no randomness. The image is first resized by `scale` (1 = unchanged; the label
// maps follow by nearest neighbour, so evaluation against the original full_label needs
// scale = 1), then padded on the bottom/right to a multiple of `multiple` (1 = no padding).
Sample eval_transform(const Sample& sample, double scale = 1.0, int multiple = 1);

// u8 [N, H, W, 3] RGB (any device) → f32 [N, H, W, 3] on the same device:
// (x / 255 − kImageNetMean) / kImageNetStd, computed with engine ops (no host round trip).
engine::Tensor normalize_images(const engine::Tensor& images);

}  // namespace data
