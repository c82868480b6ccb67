// CPU sorting: each line is copied to a per-thread buffer, ordered through an index permutation
// (so the source positions come out with the values) and written back.
#include "engine/kernels/sort.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace engine::cpu {

namespace {
constexpr int64_t kParallelWork = int64_t(1) << 14;

// Strict "a before b" for ascending order with NaN above everything.
template <typename T>
bool ascending_before(T a, T b) {
  if (std::isnan(a)) return false;
  return std::isnan(b) || a < b;
}
}  // namespace

template <typename T>
void sort(const T* x, int64_t outer, int64_t n, int64_t inner, bool descending, T* values,
          int64_t* indices) {
  const int64_t lines = outer * inner;
#pragma omp parallel if (lines * n > kParallelWork)
  {
    std::vector<T> buf(static_cast<size_t>(n));
    std::vector<int64_t> perm(static_cast<size_t>(n));
#pragma omp for schedule(static)
    for (int64_t l = 0; l < lines; ++l) {
      const int64_t base = (l / inner) * n * inner + l % inner;
      for (int64_t j = 0; j < n; ++j) buf[size_t(j)] = x[base + j * inner];
      std::iota(perm.begin(), perm.end(), int64_t(0));
      if (descending) {
        std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
          return ascending_before(buf[size_t(b)], buf[size_t(a)]);
        });
      } else {
        std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
          return ascending_before(buf[size_t(a)], buf[size_t(b)]);
        });
      }
      for (int64_t j = 0; j < n; ++j) {
        values[base + j * inner] = buf[size_t(perm[size_t(j)])];
        indices[base + j * inner] = perm[size_t(j)];
      }
    }
  }
}

template <typename T>
void topk(const T* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool largest, bool sorted,
          T* values, int64_t* indices) {
  const int64_t lines = outer * inner;
#pragma omp parallel if (lines * n > kParallelWork)
  {
    std::vector<T> buf(static_cast<size_t>(n));
    std::vector<int64_t> perm(static_cast<size_t>(n));
#pragma omp for schedule(static)
    for (int64_t l = 0; l < lines; ++l) {
      const int64_t in_base = (l / inner) * n * inner + l % inner;
      const int64_t out_base = (l / inner) * k * inner + l % inner;
      for (int64_t j = 0; j < n; ++j) buf[size_t(j)] = x[in_base + j * inner];
      std::iota(perm.begin(), perm.end(), int64_t(0));
      // A strict total order (ties broken by position) makes partial_sort's pick unique.
      auto better = [&](int64_t a, int64_t b) {
        const T va = buf[size_t(a)], vb = buf[size_t(b)];
        if (largest ? ascending_before(vb, va) : ascending_before(va, vb)) return true;
        if (largest ? ascending_before(va, vb) : ascending_before(vb, va)) return false;
        return a < b;
      };
      std::partial_sort(perm.begin(), perm.begin() + k, perm.end(), better);
      if (!sorted) std::sort(perm.begin(), perm.begin() + k);
      for (int64_t j = 0; j < k; ++j) {
        values[out_base + j * inner] = buf[size_t(perm[size_t(j)])];
        indices[out_base + j * inner] = perm[size_t(j)];
      }
    }
  }
}

template void sort<float>(const float*, int64_t, int64_t, int64_t, bool, float*, int64_t*);
template void sort<double>(const double*, int64_t, int64_t, int64_t, bool, double*, int64_t*);
template void topk<float>(const float*, int64_t, int64_t, int64_t, int64_t, bool, bool, float*,
                          int64_t*);
template void topk<double>(const double*, int64_t, int64_t, int64_t, int64_t, bool, bool, double*,
                           int64_t*);

}  // namespace engine::cpu
