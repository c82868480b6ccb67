// L2 normalization kernels over the last dim of a dense [rows, cols] matrix (the op moves
// another dim last first). Norms accumulate in double.
#pragma once

#include <cstdint>

namespace engine::cpu {
// out[r] = x[r] / max(||x[r]||, eps).
template <typename T>
void l2_normalize_rows(const T* x, int64_t rows, int64_t cols, double eps, T* out);
// Gradient from the input x and the output gradient g, with n = ||x[r]||:
//   n > eps:  dx = (g - y (g . y)) / n,  y = x / n   (the projection off the unit vector)
//   n <= eps: dx = g / eps                            (the clamped denominator is a constant)
template <typename T>
void l2_normalize_backward_rows(const T* x, const T* g, int64_t rows, int64_t cols, double eps,
                                T* dx);
}  // namespace engine::cpu

namespace engine::cuda {
void l2_normalize_rows(const float* x, int64_t rows, int64_t cols, double eps, float* out);
void l2_normalize_backward_rows(const float* x, const float* g, int64_t rows, int64_t cols,
                                double eps, float* dx);
}  // namespace engine::cuda
