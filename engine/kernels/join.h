// Joining and padding kernels. They move element bits only, so one kernel serves every dtype:
// concat works on bytes, pad on unsigned integers of the element's size.
#pragma once

#include <cstdint>

#include "engine/shape.h"

namespace engine {

// A dense tensor of shape in_shape placed at offset `before` inside a dense tensor of shape
// out_shape (out_shape[d] >= before[d] + in_shape[d]); every other element is the pad value.
struct PadGeometry {
  int ndim = 0;
  int64_t in_shape[kMaxDims] = {};
  int64_t out_shape[kMaxDims] = {};
  int64_t before[kMaxDims] = {};
};

}  // namespace engine

namespace engine::cpu {
// Input i is dense and viewed as [outer, row_bytes[i]]; the output row o is the concatenation
// of the inputs' rows o (dst is [outer, sum of row_bytes]).
void concat_rows(const void* const* srcs, const int64_t* row_bytes, int count, int64_t outer,
                 void* dst);
// U is uint8_t, uint16_t, uint32_t or uint64_t: the bits of the element type.
template <typename U>
void pad_constant(const U* x, const PadGeometry& g, U value, U* out);
}  // namespace engine::cpu

namespace engine::cuda {
void concat_rows(const void* const* srcs, const int64_t* row_bytes, int count, int64_t outer,
                 void* dst, int device);
void pad_constant(const void* x, int elem_size, const PadGeometry& g, const void* value, void* out,
                  int device);
}  // namespace engine::cuda
