// CUDA pooling against the CPU where the op table's small shapes cannot tell: adaptive bins over
// a whole large feature map (both backends sum in double in the same order, so the forward is
// bitwise equal; a float sum drifts by many ulps) and max windows full of ties (the first
// maximum wins on both). Skipped without a GPU.
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/pool.h"
#include "tests/gpu/cuda_test_util.h"

namespace engine::testing {
namespace {

using CudaPool = CudaTest;

TEST_F(CudaPool, AdaptiveAvgOverLargeBinsIsIdenticalToTheCpu) {
  Generator g(61);
  // Mean far from 0, so that a float accumulation of ~8600 terms loses low bits.
  Tensor x = randn({2, 97, 89, 5}, g, 3.0, 1.0), xc = on_cuda(x);
  for (int64_t bins : {1, 2, 3, 6})
    expect_identical(adaptive_avg_pool2d(xc, bins, bins).cpu(), adaptive_avg_pool2d(x, bins, bins),
                     "adaptive_avg_pool2d");
  expect_identical(avg_pool2d(xc, 3, 2, 1).cpu(), avg_pool2d(x, 3, 2, 1), "avg_pool2d");
}

TEST_F(CudaPool, MaxPoolTiesPickTheFirstMaximumAsOnTheCpu) {
  Generator g(62);
  // Values in {0, 1, 2}: most windows hold several maxima.
  Tensor x = randint({2, 13, 11, 4}, 0, 3, g).to(DType::f32), xc = on_cuda(x);
  MaxPoolResult a = max_pool2d_with_indices(x, 3, 2, 1);
  MaxPoolResult b = max_pool2d_with_indices(xc, 3, 2, 1);
  expect_identical(b.out.cpu(), a.out, "max_pool2d values");
  expect_identical(b.indices.cpu(), a.indices, "max_pool2d indices");
}

}  // namespace
}  // namespace engine::testing
