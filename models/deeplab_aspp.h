// DeepLab-v2 ASPP head (spml.md §1.3): four parallel 3x3 convolutions with dilation = padding
// = 6, 12, 18, 24, each in -> out with a bias, no BN, no ReLU; their outputs are summed.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/random.h"
#include "layers/conv.h"
#include "layers/module.h"

namespace models {

using engine::Tensor;

// x [N, h, w, in] -> [N, h, w, out]. Names as SPML's ASPP: aspp_1.0.weight, aspp_1.0.bias, ...,
// aspp_4.0.bias (each branch a Sequential holding its conv). PyTorch's default conv init.
class DeepLabV2ASPP : public layers::Layer {
 public:
  DeepLabV2ASPP(int64_t in_channels, int64_t out_channels, engine::Generator& gen,
                const std::vector<int64_t>& rates = {6, 12, 18, 24},
                layers::ConvInit init = layers::ConvInit::pytorch_default);
  Tensor forward(const Tensor& x) override;

 private:
  std::vector<std::shared_ptr<layers::Sequential>> branches_;
};

}  // namespace models
