// CPU batch-norm kernels. Rows are split into at most kChunks chunks; each chunk reduces into a
// private slice of a [kChunks, C] double buffer, then slices are summed in order. The shift by
// the first row keeps the one-pass variance accurate when |mean| >> std.
#include "engine/kernels/batch_norm.h"

#include <algorithm>
#include <vector>

namespace engine::cpu {

namespace {
constexpr int64_t kChunks = 64;
constexpr int64_t kParallelMin = 1 << 15;

struct Chunking {
  int64_t count, size;
};

Chunking chunk_rows(int64_t rows) {
  int64_t count = std::max<int64_t>(1, std::min<int64_t>(kChunks, rows / 16));
  return {count, (rows + count - 1) / count};
}
}  // namespace

template <typename T>
void batch_norm_stats(const T* x, int64_t rows, int64_t channels, double* mean, double* var) {
  const int64_t C = channels;
  if (rows == 0) {
    std::fill(mean, mean + C, 0.0);
    std::fill(var, var + C, 0.0);
    return;
  }
  std::vector<double> shift(size_t(C), 0.0);
  for (int64_t c = 0; c < C; ++c) shift[size_t(c)] = double(x[c]);
  Chunking ch = chunk_rows(rows);
  std::vector<double> s1(size_t(ch.count * C), 0.0), s2(size_t(ch.count * C), 0.0);
  const double* k = shift.data();
#pragma omp parallel for if (rows * C > kParallelMin) schedule(static)
  for (int64_t b = 0; b < ch.count; ++b) {
    double* a1 = s1.data() + b * C;
    double* a2 = s2.data() + b * C;
    int64_t end = std::min(rows, (b + 1) * ch.size);
    for (int64_t r = b * ch.size; r < end; ++r) {
      const T* xr = x + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        double d = double(xr[c]) - k[c];
        a1[c] += d;
        a2[c] += d * d;
      }
    }
  }
  const double inv_n = 1.0 / double(rows);
  for (int64_t c = 0; c < C; ++c) {
    double t1 = 0.0, t2 = 0.0;
    for (int64_t b = 0; b < ch.count; ++b) {
      t1 += s1[size_t(b * C + c)];
      t2 += s2[size_t(b * C + c)];
    }
    double m = t1 * inv_n;
    mean[c] = k[c] + m;
    var[c] = std::max(0.0, t2 * inv_n - m * m);
  }
}

template <typename T>
void batch_norm_affine(const T* x, const T* residual, int64_t rows, int64_t channels,
                       const double* scale, const double* shift, bool relu, T* out) {
  const int64_t C = channels;
  std::vector<T> sc(static_cast<size_t>(C)), sh(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    sc[size_t(c)] = T(scale[c]);
    sh[size_t(c)] = T(shift[c]);
  }
  const T* a = sc.data();
  const T* b = sh.data();
#pragma omp parallel for if (rows * C > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * C;
    T* orow = out + r * C;
    // One loop per variant keeps each inner loop branch-free for vectorization.
    if (residual == nullptr && !relu) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) orow[c] = xr[c] * a[c] + b[c];
    } else if (residual == nullptr) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) orow[c] = std::max(T(0), xr[c] * a[c] + b[c]);
    } else {
      const T* rr = residual + r * C;
      if (relu) {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) orow[c] = std::max(T(0), xr[c] * a[c] + b[c] + rr[c]);
      } else {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) orow[c] = xr[c] * a[c] + b[c] + rr[c];
      }
    }
  }
}

template <typename T>
void batch_norm_backward_reduce(const T* dy, const T* y, const T* x, int64_t rows, int64_t channels,
                                const double* center, double* sum_dy, double* sum_dy_xc) {
  const int64_t C = channels;
  Chunking ch = chunk_rows(std::max<int64_t>(rows, 1));
  std::vector<double> s1(size_t(ch.count * C), 0.0), s2(size_t(ch.count * C), 0.0);
#pragma omp parallel for if (rows * C > kParallelMin) schedule(static)
  for (int64_t b = 0; b < ch.count; ++b) {
    double* a1 = s1.data() + b * C;
    double* a2 = s2.data() + b * C;
    int64_t end = std::min(rows, (b + 1) * ch.size);
    for (int64_t r = b * ch.size; r < end; ++r) {
      const T* xr = x + r * C;
      const T* gr = dy + r * C;
      const T* yr = y == nullptr ? nullptr : y + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        double g = yr == nullptr || yr[c] > T(0) ? double(gr[c]) : 0.0;
        a1[c] += g;
        a2[c] += g * (double(xr[c]) - center[c]);
      }
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    double t1 = 0.0, t2 = 0.0;
    for (int64_t b = 0; b < ch.count; ++b) {
      t1 += s1[size_t(b * C + c)];
      t2 += s2[size_t(b * C + c)];
    }
    sum_dy[c] = t1;
    sum_dy_xc[c] = t2;
  }
}

template <typename T>
void batch_norm_backward_apply(const T* dy, const T* y, const T* x, int64_t rows, int64_t channels,
                               const double* a, const double* b, const double* k, T* dx, T* dres) {
  const int64_t C = channels;
  std::vector<T> va(static_cast<size_t>(C)), vb(static_cast<size_t>(C)), vk(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    va[size_t(c)] = T(a[c]);
    vb[size_t(c)] = T(b[c]);
    vk[size_t(c)] = T(k[c]);
  }
  const T* pa = va.data();
  const T* pb = vb.data();
  const T* pk = vk.data();
#pragma omp parallel for if (rows * C > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* gr = dy + r * C;
    const T* xr = x + r * C;
    if (y == nullptr) {
      if (dx != nullptr) {
        T* o = dx + r * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) o[c] = gr[c] * pa[c] + xr[c] * pb[c] + pk[c];
      }
      if (dres != nullptr) std::copy(gr, gr + C, dres + r * C);
      continue;
    }
    const T* yr = y + r * C;
    if (dx != nullptr) {
      T* o = dx + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        T g = yr[c] > T(0) ? gr[c] : T(0);
        o[c] = g * pa[c] + xr[c] * pb[c] + pk[c];
      }
    }
    if (dres != nullptr) {
      T* o = dres + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) o[c] = yr[c] > T(0) ? gr[c] : T(0);
    }
  }
}

#define ENGINE_INSTANTIATE(T)                                                                 \
  template void batch_norm_stats<T>(const T*, int64_t, int64_t, double*, double*);            \
  template void batch_norm_affine<T>(const T*, const T*, int64_t, int64_t, const double*,     \
                                     const double*, bool, T*);                                \
  template void batch_norm_backward_reduce<T>(const T*, const T*, const T*, int64_t, int64_t, \
                                              const double*, double*, double*);               \
  template void batch_norm_backward_apply<T>(const T*, const T*, const T*, int64_t, int64_t,  \
                                             const double*, const double*, const double*, T*, T*);
ENGINE_INSTANTIATE(float)
ENGINE_INSTANTIATE(double)
#undef ENGINE_INSTANTIATE

}  // namespace engine::cpu
