// CPU L2 normalization: per row, one pass for the squared norm and one to scale (forward), or
// two passes over x and g (backward). Threads split rows; the inner loops vectorize.
#include "engine/kernels/normalize.h"

#include <cmath>

namespace engine::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;
}  // namespace

template <typename T>
void l2_normalize_rows(const T* x, int64_t rows, int64_t cols, double eps, T* out) {
#pragma omp parallel for if (rows * cols > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = out + r * cols;
    double ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int64_t c = 0; c < cols; ++c) ss += double(xr[c]) * double(xr[c]);
    double n = std::sqrt(ss);
    T inv = T(1.0 / (n > eps ? n : eps));
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] * inv;
  }
}

template <typename T>
void l2_normalize_backward_rows(const T* x, const T* g, int64_t rows, int64_t cols, double eps,
                                T* dx) {
#pragma omp parallel for if (rows * cols > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T* gr = g + r * cols;
    T* dr = dx + r * cols;
    double ss = 0, gx = 0;
#pragma omp simd reduction(+ : ss, gx)
    for (int64_t c = 0; c < cols; ++c) {
      ss += double(xr[c]) * double(xr[c]);
      gx += double(gr[c]) * double(xr[c]);
    }
    double n = std::sqrt(ss);
    if (n > eps) {
      // (g - y (g . y)) / n with y = x / n, i.e. g / n - x (g . x) / n^3.
      T a = T(1.0 / n), b = T(gx / (n * n * n));
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) dr[c] = gr[c] * a - xr[c] * b;
    } else {
      T a = T(1.0 / eps);
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) dr[c] = gr[c] * a;
    }
  }
}

#define ENGINE_INSTANTIATE(T)                                                 \
  template void l2_normalize_rows<T>(const T*, int64_t, int64_t, double, T*); \
  template void l2_normalize_backward_rows<T>(const T*, const T*, int64_t, int64_t, double, T*);
ENGINE_INSTANTIATE(float)
ENGINE_INSTANTIATE(double)
#undef ENGINE_INSTANTIATE

}  // namespace engine::cpu
