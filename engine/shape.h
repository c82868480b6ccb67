// Shapes and strides (in elements, not bytes), and the helpers every op uses on them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace engine {

using Shape = std::vector<int64_t>;

// At most this many dimensions in a tensor; kernels take fixed-size layout structs.
inline constexpr int kMaxDims = 8;

int64_t numel(const Shape& shape);
// Row-major strides of a dense tensor of this shape.
Shape contiguous_strides(const Shape& shape);
// "[2, 3, 4]".
std::string shape_str(const Shape& shape);
// Wraps a possibly negative dim into [0, ndim); `op` names the caller in the error.
int wrap_dim(int64_t dim, int64_t ndim, const char* op);
// NumPy broadcasting of two shapes; `op` names the caller in the error.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace engine
