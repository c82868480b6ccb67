// CPU indexing kernels. Everything here is deterministic: no atomics, and every output element
// is accumulated by one thread in a fixed order.
#include "engine/kernels/index.h"

#include <algorithm>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace engine::cpu {

namespace {
// Below this many touched elements a parallel region costs more than it saves.
constexpr int64_t kParallelWork = int64_t(1) << 15;
}  // namespace

template <typename T, typename I>
void gather(const T* x, const LineGeometry& gx, const I* idx, const LineGeometry& gi, T* out,
            const LineGeometry& go, int64_t num_lines, int64_t n) {
#pragma omp parallel for if (num_lines * n > kParallelWork) schedule(static)
  for (int64_t l = 0; l < num_lines; ++l) {
    const T* xl = x + gx.lines.offset_of(l);
    const I* il = idx + gi.lines.offset_of(l);
    T* ol = out + go.lines.offset_of(l);
    for (int64_t j = 0; j < n; ++j)
      ol[j * go.dim_stride] = xl[int64_t(il[j * gi.dim_stride]) * gx.dim_stride];
  }
}

template <typename T, typename I>
void scatter_add(T* out, const LineGeometry& go, const I* idx, const LineGeometry& gi, const T* src,
                 const LineGeometry& gs, int64_t num_lines, int64_t n) {
#pragma omp parallel for if (num_lines * n > kParallelWork) schedule(static)
  for (int64_t l = 0; l < num_lines; ++l) {
    T* ol = out + go.lines.offset_of(l);
    const I* il = idx + gi.lines.offset_of(l);
    const T* sl = src + gs.lines.offset_of(l);
    for (int64_t j = 0; j < n; ++j)
      ol[int64_t(il[j * gi.dim_stride]) * go.dim_stride] += sl[j * gs.dim_stride];
  }
}

template <typename T, typename I>
void index_select(const T* x, int64_t outer, int64_t x_dim, int64_t inner, const I* idx, int64_t n,
                  T* out) {
  const int64_t rows = outer * n;
#pragma omp parallel for if (rows * inner > kParallelWork) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / n, j = r % n;
    const T* src = x + (o * x_dim + int64_t(idx[j])) * inner;
    std::copy(src, src + inner, out + r * inner);
  }
}

namespace {

// index_add by column blocks: each task owns `width` columns of one outer slice and scans all n
// source rows in order, adding into a [out_dim, width] double buffer that stays in cache.
// Streams src once, sequentially.
template <typename T, typename I>
void index_add_by_columns(T* out, int64_t outer, int64_t out_dim, int64_t inner, const I* idx,
                          int64_t n, const T* src, int64_t block) {
  const int64_t blocks = (inner + block - 1) / block;
  const int64_t tasks = outer * blocks;
#pragma omp parallel if (outer * n * inner > kParallelWork)
  {
    std::vector<double> acc(static_cast<size_t>(out_dim * block));
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t o = task / blocks, c0 = (task % blocks) * block;
      const int64_t width = std::min(block, inner - c0);
      std::fill(acc.begin(), acc.end(), 0.0);
      const T* base = src + o * n * inner + c0;
      if (width == block) {
        for (int64_t j = 0; j < n; ++j) {
          const T* row = base + j * inner;
          double* a = acc.data() + int64_t(idx[j]) * block;
#pragma omp simd
          for (int64_t c = 0; c < block; ++c) a[c] += double(row[c]);
        }
      } else {
        for (int64_t j = 0; j < n; ++j) {
          const T* row = base + j * inner;
          double* a = acc.data() + int64_t(idx[j]) * block;
          for (int64_t c = 0; c < width; ++c) a[c] += double(row[c]);
        }
      }
      for (int64_t t = 0; t < out_dim; ++t) {
        T* dst = out + (o * out_dim + t) * inner + c0;
        const double* a = acc.data() + t * block;
        for (int64_t c = 0; c < width; ++c) dst[c] = T(double(dst[c]) + a[c]);
      }
    }
  }
}

// index_add by target rows: a stable counting sort buckets the source rows by target, then each
// target row sums its sources (ascending j) with a double accumulator. Parallel over targets, so
// it scales with any thread count and any out_dim, at the price of reading src rows out of order.
template <typename T, typename I>
void index_add_by_targets(T* out, int64_t outer, int64_t out_dim, int64_t inner, const I* idx,
                          int64_t n, const T* src) {
  // start[t]..start[t+1] lists, ascending, the j with idx[j] == t; shared by all outer slices.
  std::vector<int64_t> start(size_t(out_dim) + 1, 0);
  for (int64_t j = 0; j < n; ++j) ++start[size_t(idx[j]) + 1];
  for (int64_t t = 0; t < out_dim; ++t) start[size_t(t) + 1] += start[size_t(t)];
  std::vector<int64_t> order(static_cast<size_t>(n));
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t j = 0; j < n; ++j) order[size_t(fill[size_t(idx[j])]++)] = j;
  }
  const int64_t tasks = outer * out_dim;
#pragma omp parallel if (outer * n * inner > kParallelWork)
  {
    std::vector<double> acc(static_cast<size_t>(inner));
    // Segment sizes vary a lot (a background segment can hold half the image): dynamic chunks.
#pragma omp for schedule(dynamic, 8)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t o = task / out_dim, t = task % out_dim;
      const int64_t b = start[size_t(t)], e = start[size_t(t) + 1];
      if (b == e) continue;
      double* a = acc.data();
      std::fill(a, a + inner, 0.0);
      const T* base = src + o * n * inner;
      for (int64_t k = b; k < e; ++k) {
        const T* row = base + order[size_t(k)] * inner;
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) a[i] += double(row[i]);
      }
      T* dst = out + (o * out_dim + t) * inner;
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) dst[i] = T(double(dst[i]) + a[i]);
    }
  }
}

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace

template <typename T, typename I>
void index_add(T* out, int64_t outer, int64_t out_dim, int64_t inner, const I* idx, int64_t n,
               const T* src) {
  if (n == 0 || inner == 0 || outer == 0) return;
  // Both strategies add every output element's sources in ascending j into a double starting
  // at 0, then add that to out: bitwise the same result, so choosing by thread count is safe.
  // Column blocks of one cache line of T; their accumulator must stay cache-sized (<= 1 MiB).
  const int64_t block = 64 / int64_t(sizeof(T));
  const int64_t blocks = (inner + block - 1) / block;
  const bool fits = out_dim * block * int64_t(sizeof(double)) <= (int64_t(1) << 20);
  if (fits && outer * blocks >= max_threads())
    index_add_by_columns(out, outer, out_dim, inner, idx, n, src, block);
  else
    index_add_by_targets(out, outer, out_dim, inner, idx, n, src);
}

template <typename T, typename L>
void one_hot(const L* labels, int64_t n, int64_t num_classes, bool has_ignore, int64_t ignore_index,
             T* out) {
#pragma omp parallel for if (n * num_classes > kParallelWork) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T* row = out + i * num_classes;
    std::fill(row, row + num_classes, T(0));
    const int64_t v = int64_t(labels[i]);
    if (v >= 0 && v < num_classes && !(has_ignore && v == ignore_index)) row[v] = T(1);
  }
}

#define ENGINE_INDEX_INSTANTIATE(T, I)                                                          \
  template void gather<T, I>(const T*, const LineGeometry&, const I*, const LineGeometry&, T*,  \
                             const LineGeometry&, int64_t, int64_t);                            \
  template void scatter_add<T, I>(T*, const LineGeometry&, const I*, const LineGeometry&,       \
                                  const T*, const LineGeometry&, int64_t, int64_t);             \
  template void index_select<T, I>(const T*, int64_t, int64_t, int64_t, const I*, int64_t, T*); \
  template void index_add<T, I>(T*, int64_t, int64_t, int64_t, const I*, int64_t, const T*);
ENGINE_INDEX_INSTANTIATE(float, int32_t)
ENGINE_INDEX_INSTANTIATE(float, int64_t)
ENGINE_INDEX_INSTANTIATE(double, int32_t)
ENGINE_INDEX_INSTANTIATE(double, int64_t)
#undef ENGINE_INDEX_INSTANTIATE

template void one_hot<float, uint8_t>(const uint8_t*, int64_t, int64_t, bool, int64_t, float*);
template void one_hot<float, int32_t>(const int32_t*, int64_t, int64_t, bool, int64_t, float*);
template void one_hot<float, int64_t>(const int64_t*, int64_t, int64_t, bool, int64_t, float*);
template void one_hot<double, uint8_t>(const uint8_t*, int64_t, int64_t, bool, int64_t, double*);
template void one_hot<double, int32_t>(const int32_t*, int64_t, int64_t, bool, int64_t, double*);
template void one_hot<double, int64_t>(const int64_t*, int64_t, int64_t, bool, int64_t, double*);

}  // namespace engine::cpu
