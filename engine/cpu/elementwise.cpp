// CPU elementwise loops. The contiguous case is a flat loop the compiler vectorizes; other
// layouts walk rows of the innermost dimension.
#include "engine/kernels/elementwise.h"

#include <tuple>

namespace engine::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;
}  // namespace

namespace {

bool dense(const Layout& l) {
  int64_t expect = 1;
  for (int d = l.ndim - 1; d >= 0; --d) {
    if (l.shape[d] != 1 && l.strides[d] != expect) return false;
    expect *= l.shape[d];
  }
  return true;
}

// Calls f(i, offset) for i in [0, n) with offset = l.offset_of(i), cheaply.
template <typename F>
void for_each_offset(const Layout& l, int64_t n, F&& f) {
  if (dense(l)) {
#pragma omp parallel for if (n > kParallelMin) schedule(static)
    for (int64_t i = 0; i < n; ++i) f(i, i);
    return;
  }
  int last = l.ndim - 1;
  int64_t inner = last >= 0 ? l.shape[last] : 1;
  int64_t stride = last >= 0 ? l.strides[last] : 0;
  int64_t rows = inner == 0 ? 0 : n / inner;
#pragma omp parallel for if (n > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t base = l.offset_of(r * inner);
    for (int64_t j = 0; j < inner; ++j) f(r * inner + j, base + j * stride);
  }
}
}  // namespace

// Calls f(out_index, offsets...) over rows of the innermost dim: one offset_of per row and
// operand, then strided steps (the per-element index arithmetic would dominate otherwise).
template <typename F, typename... L>
void for_each_row(int64_t n, F&& f, const L&... ls) {
  const Layout& first = std::get<0>(std::tie(ls...));
  int last = first.ndim - 1;
  int64_t inner = last >= 0 ? first.shape[last] : 1;
  int64_t rows = inner == 0 ? 0 : n / inner;
#pragma omp parallel for if (n > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t i0 = r * inner;
    f(i0, inner, ls.offset_of(i0)..., (last >= 0 ? ls.strides[last] : 0)...);
  }
}

template <typename T>
void unary(UnaryOp op, const T* x, const Layout& lx, T* out, int64_t n) {
  if (dense(lx)) {
    switch (op) {  // hoist the switch out of the loop for the common ops
      case UnaryOp::relu:
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
        for (int64_t i = 0; i < n; ++i) out[i] = x[i] > T(0) ? x[i] : T(0);
        return;
      default:
#pragma omp parallel for if (n > kParallelMin) schedule(static)
        for (int64_t i = 0; i < n; ++i) out[i] = apply_unary(op, x[i]);
        return;
    }
  }
  for_each_offset(lx, n, [&](int64_t i, int64_t o) { out[i] = apply_unary(op, x[o]); });
}

template <typename T>
void binary(BinaryOp op, const T* a, const Layout& la, const T* b, const Layout& lb, T* out,
            int64_t n) {
  if (dense(la) && dense(lb)) {
    switch (op) {
      case BinaryOp::add:
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
        for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
        return;
      case BinaryOp::mul:
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
        for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
        return;
      default:
#pragma omp parallel for if (n > kParallelMin) schedule(static)
        for (int64_t i = 0; i < n; ++i) out[i] = apply_binary(op, a[i], b[i]);
        return;
    }
  }
  // Offsets of b are computed per row too; both walks share the row index.
  int last = la.ndim - 1;
  int64_t inner = last >= 0 ? la.shape[last] : 1;
  int64_t sa = last >= 0 ? la.strides[last] : 0, sb = last >= 0 ? lb.strides[last] : 0;
  int64_t rows = inner == 0 ? 0 : n / inner;
#pragma omp parallel for if (n > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* pa = a + la.offset_of(r * inner);
    const T* pb = b + lb.offset_of(r * inner);
    T* po = out + r * inner;
    for (int64_t j = 0; j < inner; ++j) po[j] = apply_binary(op, pa[j * sa], pb[j * sb]);
  }
}

template <typename T>
void clamp(const T* x, const Layout& lx, T lo, T hi, T* out, int64_t n) {
  for_each_offset(lx, n, [&](int64_t i, int64_t o) { out[i] = clamp_value(x[o], lo, hi); });
}

template <typename T>
void where(const uint8_t* cond, const Layout& lc, const T* a, const Layout& la, const T* b,
           const Layout& lb, T* out, int64_t n) {
  for_each_row(
      n,
      [&](int64_t i0, int64_t inner, int64_t oc, int64_t oa, int64_t ob, int64_t sc, int64_t sa,
          int64_t sb) {
        for (int64_t j = 0; j < inner; ++j)
          out[i0 + j] = cond[oc + j * sc] ? a[oa + j * sa] : b[ob + j * sb];
      },
      lc, la, lb);
}

#define ENGINE_INSTANTIATE(T)                                                              \
  template void unary<T>(UnaryOp, const T*, const Layout&, T*, int64_t);                   \
  template void binary<T>(BinaryOp, const T*, const Layout&, const T*, const Layout&, T*,  \
                          int64_t);                                                        \
  template void clamp<T>(const T*, const Layout&, T, T, T*, int64_t);                      \
  template void where<T>(const uint8_t*, const Layout&, const T*, const Layout&, const T*, \
                         const Layout&, T*, int64_t);
ENGINE_INSTANTIATE(float)
ENGINE_INSTANTIATE(double)
#undef ENGINE_INSTANTIATE

}  // namespace engine::cpu

namespace engine::cpu {
template <typename T>
void compare(CompareOp op, const T* a, const Layout& la, const T* b, const Layout& lb, bool* out,
             int64_t n) {
  for_each_row(
      n,
      [&](int64_t i0, int64_t inner, int64_t oa, int64_t ob, int64_t sa, int64_t sb) {
        for (int64_t j = 0; j < inner; ++j)
          out[i0 + j] = apply_compare(op, a[oa + j * sa], b[ob + j * sb]);
      },
      la, lb);
}
template void compare<float>(CompareOp, const float*, const Layout&, const float*, const Layout&,
                             bool*, int64_t);
template void compare<double>(CompareOp, const double*, const Layout&, const double*, const Layout&,
                              bool*, int64_t);
template void compare<int32_t>(CompareOp, const int32_t*, const Layout&, const int32_t*,
                               const Layout&, bool*, int64_t);
template void compare<int64_t>(CompareOp, const int64_t*, const Layout&, const int64_t*,
                               const Layout&, bool*, int64_t);
template void compare<uint8_t>(CompareOp, const uint8_t*, const Layout&, const uint8_t*,
                               const Layout&, bool*, int64_t);
template void compare<bool>(CompareOp, const bool*, const Layout&, const bool*, const Layout&,
                            bool*, int64_t);
}  // namespace engine::cpu
