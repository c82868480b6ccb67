// Sorting ops along one dim (negative dims count from the end) for f32/f64 tensors. Indices are
// i64 positions along that dim. NaN orders above every number. The values are differentiable:
// the gradient goes back to the positions the values came from.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace engine {

struct SortResult {
  Tensor values;   // x's dtype; shape of x (sort) or x with size k at dim (topk)
  Tensor indices;  // i64, same shape as values
};

// Stable sort: equal values keep their original order, ascending or descending.
SortResult sort(const Tensor& x, int64_t dim = -1, bool descending = false);

// The indices of sort(x, dim, descending).
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false);

// The k largest (largest = true) or smallest values along dim, 0 <= k <= size(dim). Equal values
// are taken lowest position first. sorted: best first; otherwise in ascending position order.
SortResult topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true,
                bool sorted = true);

}  // namespace engine
