// Reductions over any set of dims (negative dims count from the end; an empty list reduces all
// dims). Floating inputs (f32/f64) only; f32 sums and variances accumulate in double.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace engine {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Sums a broadcast result back to `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// The result of max/min along one dim: the extreme values (differentiable) and, as i64, the
// position along `dim` where each was found (the first one on ties).
struct ValuesIndices {
  Tensor values, indices;
};
// Extreme values along `dim`; the gradient flows only to the position in `indices`.
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
// i64 position of the first maximum (minimum) along `dim`; not differentiable.
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
// Extreme values over several dims (all when `dims` is empty). The gradient is split equally
// among the elements that tie for the extreme value, so it stays a valid subgradient.
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Largest (smallest) element of the whole tensor as a 0-dim tensor; amax/amin over all dims.
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
// Variance over `dims`: sum (x - mean)^2 / (n - 1) when unbiased, / n otherwise, where n is the
// number of reduced elements (n - 1 must be > 0 for the unbiased estimate).
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, bool unbiased = true,
           bool keepdim = false);

}  // namespace engine
