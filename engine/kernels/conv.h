// 2-D convolution kernels on raw pointers. Layouts: input and output NHWC ([N, H, W, C] dense),
// weight [O, KH, KW, C/groups] dense (cuDNN KRSC), bias [O].
#pragma once

#include <cstdint>

namespace engine {

// Everything a convolution kernel needs to know about the problem; filled by the op.
struct ConvGeometry {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input [N, H, W, C]
  int64_t o = 0, kh = 0, kw = 0;       // weight [O, KH, KW, C/groups]
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t groups = 1;
  int64_t ho = 0, wo = 0;  // output [N, Ho, Wo, O]
};

}  // namespace engine

namespace engine::cpu {

// y = conv(x, weight) + bias; bias may be null.
template <typename T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* weight, const T* bias, T* y);
// grad_x (overwritten) = d<y, grad_y>/dx.
template <typename T>
void conv2d_backward_input(const ConvGeometry& g, const T* grad_y, const T* weight, T* grad_x);
// grad_weight (overwritten) = d<y, grad_y>/dweight.
template <typename T>
void conv2d_backward_weight(const ConvGeometry& g, const T* x, const T* grad_y, T* grad_weight);

}  // namespace engine::cpu

namespace engine::cuda {
// cuDNN (NHWC / KRSC descriptors), same contracts as the CPU kernels.
void conv2d_forward(const ConvGeometry& g, const float* x, const float* weight, const float* bias,
                    float* y);
void conv2d_backward_input(const ConvGeometry& g, const float* grad_y, const float* weight,
                           float* grad_x);
void conv2d_backward_weight(const ConvGeometry& g, const float* x, const float* grad_y,
                            float* grad_weight);
}  // namespace engine::cuda
