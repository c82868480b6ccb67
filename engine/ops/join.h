// Joining, splitting and padding tensors of any dtype along any dim (negative dims count from
// the end). Differentiable for f32/f64 inputs. For NHWC activations the channel dim is 3 (or -1).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace engine {

// Joins `tensors` along `dim`. All must share dtype, device and number of dims, and match in
// every dim except `dim` (errors name the offending tensor's index and both shapes). Returns a
// new dense tensor; the gradient of each input is its slice of the output gradient.
Tensor concat(const std::vector<Tensor>& tensors, int64_t dim);

// Joins equal-shaped tensors along a new dim inserted at `dim` (0 <= dim <= ndim, or negative
// counting from ndim + 1).
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);

// Views of consecutive pieces of x along `dim` with the given sizes (they must sum to the size
// of dim). The views share x's storage and are differentiable.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);

// PyTorch's chunk: pieces of ceil(size / n) along `dim`, the last one smaller; fewer than n
// pieces when the size does not fill them (size 7, n 4 -> 2, 2, 2, 1; size 5, n 4 -> 2, 2, 1).
std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t dim);

// Constant padding. pads[d] = {before, after} elements added to dim d, starting at dim 0;
// dims past pads.size() are not padded (NHWC H and W: {{0, 0}, {1, 1}, {2, 2}}). A negative
// amount crops that many elements from that side. `value` fills the new elements (for integer
// dtypes it must be an integer). The gradient is the matching slice of the output gradient.
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads,
           double value = 0.0);

}  // namespace engine
