// Dropout on CUDA draws the CPU's Philox stream: the same generator state gives the same mask
// (and values), and both advance the generator alike. Skipped without a GPU.
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "tests/gpu/cuda_test_util.h"

namespace engine::testing {
namespace {

using CudaDropout = CudaTest;

TEST_F(CudaDropout, MaskAndValuesMatchTheCpuForTheSameGenerator) {
  Generator init(7);
  // Odd sizes: the last Philox block is partial, and the sliced view starts off 16-byte alignment.
  for (int64_t n : {1, 5, 1023, 262147}) {
    Tensor x = randn({n}, init);
    Generator g_cpu(11, 40), g_cuda(11, 40);
    Tensor y_cpu = dropout(x, 0.3, true, g_cpu);
    Tensor y_cuda = dropout(on_cuda(x), 0.3, true, g_cuda);
    EXPECT_EQ(g_cpu.offset(), g_cuda.offset());
    expect_identical(y_cuda.cpu(), y_cpu, "dropout values");
    expect_identical(ne(y_cuda, 0.0).cpu(), ne(y_cpu, 0.0), "dropout mask");
  }
}

TEST_F(CudaDropout, UnalignedViewAndGradient) {
  Generator init(8);
  Tensor base = randn({4099}, init);
  Tensor x = base.slice(0, 1, 4099);  // offset by one float: the scalar path
  Generator g_cpu(3), g_cuda(3);
  Tensor xc = on_cuda(base).slice(0, 1, 4099);
  xc.set_requires_grad(true);
  Tensor y_cpu = dropout(x, 0.5, true, g_cpu);
  Tensor y_cuda = dropout(xc, 0.5, true, g_cuda);
  expect_identical(y_cuda.cpu(), y_cpu, "dropout on a view");
  sum(y_cuda, {}, false).backward();
  // d/dx of sum(dropout(x)) is the mask times 1 / (1 - p).
  expect_identical(xc.grad().cpu(), mul(ne(y_cpu, 0.0).to(DType::f32), 2.0), "dropout grad");
}

}  // namespace
}  // namespace engine::testing
