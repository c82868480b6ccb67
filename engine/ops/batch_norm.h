// Batch normalization over channels-last data: x is [..., C] (NHWC [N, H, W, C], [N, C], or any
// leading dims); statistics are per channel over all leading positions.
#pragma once

#include "engine/tensor.h"

namespace engine {

// y = (x - mean) / sqrt(var + eps) * weight + bias, per channel c of the last dim.
//
// weight (gamma) and bias (beta) are optional [C] tensors (undefined: 1 and 0); they get
// gradients when they require grad. running_mean / running_var are [C] buffers, both defined or
// both undefined.
//
// training = true: mean and biased variance of the batch normalize x, and the running buffers
// (when defined) are updated in place, unrecorded, with PyTorch's convention
//   running_mean = (1 - momentum) * running_mean + momentum * batch_mean
//   running_var  = (1 - momentum) * running_var  + momentum * batch_var * M / (M - 1)
// (unbiased batch variance; M = rows per channel, which must be > 1). The backward is the
// closed-form one through the batch statistics.
// training = false: the running buffers (required) normalize x; the backward is the affine one.
//
// The backward runs fused kernels, so it is not itself differentiable (no double backward).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum = 0.1, double eps = 1e-5);

// relu(batch_norm(x, ...)) in one pass over x (the forward writes only the clamped output; the
// backward masks dy with output > 0 inside the batch-norm backward kernels). Same arguments,
// running-buffer update and backward as batch_norm.
Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       double momentum = 0.1, double eps = 1e-5);

// relu(batch_norm(x, ...) + residual): the tail of a ResNet residual block. residual has x's
// shape, dtype and device and gets the gradient dy * (output > 0).
Tensor batch_norm_add_relu(const Tensor& x, const Tensor& residual, const Tensor& weight,
                           const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, bool training, double momentum = 0.1,
                           double eps = 1e-5);

}  // namespace engine
