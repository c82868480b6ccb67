// Random factories on CUDA compute each element from the shared Philox convention: rand,
// randint and arange are bit-identical to the CPU's; randn uses the device's logf/sinf/cosf,
// which may differ from the host libm in the last bit. Skipped without a GPU.
#include "engine/ops/factory.h"
#include "tests/gpu/cuda_test_util.h"

namespace engine::testing {
namespace {

using CudaFactory = CudaTest;

TEST_F(CudaFactory, RandAndRandintAreIdenticalToTheCpu) {
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    Generator a(5, 3), b(5, 3);
    expect_identical(rand({3, 1001}, b, -2.0, 3.0, dt, Device::cuda(0)).cpu(),
                     rand({3, 1001}, a, -2.0, 3.0, dt), "rand");
    EXPECT_EQ(a.offset(), b.offset());
  }
  for (DType dt : {DType::i64, DType::i32, DType::u8}) {
    Generator a(9), b(9);
    expect_identical(randint({77, 13}, 0, 21, b, dt, Device::cuda(0)).cpu(),
                     randint({77, 13}, 0, 21, a, dt), "randint");
  }
}

TEST_F(CudaFactory, RandnMatchesTheCpuToTheLastBits) {
  Generator a(12), b(12);
  Tensor cpu = randn({1 << 16}, a, 0.5, 2.0);
  Tensor dev = randn({1 << 16}, b, 0.5, 2.0, DType::f32, Device::cuda(0));
  EXPECT_EQ(a.offset(), b.offset());
  expect_close(dev.cpu(), cpu, 0.0, 1e-6, "randn");
}

TEST_F(CudaFactory, ArangeIsIdenticalToTheCpu) {
  expect_identical(arange(1000, DType::i64, Device::cuda(0)).cpu(), arange(1000), "arange(i64)");
  expect_identical(arange(-1.5, 7.3, 0.1, DType::f32, Device::cuda(0)).cpu(),
                   arange(-1.5, 7.3, 0.1, DType::f32), "arange(f32)");
}

}  // namespace
}  // namespace engine::testing
