// CPU softmax: one pass for the row maximum, one for exp and its sum, one to scale. Rows are
// independent, so threads split rows; each row's loops are contiguous and vectorize.
#include "engine/kernels/softmax.h"

#include <cmath>

namespace engine::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;
}  // namespace

template <typename T>
void softmax_rows(const T* x, int64_t rows, int64_t cols, bool log, T* out) {
#pragma omp parallel for if (rows * cols > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = out + r * cols;
    T m = xr[0];
#pragma omp simd reduction(max : m)
    for (int64_t c = 1; c < cols; ++c) m = xr[c] > m ? xr[c] : m;
    double s = 0;
    if (log) {
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < cols; ++c) s += double(exp_vec(xr[c] - m));
      T lse = m + T(std::log(s));
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] - lse;
    } else {
      // Store exp once and rescale, rather than exponentiating twice.
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < cols; ++c) {
        T e = exp_vec(xr[c] - m);
        yr[c] = e;
        s += double(e);
      }
      T inv = T(1.0 / s);
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) yr[c] *= inv;
    }
  }
}

template <typename T>
void softmax_backward_rows(const T* y, const T* g, int64_t rows, int64_t cols, bool log, T* dx) {
#pragma omp parallel for if (rows * cols > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* yr = y + r * cols;
    const T* gr = g + r * cols;
    T* dr = dx + r * cols;
    double s = 0;
    if (log) {
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < cols; ++c) s += double(gr[c]);
      T st = T(s);
      for (int64_t c = 0; c < cols; ++c) dr[c] = gr[c] - exp_vec(yr[c]) * st;
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < cols; ++c) s += double(gr[c]) * double(yr[c]);
      T st = T(s);
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) dr[c] = yr[c] * (gr[c] - st);
    }
  }
}

#define ENGINE_INSTANTIATE(T)                                          \
  template void softmax_rows<T>(const T*, int64_t, int64_t, bool, T*); \
  template void softmax_backward_rows<T>(const T*, const T*, int64_t, int64_t, bool, T*);
ENGINE_INSTANTIATE(float)
ENGINE_INSTANTIATE(double)
#undef ENGINE_INSTANTIATE

}  // namespace engine::cpu
