// 2-D convolution over NHWC activations (f32 / f64; CPU: im2col + BLAS GEMM).
#pragma once

#include <array>
#include <cstdint>

#include "engine/tensor.h"

namespace engine {

// Per-axis (height, width) settings, in input pixels.
struct Conv2dParams {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};  // zeros added on both sides
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;  // divides both input and output channels
};

// input [N, H, W, C], weight [O, KH, KW, C/groups] (cuDNN KRSC), bias [O] or undefined (none)
// -> [N, Ho, Wo, O] with Ho = (H + 2*ph - dh*(KH-1) - 1) / sh + 1 (likewise Wo).
// Differentiable in input, weight and bias.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dParams& params = {});

// The two halves of conv2d's backward, exposed (and differentiable) so gradients of gradients
// work. grad_y is [N, Ho, Wo, O].
// d<conv2d(x, weight), grad_y>/dx for an input of shape input_shape.
Tensor conv2d_backward_input(const Tensor& grad_y, const Tensor& weight, const Shape& input_shape,
                             const Conv2dParams& params = {});
// d<conv2d(input, w), grad_y>/dw for a weight of shape weight_shape.
Tensor conv2d_backward_weight(const Tensor& input, const Tensor& grad_y, const Shape& weight_shape,
                              const Conv2dParams& params = {});

}  // namespace engine
