// Reduction kernels on a dense tensor viewed as [outer, reduced, inner]: the reduced dims form
// one block (the op moves them together first when they do not), and out is dense [outer, inner].
#pragma once

#include <cstddef>
#include <cstdint>

namespace engine::cpu {
// out[o, i] = sum_r x[o, r, i], accumulated in double.
template <typename T>
void sum_axis(const T* x, int64_t outer, int64_t reduced, int64_t inner, T* out);
// values[o, i] = max (or min) over r of x[o, r, i]; indices[o, i] = the first r reaching it.
// indices may be null when only the values are wanted. reduced >= 1.
template <typename T>
void arg_reduce_axis(const T* x, int64_t outer, int64_t reduced, int64_t inner, bool is_max,
                     T* values, int64_t* indices);
// out[o, i] = sum_r (x[o, r, i] - mean)^2 / (reduced - correction), two passes in double.
// correction is 1 (unbiased) or 0; reduced - correction must be > 0.
template <typename T>
void var_axis(const T* x, int64_t outer, int64_t reduced, int64_t inner, int64_t correction,
              T* out);
}  // namespace engine::cpu

namespace engine::cuda {
void sum_axis(const float* x, int64_t outer, int64_t reduced, int64_t inner, float* out);
void arg_reduce_axis(const float* x, int64_t outer, int64_t reduced, int64_t inner, bool is_max,
                     float* values, int64_t* indices);
void var_axis(const float* x, int64_t outer, int64_t reduced, int64_t inner, int64_t correction,
              float* out);
}  // namespace engine::cuda
