// ResNet-50/101 backbones (bottleneck blocks, torchvision v1.5) with two stems and output
// stride 8/16/32 by dilation. Activations are NHWC f32.
//
// Parameter names are torchvision's: conv1, bn1, layer1.0.conv1, ..., layer4.2.bn3,
// layerK.0.downsample.{0,1}, fc. The deep stem (spml.md §1.1; the CUHK/EMANet "ResNet-v1c"
// weights) is a Sequential named conv1 = [0 conv3x3 s2, 1 BN, 2 ReLU, 3 conv3x3, 4 BN, 5 ReLU,
// 6 conv3x3] followed by bn1, exactly the names in resnet-101-cuhk.pth (conv1.0.weight,
// conv1.1.running_mean, conv1.6.weight, bn1.weight, ...). Other deep-stem namings are mapped
// on import (models/weights.h).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/bottleneck.h"
#include "layers/conv.h"
#include "layers/module.h"
#include "layers/pool.h"

namespace models {

using engine::Tensor;

enum class Stem {
  torchvision,  // conv 7x7/2 (3 -> w), BN, ReLU, max pool 3x3/2
  deep,         // conv 3x3/2 (3 -> w), BN, ReLU, conv 3x3 (w -> w), BN, ReLU,
                // conv 3x3 (w -> 2w), BN, ReLU, max pool 3x3/2; no conv biases
};

struct ResNetConfig {
  std::array<int64_t, 4> blocks{3, 4, 23, 3};  // ResNet-101; {3, 4, 6, 3} is ResNet-50
  Stem stem = Stem::torchvision;
  // 32: no dilation. 16: layer4 dilation 2 (its first block 1). 8: layer3 dilation 2 (first
  // block 1) and layer4 dilation 4 (first block 2), as torchvision's
  // replace_stride_with_dilation and spml.md §1.1.
  int output_stride = 32;
  // Base width (64 in the real networks): stage widths w, 2w, 4w, 8w, outputs 4x those, stem
  // w (deep stem: w, w, 2w). Tests use e.g. 8.
  int64_t width = 64;
  int64_t in_channels = 3;
  // > 0: global average pooling and a Linear(32w -> num_classes) named fc (ImageNet: 1000).
  int64_t num_classes = 0;
  layers::BatchNormOptions bn{};  // every backbone BN (SPML: momentum 3e-4)
  uint64_t seed = 0;              // initialization (Philox)
  // false: conv and fc weights start at zero instead of random (BN at 1/0 as always): for
  // weights loaded right after construction, where ResNet-101's random init would cost seconds.
  bool random_init = true;
};

// Per-stage features; shapes for input [N, H, W, 3] with s(k) = size after k stride-2 steps
// (s(1) = (H - 1) / 2 + 1 for the strided convs, max pool likewise):
//   stem   [N, H/4, W/4, w] (deep stem: 2w)      stride 4
//   layer1 [N, H/4, W/4, 4w]                     stride 4
//   layer2 [N, H/8, W/8, 8w]                     stride 8
//   layer3 [N, ., ., 16w]                        stride 16 (8 at OS8)
//   layer4 [N, ., ., 32w]                        stride 32 (16 at OS16, 8 at OS8)
//   logits [N, num_classes] when the model has fc, else undefined.
struct ResNetFeatures {
  Tensor stem, layer1, layer2, layer3, layer4, logits;
};

class ResNet : public layers::Layer {
 public:
  explicit ResNet(const ResNetConfig& config);
  ResNetFeatures forward_features(const Tensor& x);
  // logits with fc, else layer4.
  Tensor forward(const Tensor& x) override;
  const ResNetConfig& config() const { return config_; }
  int64_t out_channels() const { return 32 * config_.width; }
  int64_t stem_channels() const;
  // Every BatchNorm under this backbone (for freezing or momentum changes).
  std::vector<layers::BatchNorm2d*> batch_norms();

 private:
  ResNetConfig config_;
  std::shared_ptr<layers::Layer> conv1_;  // Conv2d (torchvision) or Sequential (deep)
  std::shared_ptr<layers::BatchNorm2d> bn1_;
  std::shared_ptr<layers::MaxPool2d> maxpool_;
  std::array<std::shared_ptr<layers::Sequential>, 4> stages_;
  std::shared_ptr<layers::AdaptiveAvgPool2d> avgpool_;
  std::shared_ptr<layers::Linear> fc_;
};

// Full-size factories (width 64, torchvision BN defaults). random_init false: zero weights to be
// overwritten by load_weights (see ResNetConfig::random_init).
std::unique_ptr<ResNet> resnet50(int output_stride = 32, int64_t num_classes = 0, uint64_t seed = 0,
                                 bool random_init = true);
std::unique_ptr<ResNet> resnet101(int output_stride = 32, int64_t num_classes = 0,
                                  uint64_t seed = 0, bool random_init = true);
// SPML's backbone: deep stem, output stride 8, BN momentum 3e-4.
std::unique_ptr<ResNet> resnet101_deep_stem(int output_stride = 8, uint64_t seed = 0,
                                            bool random_init = true);

}  // namespace models
