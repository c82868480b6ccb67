// Classification losses with the class on the LAST dim: scores [N, C] with targets [N], or NHWC
// [N, H, W, C] with label maps [N, H, W] (any leading shape works: target.shape == scores.shape
// without the last dim). Targets are i32 or i64 in [0, C), or ignore_index (255 in VOC label
// maps), which marks a pixel that contributes neither loss nor gradient.
//
// Reduction::mean divides by the number of valid (non-ignored) pixels; when every pixel is
// ignored the mean loss is 0 and so is its gradient. Reduction::none returns the per-pixel loss
// with the target's shape (0 at ignored pixels). Targets get no gradient. The backward is a
// fused kernel (differentiable once).
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace engine {

enum class Reduction { none, mean, sum };

// -log softmax(logits)[target], computed in one fused pass (log-sum-exp per row) without
// materializing the probabilities; the gradient is (softmax - onehot) times the reduction scale.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index = 255,
                     Reduction reduction = Reduction::mean);
// -log_probs[target], for inputs that already are log-probabilities (e.g. log_softmax output).
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, int64_t ignore_index = 255,
                Reduction reduction = Reduction::mean);

}  // namespace engine
