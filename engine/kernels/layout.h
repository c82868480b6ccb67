// A tensor's geometry as kernels see it: fixed-size, trivially copyable (passes to CUDA kernels
// by value). Strides are in elements and may be 0 (broadcast) or arbitrary (views).
#pragma once

#include <cstdint>

#include "engine/hd.h"
#include "engine/shape.h"

namespace engine {

struct Layout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};

  // Offset (in elements) of the linear row-major index i.
  ENGINE_HD int64_t offset_of(int64_t i) const {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t s = shape[d];
      off += (i % s) * strides[d];
      i /= s;
    }
    return off;
  }
};

// Builds a Layout; drops nothing, so shape.size() must be <= kMaxDims (checked).
Layout make_layout(const Shape& shape, const Shape& strides);

}  // namespace engine
