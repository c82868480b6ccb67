// Tensor geometry, views, copies, conversions, factories and error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/kernels/memory.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "engine/tensor.h"

namespace engine {
namespace {

using ::testing::HasSubstr;

Tensor iota(const Shape& s) {
  return arange(0.0, double(numel(s)), 1.0).reshape(s);
}

#define EXPECT_THROW_MSG(stmt, text)                                 \
  try {                                                              \
    stmt;                                                            \
    FAIL() << "expected engine::Error containing: " << text;         \
  } catch (const Error& e) {                                         \
    EXPECT_THAT(std::string(e.what()), HasSubstr(text)) << e.what(); \
  }

TEST(Tensor, EmptyHasContiguousStrides) {
  Tensor t = Tensor::empty({2, 3, 4});
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.numel(), 24);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
}

TEST(Tensor, ReshapeIsAViewAndInfersMinusOne) {
  Tensor t = iota({2, 3, 4});
  Tensor r = t.reshape({4, -1});
  EXPECT_EQ(r.shape(), (Shape{4, 6}));
  EXPECT_EQ(r.storage().get(), t.storage().get());
  EXPECT_THROW_MSG(t.reshape({5, -1}), "cannot infer -1");
}

TEST(Tensor, PermuteThenContiguousReordersValues) {
  Tensor t = iota({2, 3});
  Tensor p = t.permute({1, 0});
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.contiguous().to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_THROW_MSG(p.view({6}), "cannot be viewed");
  EXPECT_EQ(p.reshape({6}).to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Tensor, SliceNarrowSelect) {
  Tensor t = iota({4, 5});
  EXPECT_EQ(t.slice(1, 1, 5, 2).contiguous().to_vector<float>(),
            (std::vector<float>{1, 3, 6, 8, 11, 13, 16, 18}));
  EXPECT_EQ(t.narrow(0, 2, 1).to_vector<float>(), (std::vector<float>{10, 11, 12, 13, 14}));
  EXPECT_EQ(t.select(1, -1).to_vector<float>(), (std::vector<float>{4, 9, 14, 19}));
  EXPECT_THROW_MSG(t.narrow(0, 3, 2), "out of range");
}

TEST(Tensor, ExpandSqueezeUnsqueeze) {
  Tensor t = iota({3, 1});
  Tensor e = t.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides()[0], 0);
  EXPECT_EQ(e.contiguous().to_vector<float>()[5], 1.0f);
  EXPECT_EQ(t.squeeze(1).shape(), (Shape{3}));
  EXPECT_EQ(t.unsqueeze(0).shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(t.unsqueeze(-1).shape(), (Shape{3, 1, 1}));
  EXPECT_THROW_MSG(t.expand({3, 2, 2}), "cannot become");
}

TEST(Tensor, DTypeConversionsRoundTrip) {
  Tensor t = Tensor::from_vector<float>({-1.5f, 0.0f, 2.25f, 1000.0f}, {4});
  EXPECT_EQ(t.to(DType::bf16).to(DType::f32).to_vector<float>(),
            (std::vector<float>{-1.5f, 0.0f, 2.25f, 1000.0f}));
  EXPECT_EQ(t.to(DType::f16).to(DType::f32).to_vector<float>(),
            (std::vector<float>{-1.5f, 0.0f, 2.25f, 1000.0f}));
  EXPECT_EQ(t.to(DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{-1, 0, 2, 1000}));
  EXPECT_EQ(t.to(DType::boolean).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1, 1}));
  EXPECT_EQ(t.to(DType::f64).to_vector<double>()[2], 2.25);
}

TEST(Tensor, HalfPrecisionRounding) {
  // bf16's ulp at 1 is 2^-7. Ties round to even: 1 + 2^-8 -> 1, 1 + 3 * 2^-8 -> 1 + 2^-6.
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 1.0f / 256)), 1.0f);
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 3.0f / 256)), 1.0f + 1.0f / 64);
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 1.0f / 200)), 1.0f + 1.0f / 128);
  EXPECT_EQ(f16_to_float(float_to_f16(65504.0f)), 65504.0f);
  EXPECT_TRUE(std::isinf(f16_to_float(float_to_f16(70000.0f))));
  EXPECT_EQ(f16_to_float(float_to_f16(5.960464477539063e-08f)), 5.960464477539063e-08f);
  EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(std::nanf("")))));
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
}

TEST(Tensor, FactoriesAndFill) {
  EXPECT_EQ(zeros({2, 2}).to_vector<float>(), (std::vector<float>(4, 0.0f)));
  EXPECT_EQ(ones({3}, DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(full({2}, 2.5).to_vector<float>(), (std::vector<float>{2.5f, 2.5f}));
  EXPECT_EQ(arange(4).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(arange(1.0, 2.0, 0.25).to_vector<float>(), (std::vector<float>{1, 1.25, 1.5, 1.75}));
}

TEST(Tensor, CopyIntoNonContiguousView) {
  Tensor t = zeros({3, 4});
  t.slice(1, 0, 4, 2).copy_(ones({3, 2}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0}));
}

TEST(Tensor, PrintShowsShapeDtypeAndValues) {
  std::string s = iota({2, 3}).str();
  EXPECT_THAT(s, HasSubstr("[2, 3] f32 cpu"));
  EXPECT_THAT(s, HasSubstr("[[0, 1, 2],"));
  std::string big = iota({100}).str();
  EXPECT_THAT(big, HasSubstr("..."));
}

TEST(Tensor, DeviceParsingAndCudaErrors) {
  EXPECT_EQ(Device::parse("cuda:3"), Device::cuda(3));
  EXPECT_EQ(Device::parse("cpu").str(), "cpu");
  EXPECT_THROW_MSG(Device::parse("gpu"), "not one of cpu");
  if (!cuda_available()) {
    EXPECT_THROW(ones({2}).to(Device::cuda(0)), Error);
  }
}

TEST(Tensor, ErrorsNameOpArgumentAndShapes) {
  EXPECT_THROW_MSG(add(ones({2, 3}), ones({4})), "add: shapes [2, 3] and [4] cannot be broadcast");
  EXPECT_THROW_MSG(add(ones({2}), ones({2}, DType::f64)), "add: dtype mismatch");
  EXPECT_THROW_MSG(exp(ones({2}, DType::i32)), "exp: argument 'x' must be f32 or f64");
  EXPECT_THROW_MSG(Tensor().shape(), "undefined tensor");
}

TEST(Tensor, SumAndMeanOverDims) {
  Tensor t = iota({2, 3, 4});
  EXPECT_EQ(sum(t).item(), 276.0);
  EXPECT_EQ(sum(t, {0, 2}).to_vector<float>(), (std::vector<float>{60, 92, 124}));
  EXPECT_EQ(sum(t, {-1}, true).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(mean(t, {1}).to_vector<float>()[0], 4.0f);
  EXPECT_EQ(sum(t.permute({2, 0, 1}), {1}).to_vector<float>()[0], 12.0f);
  EXPECT_EQ(sum_to(ones({2, 3, 4}), {3, 1}).to_vector<float>(), (std::vector<float>{8, 8, 8}));
}

}  // namespace
}  // namespace engine

namespace engine {
namespace {
TEST(HostAllocator, LargeBlocksAreReusedAndReleased) {
  cpu::empty_cache();
  void* first = nullptr;
  {
    Tensor t = Tensor::empty({1 << 20});  // 4 MiB
    first = t.raw_data();
  }
  EXPECT_GE(cpu::cached_bytes(), size_t(4) << 20);
  Tensor again = Tensor::empty({(1 << 20) - 16});  // same size class
  EXPECT_EQ(again.raw_data(), first);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(again.raw_data()) % 64, 0u);
  cpu::empty_cache();
  EXPECT_EQ(cpu::cached_bytes(), 0u);
}
}  // namespace
}  // namespace engine
