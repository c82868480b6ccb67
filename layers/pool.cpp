#include "layers/pool.h"

#include "engine/ops/pool.h"

namespace layers {

MaxPool2d::MaxPool2d(int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode)
    : Layer("MaxPool2d"),
      kernel_(kernel),
      stride_(stride),
      padding_(padding),
      ceil_mode_(ceil_mode) {
  ENGINE_CHECK(kernel > 0 && stride > 0 && padding >= 0 && 2 * padding <= kernel,
               "MaxPool2d: invalid kernel {} stride {} padding {}", kernel, stride, padding);
}

Tensor MaxPool2d::forward(const Tensor& x) {
  return engine::max_pool2d(x, kernel_, stride_, padding_, 1, ceil_mode_);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(int64_t out_h, int64_t out_w)
    : Layer("AdaptiveAvgPool2d"), out_h_(out_h), out_w_(out_w) {
  ENGINE_CHECK(out_h > 0 && out_w > 0, "AdaptiveAvgPool2d: invalid output size {}x{}", out_h,
               out_w);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  return engine::adaptive_avg_pool2d(x, out_h_, out_w_);
}

}  // namespace layers
