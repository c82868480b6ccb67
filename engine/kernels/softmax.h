// Softmax kernels over the last dim of a dense [rows, C] matrix (the op moves another dim last
// first). Numerically stable: each row subtracts its maximum before exponentiating, and sums
// accumulate in double.
#pragma once

#include <cstdint>

namespace engine::cpu {
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
