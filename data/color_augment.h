// Colour augmentation of SPML's stage-2 classifier training (spec spml.md §5.2): after the
// geometric augmentation (flip, scale, pad/crop; data/transforms.h), each image is
//   1. turned to grayscale with probability grayscale_p: luma 0.3 R + 0.59 G + 0.11 B replicated
//      to the 3 channels;
//   2. blurred with probability blur_p by a 5×5 kernel over offsets {-2..2}², weight
//      exp(-(dx² + dy²) / sigma²), normalized to sum 1, sigma ~ U(sigma_min, sigma_max).
//
// Images are u8 [H, W, 3] RGB (NHWC, batches u8 [N, H, W, 3]). The spec applies both steps to the
// [0, 1] float image before mean/std normalization; here they run on the u8 image (0..255 is the
// [0, 1] image times 255) and each output is rounded to the nearest integer, so a result differs
// from the float computation by at most 0.5/255 per step, far below the JPEG noise of the inputs.
//
// Blur borders: pixels outside the image take the value of the nearest edge pixel (clamp to
// edge), so every output is a normalized weighted mean and constant images stay constant. The
// kernel is separable (exp(-dx²/σ²)·exp(-dy²/σ²)), so it runs as a horizontal and a vertical
// 5-tap pass with a float intermediate, which equals the 2-D kernel up to float rounding.
//
// Padding pixels of a crop (the ImageNet mean colour) are treated like image pixels, as in the
// reference, whose colour transforms follow the crop.
//
// Randomness: all three uniforms (grayscale, blur, sigma) are drawn every time whatever the
// probabilities, so stream positions never depend on the config. color_augment_batch draws
// sample i of a batch from a Philox stream keyed by (seed, epoch, dataset index), so the result
// depends only on which sample it is, not on the batch layout, thread count or a resume.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"

namespace data {

struct ColorAugmentConfig {
  double grayscale_p = 0.3;
  double blur_p = 0.5;
  double blur_sigma_min = 0.1;  // in pixels
  double blur_sigma_max = 5.0;
};

// Checks 0 <= p <= 1 and 0 < sigma_min <= sigma_max; errors name the field.
void validate(const ColorAugmentConfig& config);

struct ColorAugmentChoices {
  bool grayscale = false;
  bool blur = false;
  double sigma = 1.0;  // used when blur
};
ColorAugmentChoices draw_color_augment_choices(const ColorAugmentConfig& config,
                                               engine::Generator& gen);

// The normalized 5×5 kernel, row-major: k[(dy + 2) * 5 + (dx + 2)]. sigma > 0.
std::array<double, 25> blur_kernel(double sigma);

// Grayscale copy: every channel = round(0.3 R + 0.59 G + 0.11 B). u8 [H, W, 3].
engine::Tensor to_grayscale(const engine::Tensor& image);
// Blurred copy with the kernel of `sigma` (clamp-to-edge borders, rounded). u8 [H, W, 3].
engine::Tensor gaussian_blur(const engine::Tensor& image, double sigma);

// Grayscale, then blur, as chosen; a copy of `image` when neither is chosen.
engine::Tensor apply_color_augment(const engine::Tensor& image, const ColorAugmentChoices& choices);
// Draws the choices from `gen` and applies them.
engine::Tensor color_augment(const engine::Tensor& image, const ColorAugmentConfig& config,
                             engine::Generator& gen);

// The generator of one sample's colour augmentation: Philox keyed by `seed` with the sample's
// counter range of data::sample_generator. Use a seed other than the loader's, so the colour draws
// are independent of the geometric ones.
engine::Generator color_sample_generator(uint64_t seed, int64_t epoch, int64_t index);

// Batch u8 [N, H, W, 3] -> augmented copy; sample i uses color_sample_generator(seed, epoch,
// indices[i]) (indices.size() == N: the loader's Batch::indices). OpenMP over the samples.
engine::Tensor color_augment_batch(const engine::Tensor& images, const ColorAugmentConfig& config,
                                   uint64_t seed, int64_t epoch,
                                   const std::vector<int64_t>& indices);

}  // namespace data
