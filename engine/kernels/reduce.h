// Reduction kernels on a dense tensor viewed as [outer, reduced, inner]:
// out[o, i] = sum_r x[o, r, i].
#pragma once

#include <cstddef>
#include <cstdint>

namespace engine::cpu {
template <typename T>
void sum_axis(const T* x, int64_t outer, int64_t reduced, int64_t inner, T* out);
}  // namespace engine::cpu

namespace engine::cuda {
void sum_axis(const float* x, int64_t outer, int64_t reduced, int64_t inner, float* out);
}  // namespace engine::cuda
