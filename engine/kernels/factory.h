// Random and range factories: the per-element values, written once for both backends, and the
// CUDA fill kernels. Values are computed in double (fused multiply-adds, so the host compiler's
// contraction choices cannot change them) and then converted to the tensor's dtype with
// convert_element, exactly as the CPU path converts its double draw.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/dtype.h"
#include "engine/hd.h"
#include "engine/kernels/philox.h"

namespace engine {

enum class FillKind : uint8_t { uniform, normal, integer, range };

// Value of element i of a draw at counter `base`, given (a, b):
//   uniform: a + (b - a) * U(0, 1]        normal: a + b * N(0, 1)
//   integer: a + (ceil(U * (b - a)) - 1)  in [a, b)
//   range:   a + i * b                    (arange: start, step; no random draw)
ENGINE_HD double fill_value_at(FillKind kind, uint64_t seed, uint64_t base, int64_t i, double a,
                               double b) {
  switch (kind) {
    case FillKind::uniform:
      return std::fma(b - a, double(philox_uniform(seed, base, i)), a);
    case FillKind::normal:
      return std::fma(b, double(philox_normal(seed, base, i)), a);
    case FillKind::integer: {
      double k = std::ceil(double(philox_uniform(seed, base, i)) * (b - a)) - 1.0;
      return a + (k > 0.0 ? k : 0.0);
    }
    case FillKind::range:
      return std::fma(double(i), b, a);
  }
  return 0.0;
}

}  // namespace engine

namespace engine::cuda {
// out[i] = convert_element<double, dtype>(fill_value_at(kind, seed, base, i, a, b)), i < n, on
// the current device.
void fill_values(FillKind kind, uint64_t seed, uint64_t base, double a, double b, void* out,
                 DType dtype, int64_t n);
}  // namespace engine::cuda
