// Softmax and log-softmax along one dim (negative dims count from the end). For NHWC
// activations [N, H, W, C] the class dim is the last one, which is the fast path (rows of C
// contiguous values); other dims are moved last, computed, and moved back.
//
// Both are numerically stable (the row maximum is subtracted before exp) and take f32 or f64.
// The backward uses the saved output; it is a fused kernel, so these ops are differentiable
// once (the gradient itself records no graph).
#pragma once

#include "engine/tensor.h"

namespace engine {

// exp(x - max) / sum(exp(x - max)) along `dim`.
Tensor softmax(const Tensor& x, int64_t dim = -1);
// x - max - log(sum(exp(x - max))) along `dim`.
Tensor log_softmax(const Tensor& x, int64_t dim = -1);

}  // namespace engine
