// Whole-image outputs of a trained network, one "view" (scale × flip) at a time, as the
// reference's inference and pseudo-label scripts compute them (spec spml.md §6 preamble, §7):
//   1. resize the image bilinearly by `scale` (round(scale·H) × round(scale·W));
//   2. flip it horizontally when asked;
//   3. normalize (ImageNet mean/std) and pad bottom/right with 0 (the mean colour) to at least
//      `window` × `window`;
//   4. run the network over sliding windows of `window` pixels with stride `window`, the last
//      window of each axis ending at the padded border (so it may overlap the previous one),
//      averaging overlapping outputs;
//   5. upsample the stride-4 embedding bilinearly to the window's size ("resize_as_input") and
//      re-normalize each pixel to unit length;
//   6. crop the padding away and flip back, so the output is aligned with the scaled image.
// window = 0 runs the whole (unpadded) image in one pass.
//
// Everything runs without autograd; the modules must be in eval mode (BN running statistics).
// Shapes are NHWC without the batch dim. Inputs and outputs are CPU tensors; the network runs on
// the device that holds the model's parameters (each window goes there and its output comes
// back), so a model moved with Module::to(cuda) runs its forward passes on the GPU.
#pragma once

#include <cstdint>

#include "engine/tensor.h"
#include "models/embedding_model.h"

namespace apps {

struct View {
  double scale = 1.0;
  bool flip = false;
};

// rgb u8 [H, W, 3] -> unit-length embedding f32 [round(scale·H), round(scale·W), D].
engine::Tensor embed_view(models::EmbeddingModel& model, const engine::Tensor& rgb,
                          const View& view, int64_t window);

// rgb u8 [H, W, 3] -> classifier logits f32 [round(scale·H), round(scale·W), C]: the classifier
// runs on the upsampled, re-normalized embedding of each window (spec §7 step 4).
engine::Tensor logits_view(models::EmbeddingModel& model, models::SoftmaxClassifier& classifier,
                           const engine::Tensor& rgb, const View& view, int64_t window);

// Horizontal flip of an HWC tensor (any dtype; returns a contiguous copy).
engine::Tensor flip_width(const engine::Tensor& hwc);

}  // namespace apps
