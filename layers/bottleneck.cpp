#include "layers/bottleneck.h"

#include "engine/ops/elementwise.h"

namespace layers {

Bottleneck::Bottleneck(const BottleneckOptions& o, engine::Generator& gen)
    : Layer("Bottleneck"), options_(o) {
  ENGINE_CHECK(
      o.in_channels > 0 && o.width > 0 && o.out_channels > 0 && o.stride > 0 && o.dilation > 0,
      "Bottleneck: invalid options in={} width={} out={} stride={} dilation={}", o.in_channels,
      o.width, o.out_channels, o.stride, o.dilation);
  ENGINE_CHECK(o.downsample || (o.stride == 1 && o.in_channels == o.out_channels),
               "Bottleneck: stride {} with {} -> {} channels needs a downsample shortcut", o.stride,
               o.in_channels, o.out_channels);
  // Registration order is torchvision's (conv1, bn1, conv2, bn2, conv3, bn3, downsample), so
  // state_dict order matches too.
  conv1 = register_module(
      "conv1",
      std::make_shared<Conv2d>(
          Conv2dOptions{
              .in_channels = o.in_channels, .out_channels = o.width, .kernel = 1, .init = o.init},
          gen));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(o.width, o.bn));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(Conv2dOptions{.in_channels = o.width,
                                                                          .out_channels = o.width,
                                                                          .kernel = 3,
                                                                          .stride = o.stride,
                                                                          .padding = o.dilation,
                                                                          .dilation = o.dilation,
                                                                          .init = o.init},
                                                            gen));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(o.width, o.bn));
  conv3 = register_module(
      "conv3",
      std::make_shared<Conv2d>(
          Conv2dOptions{
              .in_channels = o.width, .out_channels = o.out_channels, .kernel = 1, .init = o.init},
          gen));
  bn3 = register_module("bn3", std::make_shared<BatchNorm2d>(o.out_channels, o.bn));
  if (o.downsample) {
    downsample = register_module("downsample", std::make_shared<Sequential>());
    downsample->push_back(std::make_shared<Conv2d>(Conv2dOptions{.in_channels = o.in_channels,
                                                                 .out_channels = o.out_channels,
                                                                 .kernel = 1,
                                                                 .stride = o.stride,
                                                                 .init = o.init},
                                                   gen));
    downsample->push_back(std::make_shared<BatchNorm2d>(o.out_channels, o.bn));
  }
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor y = engine::relu(bn1->forward(conv1->forward(x)));
  y = engine::relu(bn2->forward(conv2->forward(y)));
  y = bn3->forward(conv3->forward(y));
  Tensor shortcut = downsample ? downsample->forward(x) : x;
  return engine::relu(engine::add(y, shortcut));
}

}  // namespace layers
