// CPU reductions. Accumulation is in double so that f32 sums over millions of pixels stay exact
// enough for gradients and statistics.
#include "engine/kernels/reduce.h"

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

template void sum_axis<float>(const float*, int64_t, int64_t, int64_t, float*);
template void sum_axis<double>(const double*, int64_t, int64_t, int64_t, double*);

}  // namespace engine::cpu
