#include "models/pspnet_ppm.h"

#include "engine/ops/join.h"
#include "engine/ops/resize.h"
#include "layers/activation.h"
#include "layers/conv.h"
#include "layers/pool.h"

namespace models {

using layers::Conv2d;
using layers::Conv2dOptions;
using layers::ConvInit;

PyramidPooling::PyramidPooling(int64_t in_channels, int64_t width, engine::Generator& gen,
                               const layers::BatchNormOptions& bn, const std::vector<int64_t>& bins,
                               ConvInit init)
    : layers::Layer("PyramidPooling") {
  ENGINE_CHECK(!bins.empty() && in_channels > 0 && width > 0,
               "PyramidPooling: invalid in {} / width {} / {} bins", in_channels, width,
               bins.size());
  for (size_t i = 0; i < bins.size(); ++i) {
    ENGINE_CHECK(bins[i] > 0, "PyramidPooling: bin {} must be positive", bins[i]);
    auto branch = std::make_shared<layers::Sequential>();
    branch->push_back(std::make_shared<layers::AdaptiveAvgPool2d>(bins[i]));
    branch->push_back(std::make_shared<Conv2d>(
        Conv2dOptions{.in_channels = in_channels, .out_channels = width, .kernel = 1, .init = init},
        gen));
    branch->push_back(std::make_shared<layers::BatchNorm2d>(width, bn));
    branch->push_back(std::make_shared<layers::ReLU>());
    branches_.push_back(register_module("pspp_" + std::to_string(i + 1), branch));
  }
  conv_ = register_module("conv", std::make_shared<layers::Sequential>());
  conv_->push_back(std::make_shared<Conv2d>(
      Conv2dOptions{.in_channels = in_channels + int64_t(bins.size()) * width,
                    .out_channels = width,
                    .kernel = 3,
                    .padding = 1,
                    .init = init},
      gen));
  conv_->push_back(std::make_shared<layers::BatchNorm2d>(width, bn));
  conv_->push_back(std::make_shared<layers::ReLU>());
}

Tensor PyramidPooling::forward(const Tensor& x) {
  ENGINE_CHECK(x.dim() == 4, "PyramidPooling: expected [N, h, w, C], got {}", x.desc());
  std::vector<Tensor> parts{x};
  for (auto& b : branches_)
    parts.push_back(engine::resize_bilinear(b->forward(x), x.size(1), x.size(2), false));
  return conv_->forward(engine::concat(parts, 3));
}

std::shared_ptr<layers::Sequential> make_pspnet_head(int64_t in_channels, int64_t out_channels,
                                                     engine::Generator& gen, int64_t width,
                                                     const layers::BatchNormOptions& bn,
                                                     ConvInit init) {
  auto head = std::make_shared<layers::Sequential>();
  head->push_back(std::make_shared<PyramidPooling>(in_channels, width, gen, bn,
                                                   std::vector<int64_t>{1, 2, 3, 6}, init));
  head->push_back(std::make_shared<Conv2d>(Conv2dOptions{.in_channels = width,
                                                         .out_channels = out_channels,
                                                         .kernel = 1,
                                                         .bias = true,
                                                         .init = init},
                                           gen));
  return head;
}

}  // namespace models
