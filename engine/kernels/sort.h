// Sorting kernels on a dense tensor viewed as [outer, n, inner], sorting each of the
// outer * inner lines of n elements (stride inner). NaN orders above every number (last when
// ascending, first when descending). Indices are positions along the sorted dim (int64).
#pragma once

#include <cstdint>

namespace engine::cpu {

// Stable: equal values keep their original order in both directions.
template <typename T>
void sort(const T* x, int64_t outer, int64_t n, int64_t inner, bool descending, T* values,
          int64_t* indices);

// The k largest (or smallest) of each line into [outer, k, inner]. Ties go to the lower index.
// sorted: best first; otherwise the k picks in ascending index order.
template <typename T>
void topk(const T* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool largest, bool sorted,
          T* values, int64_t* indices);

}  // namespace engine::cpu

// The CUDA contract (cuda/sort.cu, the CUDA backend issue).
namespace engine::cuda {
void sort(const float* x, int64_t outer, int64_t n, int64_t inner, bool descending, float* values,
          int64_t* indices);
void topk(const float* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool largest,
          bool sorted, float* values, int64_t* indices);
}  // namespace engine::cuda
