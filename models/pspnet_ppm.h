// PSPNet pyramid pooling head (spml.md §1.4).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/random.h"
#include "layers/batch_norm.h"
#include "layers/conv.h"
#include "layers/module.h"

namespace models {

using engine::Tensor;

// Pyramid pooling (SPML's PSPP): for each bin b in {1, 2, 3, 6}: adaptive average pooling to
// b x b, 1x1 conv in -> width (no bias), BN, ReLU, bilinear upsampling (align_corners false)
// back to h x w; then concat [x, p1, p2, p3, p6] (in + 4 * width channels), 3x3 conv to width
// (no bias), BN, ReLU.
// x [N, h, w, in] -> [N, h, w, width]. Names: pspp_1.1.weight (conv), pspp_1.2.* (BN), ...,
// pspp_4.*, conv.0.weight, conv.1.* (index 0 of each branch is the pooling).
class PyramidPooling : public layers::Layer {
 public:
  PyramidPooling(int64_t in_channels, int64_t width, engine::Generator& gen,
                 const layers::BatchNormOptions& bn = {},
                 const std::vector<int64_t>& bins = {1, 2, 3, 6},
                 layers::ConvInit init = layers::ConvInit::pytorch_default);
  Tensor forward(const Tensor& x) override;

 private:
  std::vector<std::shared_ptr<layers::Sequential>> branches_;
  std::shared_ptr<layers::Sequential> conv_;
};

// The DensePose embedding head: Sequential [0 PyramidPooling(in -> width), 1 conv 1x1
// width -> out with bias]; registered as "pspp" in the embedding model, so names are
// pspp.0.pspp_1.1.weight, ..., pspp.1.weight, pspp.1.bias as in SPML's checkpoints.
// x [N, h, w, in] -> [N, h, w, out].
std::shared_ptr<layers::Sequential> make_pspnet_head(
    int64_t in_channels, int64_t out_channels, engine::Generator& gen, int64_t width = 512,
    const layers::BatchNormOptions& bn = {},
    layers::ConvInit init = layers::ConvInit::pytorch_default);

}  // namespace models
