// Dense matrix products on raw pointers. Matrices are row-major with a leading dimension (the
// element distance between consecutive rows); `trans_a` means A is stored as its transpose
// ([K, M] with leading dimension lda), likewise for B.
#pragma once

#include <cstdint>

namespace engine::cpu {

// C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C. T is float or double (BLAS sgemm /
// dgemm, threaded by OpenBLAS's OpenMP runtime: call it outside parallel regions for speed; inside
// one it runs on the calling thread). K == 0 scales C by beta.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace engine::cpu

namespace engine::cuda {
// cuBLAS (TF32 allowed by the global setting) with the same row-major contract as cpu::gemm.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
}  // namespace engine::cuda
