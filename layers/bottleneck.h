// ResNet bottleneck block (torchvision v1.5: the stride sits on the 3x3 convolution).
#pragma once

#include <cstdint>
#include <memory>

#include "engine/random.h"
#include "layers/batch_norm.h"
#include "layers/conv.h"
#include "layers/module.h"

namespace layers {

struct BottleneckOptions {
  int64_t in_channels = 0;
  int64_t width = 0;         // channels of the 1x1 and 3x3 convolutions (torchvision's planes)
  int64_t out_channels = 0;  // 4 * width in ResNet
  int64_t stride = 1;        // on conv2 (and the shortcut)
  int64_t dilation = 1;      // of conv2; its padding equals the dilation
  // A 1x1 conv (with the stride) + BN shortcut; required when stride > 1 or in != out.
  bool downsample = false;
  BatchNormOptions bn{};
  ConvInit init = ConvInit::kaiming_normal_fan_out;
};

// x [N, H, W, in] -> [N, Ho, Wo, out] with Ho = (H - 1) / stride + 1:
//   relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + shortcut(x)).
// Names: conv1, bn1, conv2, bn2, conv3, bn3, downsample.0 (conv), downsample.1 (BN).
class Bottleneck : public Layer {
 public:
  Bottleneck(const BottleneckOptions& options, engine::Generator& gen);
  Tensor forward(const Tensor& x) override;
  const BottleneckOptions& options() const { return options_; }

  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<Sequential> downsample;  // null without a projection shortcut

 private:
  BottleneckOptions options_;
};

}  // namespace layers
