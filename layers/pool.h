// Pooling layers over NHWC activations.
#pragma once

#include <cstdint>

#include "layers/module.h"

namespace layers {

// x [N, H, W, C] -> [N, Ho, Wo, C], Ho = floor((H + 2p - k) / s) + 1 (ceil with ceil_mode);
// padding counts as -inf. ResNet's stem: MaxPool2d(3, 2, 1).
class MaxPool2d : public Layer {
 public:
  MaxPool2d(int64_t kernel, int64_t stride, int64_t padding = 0, bool ceil_mode = false);
  Tensor forward(const Tensor& x) override;

 private:
  int64_t kernel_, stride_, padding_;
  bool ceil_mode_;
};

// x [N, H, W, C] -> [N, out_h, out_w, C], PyTorch's adaptive bins.
class AdaptiveAvgPool2d : public Layer {
 public:
  AdaptiveAvgPool2d(int64_t out_h, int64_t out_w);
  explicit AdaptiveAvgPool2d(int64_t out) : AdaptiveAvgPool2d(out, out) {}
  Tensor forward(const Tensor& x) override;

 private:
  int64_t out_h_, out_w_;
};

}  // namespace layers
