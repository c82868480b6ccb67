// Host memory: aligned allocation, strided copies with dtype conversion, fills.
#include <cstdlib>

#include "engine/error.h"
#include "engine/kernels/memory.h"

namespace engine {

Layout make_layout(const Shape& shape, const Shape& strides) {
  ENGINE_CHECK(shape.size() <= size_t(kMaxDims), "tensor of {} dims exceeds the maximum of {}",
               shape.size(), kMaxDims);
  Layout l;
  l.ndim = int(shape.size());
  for (int i = 0; i < l.ndim; ++i) {
    l.shape[i] = shape[i];
    l.strides[i] = strides[i];
  }
  return l;
}

namespace {
template <typename T>
double to_double(T v) {
  if constexpr (std::is_same_v<T, BF16>)
    return bf16_to_float(v);
  else if constexpr (std::is_same_v<T, F16>)
    return f16_to_float(v);
  else
    return double(v);
}
template <typename T>
T from_double(double v) {
  if constexpr (std::is_same_v<T, BF16>)
    return float_to_bf16(float(v));
  else if constexpr (std::is_same_v<T, F16>)
    return float_to_f16(float(v));
  else if constexpr (std::is_same_v<T, bool>)
    return v != 0.0;
  else
    return T(v);
}
// Direct conversion for the common same-type and float cases, through double otherwise.
template <typename S, typename D>
D convert(S v) {
  if constexpr (std::is_same_v<S, D>)
    return v;
  else
    return from_double<D>(to_double(v));
}
}  // namespace

namespace cpu {

void* alloc(size_t nbytes) {
  size_t rounded = (std::max<size_t>(nbytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  ENGINE_CHECK(p != nullptr, "out of host memory allocating {} bytes", nbytes);
  return p;
}

void free(void* p) {
  std::free(p);
}

void strided_copy(const void* src, DType src_dtype, const Layout& l, void* dst, DType dst_dtype) {
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d) n *= l.shape[d];
  dispatch_dtype(src_dtype, [&](auto s_tag) {
    using S = decltype(s_tag);
    dispatch_dtype(dst_dtype, [&](auto d_tag) {
      using D = decltype(d_tag);
      const S* s = static_cast<const S*>(src);
      D* o = static_cast<D*>(dst);
      if (l.ndim == 0) {
        o[0] = convert<S, D>(s[0]);
        return;
      }
      // Walk rows of the innermost dim with an odometer over the outer dims.
      int last = l.ndim - 1;
      int64_t inner = l.shape[last], istride = l.strides[last];
      int64_t rows = inner == 0 ? 0 : n / inner;
#pragma omp parallel for if (n > (1 << 16)) schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        int64_t off = l.offset_of(r * inner);
        D* orow = o + r * inner;
        if (istride == 1) {
          for (int64_t i = 0; i < inner; ++i) orow[i] = convert<S, D>(s[off + i]);
        } else {
          for (int64_t i = 0; i < inner; ++i) orow[i] = convert<S, D>(s[off + i * istride]);
        }
      }
    });
  });
}

void fill(void* dst, DType dtype, int64_t n, double value) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T v = from_double<T>(value);
    T* o = static_cast<T*>(dst);
    for (int64_t i = 0; i < n; ++i) o[i] = v;
  });
}

}  // namespace cpu
}  // namespace engine
