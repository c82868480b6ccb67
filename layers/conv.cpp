#include "layers/conv.h"

#include <cmath>

#include "engine/ops/factory.h"
#include "engine/ops/linalg.h"

namespace layers {

Conv2d::Conv2d(const Conv2dOptions& o, engine::Generator& gen) : Layer("Conv2d"), options_(o) {
  ENGINE_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.kernel > 0 && o.stride > 0 &&
                   o.padding >= 0 && o.dilation > 0 && o.groups > 0,
               "Conv2d: invalid options in={} out={} kernel={} stride={} padding={} dilation={} "
               "groups={}",
               o.in_channels, o.out_channels, o.kernel, o.stride, o.padding, o.dilation, o.groups);
  ENGINE_CHECK(o.in_channels % o.groups == 0 && o.out_channels % o.groups == 0,
               "Conv2d: groups {} must divide in ({}) and out ({}) channels", o.groups,
               o.in_channels, o.out_channels);
  params_.stride = {o.stride, o.stride};
  params_.padding = {o.padding, o.padding};
  params_.dilation = {o.dilation, o.dilation};
  params_.groups = o.groups;
  int64_t in_per_group = o.in_channels / o.groups;
  engine::Shape wshape{o.out_channels, o.kernel, o.kernel, in_per_group};
  if (o.init == ConvInit::zeros) {
    weight_ = register_parameter("weight", engine::zeros(wshape));
    if (o.bias) bias_ = register_parameter("bias", engine::zeros({o.out_channels}));
  } else if (o.init == ConvInit::kaiming_normal_fan_out) {
    double std = std::sqrt(2.0 / double(o.kernel * o.kernel * o.out_channels));
    weight_ = register_parameter("weight", engine::randn(wshape, gen, 0.0, std));
    if (o.bias) bias_ = register_parameter("bias", engine::zeros({o.out_channels}));
  } else {
    double bound = 1.0 / std::sqrt(double(o.kernel * o.kernel * in_per_group));
    weight_ = register_parameter("weight", engine::rand(wshape, gen, -bound, bound));
    if (o.bias)
      bias_ = register_parameter("bias", engine::rand({o.out_channels}, gen, -bound, bound));
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  ENGINE_CHECK(x.dim() == 4 && x.size(3) == options_.in_channels,
               "Conv2d({} -> {}): expected input [N, H, W, {}], got {}", options_.in_channels,
               options_.out_channels, options_.in_channels, x.desc());
  return engine::conv2d(x, weight_, bias_, params_);
}

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, engine::Generator& gen,
               ConvInit init)
    : Layer("Linear") {
  ENGINE_CHECK(in_features > 0 && out_features > 0, "Linear: invalid sizes {} -> {}", in_features,
               out_features);
  if (init == ConvInit::zeros) {
    weight_ = register_parameter("weight", engine::zeros({out_features, in_features}));
    if (bias) bias_ = register_parameter("bias", engine::zeros({out_features}));
    return;
  }
  double bound = 1.0 / std::sqrt(double(in_features));
  weight_ =
      register_parameter("weight", engine::rand({out_features, in_features}, gen, -bound, bound));
  if (bias) bias_ = register_parameter("bias", engine::rand({out_features}, gen, -bound, bound));
}

Tensor Linear::forward(const Tensor& x) {
  return engine::linear(x, weight_, bias_);
}

}  // namespace layers
