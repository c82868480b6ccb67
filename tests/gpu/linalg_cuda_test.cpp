// CUDA matmul at the empty edges the op table does not reach: an empty inner dim (K = 0: the
// product is all zeros, whatever the reused output memory held) on each GEMM path (one GEMM, one
// matrix times a dense stack, strided batches, a transposed operand from a backward) and an
// empty batch. Against the CPU. Skipped without a GPU.
#include <cmath>

#include "engine/ops/factory.h"
#include "engine/ops/linalg.h"
#include "engine/ops/reduce.h"
#include "tests/gpu/cuda_test_util.h"

namespace engine::testing {
namespace {

using CudaLinalg = CudaTest;

// Leaves NaN-filled blocks of `shape`'s size in the device allocator's cache, so that an output
// allocated next most likely starts as NaNs instead of zeros.
void poison_cache(const Shape& shape) {
  Tensor t = full(shape, NAN, DType::f32, Device::cuda(0));
}

TEST_F(CudaLinalg, EmptyInnerDimGivesZeros) {
  struct Case {
    Shape a, b;
  };
  for (const Case& c : {Case{{4, 0}, {0, 3}},           // one GEMM
                        Case{{3, 4, 0}, {0, 5}},        // a dense stack times one matrix
                        Case{{2, 4, 0}, {2, 0, 3}}}) {  // strided batches
    Tensor a = zeros(c.a), b = zeros(c.b);
    Tensor want = matmul(a, b);
    poison_cache(want.shape());
    Tensor got = matmul(on_cuda(a), on_cuda(b));
    expect_identical(got.cpu(), want, shape_str(c.a).c_str());
  }
}

// The gradient of b in matmul(a [0, K], b [K, N]) is a^T [K, 0] times grad [0, N]: K = 0 with a
// transposed operand.
TEST_F(CudaLinalg, GradientThroughAnEmptyRowSetIsZero) {
  Generator g(5);
  Tensor b = randn({6, 3}, g);
  Tensor bc = b.clone(), bg = on_cuda(b);
  bc.set_requires_grad(true);
  bg.set_requires_grad(true);
  sum(matmul(zeros({0, 6}), bc)).backward();
  poison_cache({6, 3});
  sum(matmul(zeros({0, 6}, DType::f32, Device::cuda(0)), bg)).backward();
  ASSERT_TRUE(bg.grad().defined());
  expect_identical(bg.grad().cpu(), bc.grad(), "grad of b");
}

TEST_F(CudaLinalg, EmptyBatch) {
  Tensor a = zeros({0, 4, 5}), b = zeros({0, 5, 3});
  Tensor got = matmul(on_cuda(a), on_cuda(b));
  EXPECT_EQ(got.shape(), (Shape{0, 4, 3}));
  EXPECT_EQ(got.device(), Device::cuda(0));
  // Broadcast batch dims, one of them empty.
  Tensor got2 = matmul(on_cuda(zeros({2, 0, 4, 5})), on_cuda(zeros({1, 5, 3})));
  EXPECT_EQ(got2.shape(), (Shape{2, 0, 4, 3}));
}

}  // namespace
}  // namespace engine::testing
