#include "models/deeplab_aspp.h"

#include "engine/ops/elementwise.h"

namespace models {

DeepLabV2ASPP::DeepLabV2ASPP(int64_t in_channels, int64_t out_channels, engine::Generator& gen,
                             const std::vector<int64_t>& rates, layers::ConvInit init)
    : layers::Layer("DeepLabV2ASPP") {
  ENGINE_CHECK(!rates.empty(), "DeepLabV2ASPP: needs at least one rate");
  for (size_t i = 0; i < rates.size(); ++i) {
    ENGINE_CHECK(rates[i] > 0, "DeepLabV2ASPP: rate {} must be positive", rates[i]);
    auto branch = std::make_shared<layers::Sequential>();
    branch->push_back(
        std::make_shared<layers::Conv2d>(layers::Conv2dOptions{.in_channels = in_channels,
                                                               .out_channels = out_channels,
                                                               .kernel = 3,
                                                               .padding = rates[i],
                                                               .dilation = rates[i],
                                                               .bias = true,
                                                               .init = init},
                                         gen));
    branches_.push_back(register_module("aspp_" + std::to_string(i + 1), branch));
  }
}

Tensor DeepLabV2ASPP::forward(const Tensor& x) {
  Tensor y = branches_[0]->forward(x);
  for (size_t i = 1; i < branches_.size(); ++i) y = engine::add(y, branches_[i]->forward(x));
  return y;
}

}  // namespace models
