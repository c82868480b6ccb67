// BatchNorm2d over channels-last activations [N, H, W, C] (any [..., C]).
#pragma once

#include <cstdint>

#include "layers/module.h"

namespace layers {

struct BatchNormOptions {
  // PyTorch's convention: running = (1 - momentum) * running + momentum * batch. SPML's
  // backbone uses 3e-4 (spml.md §1.1); PyTorch's default is 0.1.
  double momentum = 0.1;
  double eps = 1e-5;
  // Use the running statistics (and leave them unchanged) even in training mode.
  bool frozen_stats = false;
  // gamma and beta get requires_grad = false.
  bool frozen_affine = false;
};

// Parameters weight (gamma) [C] = 1 and bias (beta) [C] = 0; buffers running_mean [C] = 0 and
// running_var [C] = 1 (f32). Training mode (and stats not frozen): batch statistics normalize
// and the running buffers are updated in place; otherwise the running statistics normalize.
class BatchNorm2d : public Layer {
 public:
  explicit BatchNorm2d(int64_t channels, const BatchNormOptions& options = {});
  Tensor forward(const Tensor& x) override;

  void set_frozen_stats(bool frozen) { options_.frozen_stats = frozen; }
  void set_frozen_affine(bool frozen);
  void set_momentum(double momentum);
  const BatchNormOptions& options() const { return options_; }
  int64_t channels() const { return channels_; }
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }

 private:
  int64_t channels_;
  BatchNormOptions options_;
  Tensor weight_, bias_, running_mean_, running_var_;
};

}  // namespace layers
