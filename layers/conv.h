// Conv2d and Linear layers.
#pragma once

#include <cstdint>

#include "engine/ops/conv.h"
#include "engine/random.h"
#include "layers/module.h"

namespace layers {

enum class ConvInit {
  // N(0, 2 / (KH * KW * O)): torchvision's ResNet (kaiming_normal_, mode fan_out, relu); the
  // spec's backbone init (spml.md §1.1). Bias (if any) zero.
  kaiming_normal_fan_out,
  // PyTorch's nn.Conv2d / nn.Linear default: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  // with fan_in = KH * KW * I / groups (the heads, spml.md §1.3).
  pytorch_default,
  // All zeros: for weights that are loaded right after construction (no random draws, which
  // cost seconds for a full ResNet-101) and for parameter counting.
  zeros,
};

struct Conv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel = 1;  // square kernels only
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = false;
  ConvInit init = ConvInit::kaiming_normal_fan_out;
};

// x [N, H, W, I] -> [N, Ho, Wo, O], Ho = (H + 2p - d(k-1) - 1) / s + 1.
// Parameters: weight [O, k, k, I/groups] (OHWI), bias [O] when options.bias.
class Conv2d : public Layer {
 public:
  Conv2d(const Conv2dOptions& options, engine::Generator& gen);
  Tensor forward(const Tensor& x) override;
  const Conv2dOptions& options() const { return options_; }
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }  // undefined without bias

 private:
  Conv2dOptions options_;
  engine::Conv2dParams params_;
  Tensor weight_, bias_;
};

// x [..., I] -> [..., O] (torch.nn.Linear): weight [O, I], bias [O]; PyTorch's default init
// (or zeros with ConvInit::zeros).
class Linear : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias, engine::Generator& gen,
         ConvInit init = ConvInit::pytorch_default);
  Tensor forward(const Tensor& x) override;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }

 private:
  Tensor weight_, bias_;
};

}  // namespace layers
