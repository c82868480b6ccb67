// CUDA device memory: host<->device round trips of every dtype, strided copies and fills on the
// device, compared with the CPU. Skipped without a GPU.
#include <gtest/gtest.h>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "engine/tensor.h"
#include "tests/gpu/cuda_test_util.h"

namespace engine {
namespace {

class CudaMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  }
};

TEST_F(CudaMemory, RoundTripEveryDtype) {
  Generator g(3);
  Tensor src = randn({5, 7, 3}, g);
  for (DType dt : kAllDTypes) {
    Tensor host = src.to(dt);
    Tensor back = host.to(Device::cuda(0)).to(Device::cpu());
    EXPECT_EQ(back.dtype(), dt);
    EXPECT_EQ(back.to_vector<double>(), host.to_vector<double>()) << dtype_name(dt);
  }
}

TEST_F(CudaMemory, StridedCopyAndConversionOnDevice) {
  Generator g(4);
  Tensor src = randn({4, 6, 5}, g);
  Tensor dev = src.to(Device::cuda(0));
  Tensor permuted = dev.permute({2, 0, 1}).slice(1, 1, 4).contiguous();
  EXPECT_EQ(permuted.device(), Device::cuda(0));
  Tensor expect = src.permute({2, 0, 1}).slice(1, 1, 4).contiguous();
  EXPECT_EQ(permuted.cpu().to_vector<float>(), expect.to_vector<float>());
  EXPECT_EQ(dev.to(DType::bf16).cpu().to_vector<float>(), src.to(DType::bf16).to_vector<float>());
  EXPECT_EQ(dev.to(DType::f16).cpu().to_vector<float>(), src.to(DType::f16).to_vector<float>());
}

TEST_F(CudaMemory, FillOnDevice) {
  Tensor t = full({1000}, 2.5, DType::f32, Device::cuda(0));
  EXPECT_EQ(t.cpu().to_vector<float>(), std::vector<float>(1000, 2.5f));
  Tensor i = full({3}, 7, DType::i64, Device::cuda(0));
  EXPECT_EQ(i.cpu().to_vector<int64_t>(), (std::vector<int64_t>{7, 7, 7}));
}

// copy_ and fill_ through non-contiguous device views (strided_scatter), of a 4-byte and a
// 2-byte dtype, against the same writes on the CPU.
TEST_F(CudaMemory, CopyAndFillIntoStridedViewsOnDevice) {
  Generator g(5);
  Tensor base = randn({4, 6, 5}, g), src = randn({4, 3, 5}, g);
  for (DType dt : {DType::f32, DType::bf16}) {
    Tensor host = base.to(dt).clone(), dev = base.to(dt).to(Device::cuda(0));
    host.slice(1, 0, 6, 2).copy_(src);
    dev.slice(1, 0, 6, 2).copy_(src.to(Device::cuda(0)));
    host.permute({2, 0, 1}).select(0, 3).fill_(-4.0);
    dev.permute({2, 0, 1}).select(0, 3).fill_(-4.0);
    EXPECT_EQ(dev.cpu().to_vector<float>(), host.to_vector<float>()) << dtype_name(dt);
  }
}

// The backward of slice writes the gradient into a strided view of zeros: select along an inner
// dim (the fused SPML loss's per-relation columns), narrow on the channels, a step-2 slice.
TEST_F(CudaMemory, SliceBackwardOnDevice) {
  Generator g(6);
  Tensor x = randn({3, 4, 6}, g), w = randn({3, 2, 6}, g);
  auto grad_of = [&](Device dev) {
    Tensor xd = x.to(dev).set_requires_grad(true);
    Tensor y = add(mul(xd.select(1, 2), 2.0), sum(xd.narrow(2, 1, 3)));
    Tensor z = sum(mul(xd.slice(1, 0, 4, 2), w.to(dev)));
    add(sum(y), z).backward();
    return xd.grad();
  };
  Tensor gd = grad_of(Device::cuda(0));
  EXPECT_EQ(gd.device(), Device::cuda(0));
  testing::expect_close(gd, grad_of(Device::cpu()), 1e-6, 1e-6, "slice backward");
}

}  // namespace
}  // namespace engine
