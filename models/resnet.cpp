#include "models/resnet.h"

#include <functional>

#include "engine/ops/elementwise.h"
#include "engine/random.h"

namespace models {

using layers::BatchNorm2d;
using layers::Conv2d;
using layers::Conv2dOptions;

ResNet::ResNet(const ResNetConfig& c) : layers::Layer("ResNet"), config_(c) {
  ENGINE_CHECK(c.output_stride == 8 || c.output_stride == 16 || c.output_stride == 32,
               "ResNet: output_stride must be 8, 16 or 32, got {}", c.output_stride);
  ENGINE_CHECK(c.width > 0 && c.in_channels > 0 && c.num_classes >= 0,
               "ResNet: invalid width {} / in_channels {} / num_classes {}", c.width, c.in_channels,
               c.num_classes);
  for (int64_t b : c.blocks)
    ENGINE_CHECK(b >= 1, "ResNet: every stage needs at least one block, got [{}, {}, {}, {}]",
                 c.blocks[0], c.blocks[1], c.blocks[2], c.blocks[3]);
  engine::Generator gen(c.seed);
  const int64_t w = c.width;
  const layers::ConvInit init =
      c.random_init ? layers::ConvInit::kaiming_normal_fan_out : layers::ConvInit::zeros;
  if (c.stem == Stem::torchvision) {
    conv1_ = register_module("conv1",
                             std::make_shared<Conv2d>(Conv2dOptions{.in_channels = c.in_channels,
                                                                    .out_channels = w,
                                                                    .kernel = 7,
                                                                    .stride = 2,
                                                                    .padding = 3,
                                                                    .init = init},
                                                      gen));
  } else {
    auto stem = std::make_shared<layers::Sequential>();
    auto conv3 = [&](int64_t in, int64_t out, int64_t stride) {
      return std::make_shared<Conv2d>(Conv2dOptions{.in_channels = in,
                                                    .out_channels = out,
                                                    .kernel = 3,
                                                    .stride = stride,
                                                    .padding = 1,
                                                    .init = init},
                                      gen);
    };
    stem->push_back(conv3(c.in_channels, w, 2));
    stem->push_back(std::make_shared<BatchNorm2d>(w, c.bn));
    stem->push_back(std::make_shared<layers::ReLU>());
    stem->push_back(conv3(w, w, 1));
    stem->push_back(std::make_shared<BatchNorm2d>(w, c.bn));
    stem->push_back(std::make_shared<layers::ReLU>());
    stem->push_back(conv3(w, 2 * w, 1));
    conv1_ = register_module("conv1", stem);
  }
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(stem_channels(), c.bn));
  maxpool_ = std::make_shared<layers::MaxPool2d>(3, 2, 1);

  // Dilation instead of stride for the last stages (torchvision's _make_layer): a stage whose
  // stride is replaced multiplies the running dilation, and its first block keeps the previous
  // one.
  const std::array<bool, 4> dilate{false, false, c.output_stride == 8, c.output_stride <= 16};
  int64_t in = stem_channels(), dilation = 1;
  for (int s = 0; s < 4; ++s) {
    int64_t width = w << s, out = 4 * width;
    int64_t stride = s == 0 ? 1 : 2;
    int64_t previous_dilation = dilation;
    if (dilate[size_t(s)]) {
      dilation *= stride;
      stride = 1;
    }
    auto stage = std::make_shared<layers::Sequential>();
    for (int64_t b = 0; b < c.blocks[size_t(s)]; ++b) {
      layers::BottleneckOptions o{.in_channels = b == 0 ? in : out,
                                  .width = width,
                                  .out_channels = out,
                                  .stride = b == 0 ? stride : 1,
                                  .dilation = b == 0 ? previous_dilation : dilation,
                                  .downsample = b == 0 && (stride != 1 || in != out),
                                  .bn = c.bn,
                                  .init = init};
      stage->push_back(std::make_shared<layers::Bottleneck>(o, gen));
    }
    stages_[size_t(s)] = register_module("layer" + std::to_string(s + 1), stage);
    in = out;
  }
  if (c.num_classes > 0) {
    avgpool_ = std::make_shared<layers::AdaptiveAvgPool2d>(1);
    fc_ = register_module("fc", std::make_shared<layers::Linear>(
                                    in, c.num_classes, true, gen,
                                    c.random_init ? layers::ConvInit::pytorch_default : init));
  }
}

int64_t ResNet::stem_channels() const {
  return config_.stem == Stem::deep ? 2 * config_.width : config_.width;
}

ResNetFeatures ResNet::forward_features(const Tensor& x) {
  ENGINE_CHECK(x.dim() == 4 && x.size(3) == config_.in_channels,
               "ResNet: expected input [N, H, W, {}] (NHWC), got {}", config_.in_channels,
               x.desc());
  ResNetFeatures f;
  f.stem = maxpool_->forward(engine::relu(bn1_->forward(conv1_->forward(x))));
  f.layer1 = stages_[0]->forward(f.stem);
  f.layer2 = stages_[1]->forward(f.layer1);
  f.layer3 = stages_[2]->forward(f.layer2);
  f.layer4 = stages_[3]->forward(f.layer3);
  if (fc_) {
    Tensor pooled = avgpool_->forward(f.layer4);
    f.logits = fc_->forward(pooled.reshape({pooled.size(0), pooled.size(3)}));
  }
  return f;
}

Tensor ResNet::forward(const Tensor& x) {
  ResNetFeatures f = forward_features(x);
  return f.logits.defined() ? f.logits : f.layer4;
}

std::vector<layers::BatchNorm2d*> ResNet::batch_norms() {
  std::vector<layers::BatchNorm2d*> out;
  std::function<void(layers::Module&)> visit = [&](layers::Module& m) {
    if (auto* bn = dynamic_cast<layers::BatchNorm2d*>(&m)) out.push_back(bn);
    for (auto& [n, child] : m.children()) visit(*child);
  };
  visit(*this);
  return out;
}

std::unique_ptr<ResNet> resnet50(int output_stride, int64_t num_classes, uint64_t seed,
                                 bool random_init) {
  return std::make_unique<ResNet>(ResNetConfig{.blocks = {3, 4, 6, 3},
                                               .output_stride = output_stride,
                                               .num_classes = num_classes,
                                               .seed = seed,
                                               .random_init = random_init});
}

std::unique_ptr<ResNet> resnet101(int output_stride, int64_t num_classes, uint64_t seed,
                                  bool random_init) {
  return std::make_unique<ResNet>(ResNetConfig{.blocks = {3, 4, 23, 3},
                                               .output_stride = output_stride,
                                               .num_classes = num_classes,
                                               .seed = seed,
                                               .random_init = random_init});
}

std::unique_ptr<ResNet> resnet101_deep_stem(int output_stride, uint64_t seed, bool random_init) {
  return std::make_unique<ResNet>(ResNetConfig{.blocks = {3, 4, 23, 3},
                                               .stem = Stem::deep,
                                               .output_stride = output_stride,
                                               .bn = {.momentum = 3e-4},
                                               .seed = seed,
                                               .random_init = random_init});
}

}  // namespace models
