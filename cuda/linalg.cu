// cuBLAS GEMMs for engine/kernels/linalg.h. cuBLAS is column-major: a row-major C[M, N] is the
// column-major C^T[N, M] = op(B)^T * op(A)^T, so the operands are passed swapped (B first) with
// their transpose flags, and no data moves.
#include <limits>

#include "cuda/handles.h"
#include "cuda/runtime.h"
#include "engine/kernels/linalg.h"

namespace engine::cuda {

namespace {

int to_int(int64_t v, const char* what) {
  ENGINE_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(),
               "CUDA gemm: {} = {} does not fit cuBLAS's 32-bit int", what, v);
  return int(v);
}

cublasComputeType_t compute_type() {
  return math_flags().allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_strided_batched(trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                          const float* a, int64_t lda, int64_t stride_a, const float* b,
                          int64_t ldb, int64_t stride_b, float beta, float* c, int64_t ldc,
                          int64_t stride_c, int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  if (k == 0 && beta == 0.f) {
    // Nothing to sum: C = 0, as cpu::gemm writes it. Not left to cuBLAS, which still validates
    // lda/ldb (0 for an empty [M, 0] operand read with lda = K) before scaling C by beta.
    for (int64_t i = 0; i < batch; ++i)
      CUDA_CHECK(cudaMemset2DAsync(c + i * stride_c, size_t(ldc) * sizeof(float), 0,
                                   size_t(n) * sizeof(float), size_t(m), current_stream()));
    return;
  }
  const int im = to_int(m, "m"), in = to_int(n, "n"), ik = to_int(k, "k");
  const int ilda = to_int(lda, "lda"), ildb = to_int(ldb, "ldb"), ildc = to_int(ldc, "ldc");
  const int ibatch = to_int(batch, "batch");
  // Column-major view: C^T[N, M] = op'(B^T-view)[N, K] * op'(A^T-view)[K, M].
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasHandle_t h = cublas_handle();
  if (batch == 1) {
    CUBLAS_CHECK(cublasGemmEx(h, op_b, op_a, in, im, ik, &alpha, b, CUDA_R_32F, ildb, a, CUDA_R_32F,
                              ilda, &beta, c, CUDA_R_32F, ildc, compute_type(),
                              CUBLAS_GEMM_DEFAULT));
  } else {
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, op_b, op_a, in, im, ik, &alpha, b, CUDA_R_32F, ildb,
                                            stride_b, a, CUDA_R_32F, ilda, stride_a, &beta, c,
                                            CUDA_R_32F, ildc, stride_c, ibatch, compute_type(),
                                            CUBLAS_GEMM_DEFAULT));
  }
}

}  // namespace engine::cuda
