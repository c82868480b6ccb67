// Fully connected CRF with Gaussian edge potentials (Krähenbühl & Koltun, NIPS 2011), mean-field
// inference with permutohedral-lattice filtering; the stage-2 post-processing of
// ../shared/spec/spml.md §6.4 and related_methods.md §5. CPU, and CUDA when probs is on a GPU.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace spml {

// Defaults are SPML's own --crf_* settings (spml.md §6.4; related_methods.md §5.2, first row).
// Standard deviations are in pixels (sxy) and in 0..255 colour units (srgb); weights are the
// Potts compatibilities.
struct CrfConfig {
  int iterations = 10;
  float gaussian_sxy = 1.0f;      // smoothness kernel θγ
  float gaussian_weight = 3.0f;   // w2
  float bilateral_sxy = 67.0f;    // appearance kernel θα
  float bilateral_srgb = 3.0f;    // θβ
  float bilateral_weight = 4.0f;  // w1
  float prob_clip = 1e-5f;        // unary = -ln(clip(p, prob_clip, 1))
};

// probs f32 [H, W, C] (class probabilities per pixel, NHWC without the batch dim; they need not
// sum to 1, e.g. max-normalized random-walk scores), image u8 [H, W, 3] RGB, contiguous or not
// -> f32 [H, W, C] the mean-field marginals Q after config.iterations steps (rows sum to 1), on
// probs' device. Follows pydensecrf exactly: Q0 = softmax(-U); each step Q = softmax(-U +
// Σ_m w_m · D_m^-1/2 K_m D_m^-1/2 Q) with D_m = K_m 1 (symmetric normalization), the kernels
// K_m evaluated by the permutohedral lattice (self term included). iterations = 0 returns
// softmax(-U).
// Device: the computation runs where probs is. CPU probs need a CPU image; OpenMP over pixels /
// lattice vertices. CUDA probs (a CUDA build; the image may be on any device and is copied to the
// host): the lattices are built on the host (single-threaded hash insertion), uploaded, and all
// iterations run on the device (spml/crf_kernels.h); marginals agree with the CPU path to
// rounding (about 1e-5).
engine::Tensor dense_crf(const engine::Tensor& probs, const engine::Tensor& image,
                         const CrfConfig& config = CrfConfig());

// f32 [H, W, C] -> i32 [H, W], the argmax over C (ties to the lowest class).
engine::Tensor argmax_labels(const engine::Tensor& probs);

}  // namespace spml
