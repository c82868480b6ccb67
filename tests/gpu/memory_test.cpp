// CUDA device memory: host<->device round trips of every dtype, strided copies and fills on the
// device, compared with the CPU. Skipped without a GPU.
#include <gtest/gtest.h>

#include "engine/ops/factory.h"
#include "engine/tensor.h"

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

}  // namespace
}  // namespace engine
