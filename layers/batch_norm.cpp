#include "layers/batch_norm.h"

#include "engine/ops/batch_norm.h"
#include "engine/ops/factory.h"

namespace layers {

BatchNorm2d::BatchNorm2d(int64_t channels, const BatchNormOptions& options)
    : Layer("BatchNorm2d"), channels_(channels), options_(options) {
  ENGINE_CHECK(channels > 0, "BatchNorm2d: channels must be positive, got {}", channels);
  set_momentum(options.momentum);
  ENGINE_CHECK(options.eps > 0, "BatchNorm2d: eps must be positive, got {}", options.eps);
  weight_ = register_parameter("weight", engine::ones({channels}));
  bias_ = register_parameter("bias", engine::zeros({channels}));
  running_mean_ = register_buffer("running_mean", engine::zeros({channels}));
  running_var_ = register_buffer("running_var", engine::ones({channels}));
  set_frozen_affine(options.frozen_affine);
}

void BatchNorm2d::set_frozen_affine(bool frozen) {
  options_.frozen_affine = frozen;
  for (Tensor t : {weight_, bias_}) {
    if (frozen) t.zero_grad();
    t.set_requires_grad(!frozen);
  }
}

void BatchNorm2d::set_momentum(double momentum) {
  ENGINE_CHECK(momentum >= 0 && momentum <= 1, "BatchNorm2d: momentum must be in [0, 1], got {}",
               momentum);
  options_.momentum = momentum;
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  ENGINE_CHECK(x.dim() >= 1 && x.size(-1) == channels_,
               "BatchNorm2d({}): expected input [..., {}], got {}", channels_, channels_, x.desc());
  bool batch_stats = is_training() && !options_.frozen_stats;
  return engine::batch_norm(x, weight_, bias_, running_mean_, running_var_, batch_stats,
                            options_.momentum, options_.eps);
}

}  // namespace layers
