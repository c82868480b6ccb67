#include "engine/kernels/linalg.h"

#include <cblas.h>

#include <algorithm>

namespace engine::cpu {

namespace {

template <typename T>
void scale_rows(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0)) {
      std::fill(row, row + n, T(0));
    } else {
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

}  // namespace

template <>
void gemm<float>(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  if (m == 0 || n == 0) return;
  // BLAS leaves beta == 0 outputs untouched-but-scaled when k == 0, which would keep NaNs from
  // uninitialised memory; zero them explicitly.
  if (k == 0) return scale_rows(m, n, beta, c, ldc);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), blasint(k), alpha, a,
              blasint(std::max<int64_t>(lda, 1)), b, blasint(std::max<int64_t>(ldb, 1)), beta, c,
              blasint(std::max<int64_t>(ldc, 1)));
}

template <>
void gemm<double>(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                  const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                  double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_rows(m, n, beta, c, ldc);
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), blasint(k), alpha, a,
              blasint(std::max<int64_t>(lda, 1)), b, blasint(std::max<int64_t>(ldb, 1)), beta, c,
              blasint(std::max<int64_t>(ldc, 1)));
}

}  // namespace engine::cpu
