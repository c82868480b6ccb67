// Softmax kernels over the last dim of a dense [rows, C] matrix (the op moves another dim last
// first). Numerically stable: each row subtracts its maximum before exponentiating, and sums
// accumulate in double.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace engine::cpu {
// exp for the CPU softmax-like kernels: libm's scalar expf is a function call the compiler
// cannot vectorize (errno), so f32 uses an inline Cody-Waite reduction x = k ln2 + r with a
// degree-6 polynomial for exp(r) and 2^k from the exponent bits: relative error below 3e-7 on
// [-87, 88]; inputs below -87.3 give 0 (no denormals; exp(-87.3) ~ 1e-38 is nothing next to a
// row maximum's exp(0) = 1). f64 keeps std::exp, which the gradient checks rely on.
inline float exp_vec(float in) {
  float x = in < -87.3f ? -87.3f : (in > 88.3f ? 88.3f : in);
  float k = std::floor(x * 1.44269504f + 0.5f);
  float r = x - k * 0.693359375f + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (int32_t(k) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return in < -87.3f ? 0.0f : p * scale;
}
inline double exp_vec(double x) {
  return std::exp(x);
}

// out = softmax(x) (log_softmax when `log`) along each row.
template <typename T>
void softmax_rows(const T* x, int64_t rows, int64_t cols, bool log, T* out);
// Gradient from the saved output y and the output gradient g:
//   softmax:      dx = y * (g - sum_c g*y)
//   log_softmax:  dx = g - exp(y) * sum_c g
template <typename T>
void softmax_backward_rows(const T* y, const T* g, int64_t rows, int64_t cols, bool log, T* dx);
}  // namespace engine::cpu

namespace engine::cuda {
void softmax_rows(const float* x, int64_t rows, int64_t cols, bool log, float* out);
void softmax_backward_rows(const float* y, const float* g, int64_t rows, int64_t cols, bool log,
                           float* dx);
}  // namespace engine::cuda
