// CPU concat and constant padding: row copies with memcpy; padded rows are filled in place so
// every output byte is written exactly once.
#include <algorithm>
#include <cstring>

#include "engine/kernels/join.h"

namespace engine::cpu {

namespace {
constexpr int64_t kParallelMinBytes = 1 << 20;
}  // namespace

void concat_rows(const void* const* srcs, const int64_t* row_bytes, int count, int64_t outer,
                 void* dst) {
  int64_t total = 0;
  for (int i = 0; i < count; ++i) total += row_bytes[i];
  char* out = static_cast<char*>(dst);
  const bool par = outer > 1 && outer * total > kParallelMinBytes;
#pragma omp parallel for if (par) schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    char* d = out + o * total;
    for (int i = 0; i < count; ++i) {
      const int64_t b = row_bytes[i];
      if (b > 0) std::memcpy(d, static_cast<const char*>(srcs[i]) + o * b, size_t(b));
      d += b;
    }
  }
}

template <typename U>
void pad_constant(const U* x, const PadGeometry& g, U value, U* out) {
  const int last = g.ndim - 1;
  const int64_t out_inner = g.out_shape[last], in_inner = g.in_shape[last];
  const int64_t lead = g.before[last], trail = out_inner - lead - in_inner;
  int64_t rows = 1;
  for (int d = 0; d < last; ++d) rows *= g.out_shape[d];
  const bool par = rows * out_inner * int64_t(sizeof(U)) > kParallelMinBytes;
#pragma omp parallel for if (par) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    U* o = out + r * out_inner;
    // Decompose the output row index; the matching input row exists when every index is inside.
    int64_t rem = r, in_row = 0, in_stride = 1;
    bool inside = true;
    for (int d = last - 1; d >= 0; --d) {
      const int64_t i = rem % g.out_shape[d] - g.before[d];
      rem /= g.out_shape[d];
      if (i < 0 || i >= g.in_shape[d]) {
        inside = false;
        break;
      }
      in_row += i * in_stride;
      in_stride *= g.in_shape[d];
    }
    if (!inside) {
      std::fill(o, o + out_inner, value);
      continue;
    }
    std::fill(o, o + lead, value);
    if (in_inner > 0) std::memcpy(o + lead, x + in_row * in_inner, size_t(in_inner) * sizeof(U));
    std::fill(o + lead + in_inner, o + lead + in_inner + trail, value);
  }
}

template void pad_constant<uint8_t>(const uint8_t*, const PadGeometry&, uint8_t, uint8_t*);
template void pad_constant<uint16_t>(const uint16_t*, const PadGeometry&, uint16_t, uint16_t*);
template void pad_constant<uint32_t>(const uint32_t*, const PadGeometry&, uint32_t, uint32_t*);
template void pad_constant<uint64_t>(const uint64_t*, const PadGeometry&, uint64_t, uint64_t*);

}  // namespace engine::cpu
