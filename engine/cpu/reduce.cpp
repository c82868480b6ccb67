// CPU reductions. Accumulation is in double so that f32 sums over millions of pixels stay exact
// enough for gradients and statistics (variance too: two passes, so no cancellation).
#include "engine/kernels/reduce.h"

#include <algorithm>
#include <vector>

namespace engine::cpu {

namespace {
// acc[i] = sum over rows r of what row(r, p) adds into p[i]. Rows are split into a number of
// blocks that depends only on the sizes; blocks run in parallel and are merged in order, so the
// result is the same for any thread count (run-to-run determinism).
template <typename RowFn>
void column_accumulate(int64_t reduced, int64_t inner, bool parallel, std::vector<double>& acc,
                       RowFn&& row) {
  int64_t blocks = parallel ? std::min<int64_t>(reduced, 64) : 1;
  std::vector<double> part(static_cast<size_t>(blocks * inner), 0.0);
#pragma omp parallel for if (parallel) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t r0 = reduced * b / blocks, r1 = reduced * (b + 1) / blocks;
    double* p = part.data() + b * inner;
    for (int64_t r = r0; r < r1; ++r) row(r, p);
  }
  std::fill(acc.begin(), acc.end(), 0.0);
  for (int64_t b = 0; b < blocks; ++b) {
    const double* p = part.data() + b * inner;
    for (int64_t i = 0; i < inner; ++i) acc[size_t(i)] += p[i];
  }
}
}  // namespace

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
  std::vector<double> acc(static_cast<size_t>(inner));
  bool big = reduced * inner > (1 << 15);
  for (int64_t o = 0; o < outer; ++o) {
    const T* base = x + o * reduced * inner;
    column_accumulate(reduced, inner, big, acc, [&](int64_t r, double* p) {
      const T* row = base + r * inner;
      for (int64_t i = 0; i < inner; ++i) p[i] += double(row[i]);
    });
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
  // Column statistics: one pass for the means, one for the squared deviations.
  std::vector<double> mean(static_cast<size_t>(inner)), m2(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    const T* base = x + o * reduced * inner;
    column_accumulate(reduced, inner, big, mean, [&](int64_t r, double* p) {
      const T* row = base + r * inner;
      for (int64_t i = 0; i < inner; ++i) p[i] += double(row[i]);
    });
    for (double& m : mean) m /= double(reduced);
    const double* mp = mean.data();
    column_accumulate(reduced, inner, big, m2, [&](int64_t r, double* p) {
      const T* row = base + r * inner;
      for (int64_t i = 0; i < inner; ++i) {
        double d = double(row[i]) - mp[i];
        p[i] += d * d;
      }
    });
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
