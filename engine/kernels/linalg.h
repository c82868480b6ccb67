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
// cuBLAS with the same row-major contract as cpu::gemm, on the current device's compute stream.
// TF32 tensor cores when math_flags().allow_tf32 (the default), strict FP32 otherwise. Sizes and
// leading dimensions must fit in 32-bit ints (checked).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// `batch` independent products C_i = alpha * op(A_i) * op(B_i) + beta * C_i with A_i = a + i *
// stride_a (element strides; 0 shares one matrix across the batch), likewise B_i and C_i.
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                          const float* a, int64_t lda, int64_t stride_a, const float* b,
                          int64_t ldb, int64_t stride_b, float beta, float* c, int64_t ldc,
                          int64_t stride_c, int64_t batch);
}  // namespace engine::cuda
