// Reductions over any set of dims (negative dims count from the end; an empty list reduces all
// dims). f32 sums accumulate in double.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace engine {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Sums a broadcast result back to `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace engine
