// CPU reductions. Accumulation is in double so that f32 sums over millions of pixels stay exact
// enough for gradients and statistics (variance too: two passes, so no cancellation).
#include "engine/kernels/reduce.h"

#include <algorithm>
#include <vector>

namespace engine::cpu {

template <typename T>
void sum_axis(const T* x, int64_t outer, int64_t reduced, int64_t inner, T* out) {
  if (inner == 1) {
#pragma omp parallel for if (outer * reduced > (1 << 15)) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = x + o * reduced;
      double acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t r = 0; r < reduced; ++r) acc += double(row[r]);
      out[o] = T(acc);
    }
    return;
  }
  // Column sums: stream rows, accumulate a row of doubles (cache friendly for NHWC channel sums).
  for (int64_t o = 0; o < outer; ++o) {
    std::vector<double> acc(size_t(inner), 0.0);
    const T* base = x + o * reduced * inner;
#pragma omp parallel if (reduced * inner > (1 << 15))
    {
      std::vector<double> local(size_t(inner), 0.0);
#pragma omp for schedule(static) nowait
      for (int64_t r = 0; r < reduced; ++r) {
        const T* row = base + r * inner;
        for (int64_t i = 0; i < inner; ++i) local[size_t(i)] += double(row[i]);
      }
#pragma omp critical
      for (int64_t i = 0; i < inner; ++i) acc[size_t(i)] += local[size_t(i)];
    }
    for (int64_t i = 0; i < inner; ++i) out[o * inner + i] = T(acc[size_t(i)]);
  }
}

template <typename T>
void arg_reduce_axis(const T* x, int64_t outer, int64_t reduced, int64_t inner, bool is_max,
                     T* values, int64_t* indices) {
  // Strict comparisons keep the first index on ties.
  auto better = [is_max](T a, T b) { return is_max ? a > b : a < b; };
  bool big = outer * reduced * inner > (1 << 15);
  if (inner == 1) {
#pragma omp parallel for if (big) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = x + o * reduced;
      T best = row[0];
      int64_t arg = 0;
      for (int64_t r = 1; r < reduced; ++r) {
        if (better(row[r], best)) {
          best = row[r];
          arg = r;
        }
      }
      values[o] = best;
      if (indices) indices[o] = arg;
    }
    return;
  }
  // Rows of `inner` values are compared elementwise, so the inner loop streams memory. Threads
  // split the inner columns when there are few outer slices (NHWC: reducing N, H, W).
  int64_t chunk = 256;
  int64_t chunks = (inner + chunk - 1) / chunk;
#pragma omp parallel for collapse(2) if (big) schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t i0 = c * chunk, i1 = std::min(inner, i0 + chunk);
      const T* base = x + o * reduced * inner;
      T* vo = values + o * inner;
      int64_t* io = indices ? indices + o * inner : nullptr;
      for (int64_t i = i0; i < i1; ++i) vo[i] = base[i];
      if (io)
        for (int64_t i = i0; i < i1; ++i) io[i] = 0;
      for (int64_t r = 1; r < reduced; ++r) {
        const T* row = base + r * inner;
        for (int64_t i = i0; i < i1; ++i) {
          if (better(row[i], vo[i])) {
            vo[i] = row[i];
            if (io) io[i] = r;
          }
        }
      }
    }
  }
}

template <typename T>
void var_axis(const T* x, int64_t outer, int64_t reduced, int64_t inner, int64_t correction,
              T* out) {
  double denom = double(reduced - correction);
  bool big = outer * reduced * inner > (1 << 15);
  if (inner == 1) {
#pragma omp parallel for if (big) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = x + o * reduced;
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t r = 0; r < reduced; ++r) s += double(row[r]);
      double m = s / double(reduced), m2 = 0;
#pragma omp simd reduction(+ : m2)
      for (int64_t r = 0; r < reduced; ++r) {
        double d = double(row[r]) - m;
        m2 += d * d;
      }
      out[o] = T(m2 / denom);
    }
    return;
  }
  // Column statistics: each pass streams rows and accumulates `inner` doubles per thread.
  std::vector<double> mean(static_cast<size_t>(inner)), m2(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    const T* base = x + o * reduced * inner;
    std::fill(mean.begin(), mean.end(), 0.0);
    std::fill(m2.begin(), m2.end(), 0.0);
    for (int pass = 0; pass < 2; ++pass) {
      std::vector<double>& acc = pass == 0 ? mean : m2;
#pragma omp parallel if (big)
      {
        std::vector<double> local(size_t(inner), 0.0);
#pragma omp for schedule(static) nowait
        for (int64_t r = 0; r < reduced; ++r) {
          const T* row = base + r * inner;
          if (pass == 0) {
            for (int64_t i = 0; i < inner; ++i) local[size_t(i)] += double(row[i]);
          } else {
            for (int64_t i = 0; i < inner; ++i) {
              double d = double(row[i]) - mean[size_t(i)];
              local[size_t(i)] += d * d;
            }
          }
        }
#pragma omp critical
        for (int64_t i = 0; i < inner; ++i) acc[size_t(i)] += local[size_t(i)];
      }
      if (pass == 0)
        for (double& m : mean) m /= double(reduced);
    }
    for (int64_t i = 0; i < inner; ++i) out[o * inner + i] = T(m2[size_t(i)] / denom);
  }
}

#define ENGINE_INSTANTIATE(T)                                                                \
  template void sum_axis<T>(const T*, int64_t, int64_t, int64_t, T*);                        \
  template void arg_reduce_axis<T>(const T*, int64_t, int64_t, int64_t, bool, T*, int64_t*); \
  template void var_axis<T>(const T*, int64_t, int64_t, int64_t, int64_t, T*);
ENGINE_INSTANTIATE(float)
ENGINE_INSTANTIATE(double)
#undef ENGINE_INSTANTIATE

}  // namespace engine::cpu
