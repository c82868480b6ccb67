// The CUDA runtime: the caching allocator (reuse without cudaMalloc, statistics, empty_cache,
// the out-of-memory report), pinned host buffers, raw host<->device copies, DeviceGuard, events
// of the compute stream and the math flags. Skipped without a GPU.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "engine/kernels/memory.h"
#include "engine/kernels/runtime.h"
#include "engine/ops/factory.h"
#include "engine/tensor.h"
#include "support/expect_error.h"

namespace engine {
namespace {

class CudaRuntime : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  }
};

constexpr size_t kMiB = size_t(1) << 20;

TEST_F(CudaRuntime, FreedBlockIsReusedWithoutCudaMalloc) {
  for (size_t bytes : {size_t(3000), 3 * kMiB + 5}) {
    void* a = cuda::alloc(bytes, 0);
    cuda::AllocatorStats s1 = cuda::allocator_stats(0);
    cuda::free(a, 0);
    void* b = cuda::alloc(bytes, 0);
    cuda::AllocatorStats s2 = cuda::allocator_stats(0);
    EXPECT_EQ(a, b) << bytes << " bytes";
    EXPECT_EQ(s2.num_cuda_mallocs, s1.num_cuda_mallocs) << bytes << " bytes";
    EXPECT_EQ(s2.num_allocs, s1.num_allocs + 1);
    cuda::free(b, 0);
  }
}

TEST_F(CudaRuntime, SmallRequestsShareOneSegment) {
  cuda::empty_cache();
  const cuda::AllocatorStats s0 = cuda::allocator_stats(0);
  std::vector<void*> blocks;
  for (int i = 0; i < 8; ++i) blocks.push_back(cuda::alloc(1000, 0));
  const cuda::AllocatorStats s1 = cuda::allocator_stats(0);
  // Eight 1 KiB blocks fit in one 2 MiB segment.
  EXPECT_LE(s1.num_cuda_mallocs - s0.num_cuda_mallocs, 1);
  EXPECT_EQ(s1.in_use - s0.in_use, 8 * 1024u);  // rounded to 512 B multiples
  for (size_t i = 1; i < blocks.size(); ++i) EXPECT_NE(blocks[i], blocks[i - 1]);
  for (void* p : blocks) cuda::free(p, 0);
  EXPECT_EQ(cuda::allocator_stats(0).in_use, s0.in_use);
}

TEST_F(CudaRuntime, StatisticsTrackInUsePeakAndReserved) {
  cuda::empty_cache();
  const cuda::AllocatorStats s0 = cuda::allocator_stats(0);
  cuda::reset_peak(0);
  void* a = cuda::alloc(10 * kMiB, 0);
  void* b = cuda::alloc(6 * kMiB, 0);
  cuda::AllocatorStats s1 = cuda::allocator_stats(0);
  EXPECT_EQ(s1.in_use - s0.in_use, 16 * kMiB);
  EXPECT_GE(s1.reserved - s0.reserved, 16 * kMiB);
  EXPECT_GE(s1.peak, s0.in_use + 16 * kMiB);
  cuda::free(a, 0);
  cuda::free(b, 0);
  cuda::AllocatorStats s2 = cuda::allocator_stats(0);
  EXPECT_EQ(s2.in_use, s0.in_use);
  EXPECT_EQ(s2.peak, s1.peak);          // the peak stays until reset
  EXPECT_EQ(s2.reserved, s1.reserved);  // freed blocks stay cached
  cuda::reset_peak(0);
  EXPECT_EQ(cuda::allocator_stats(0).peak, s0.in_use);
  cuda::empty_cache();
  EXPECT_LE(cuda::allocator_stats(0).reserved, s0.reserved);
  EXPECT_LT(cuda::allocator_stats(0).reserved, s1.reserved);
}

TEST_F(CudaRuntime, LargeFreeBlocksMergeForReuse) {
  cuda::empty_cache();
  // One 8 MiB segment split into two halves; freed, the halves merge and serve 8 MiB again.
  void* whole = cuda::alloc(8 * kMiB, 0);
  cuda::free(whole, 0);
  void* h1 = cuda::alloc(4 * kMiB, 0);
  void* h2 = cuda::alloc(4 * kMiB, 0);
  EXPECT_EQ(h1, whole);
  EXPECT_EQ(static_cast<char*>(h2), static_cast<char*>(whole) + 4 * kMiB);
  const int64_t mallocs = cuda::allocator_stats(0).num_cuda_mallocs;
  cuda::free(h1, 0);
  cuda::free(h2, 0);
  void* again = cuda::alloc(8 * kMiB, 0);
  EXPECT_EQ(again, whole);
  EXPECT_EQ(cuda::allocator_stats(0).num_cuda_mallocs, mallocs);
  cuda::free(again, 0);
}

TEST_F(CudaRuntime, OutOfMemoryStatesRequestAndStatistics) {
  const size_t huge = size_t(1) << 50;  // 1 PiB
  testing::expect_error([&] { cuda::alloc(huge, 0); },
                        {"out of memory on cuda:0", std::to_string(huge) + " bytes", "MiB in use",
                         "MiB reserved", "cudaMalloc calls"});
  // The allocator still works afterwards.
  void* p = cuda::alloc(1024, 0);
  EXPECT_NE(p, nullptr);
  cuda::free(p, 0);
}

TEST_F(CudaRuntime, TensorsComeFromTheCache) {
  { Tensor warm = Tensor::empty({1024, 1024}, DType::f32, Device::cuda(0)); }
  const int64_t mallocs = cuda::allocator_stats(0).num_cuda_mallocs;
  for (int i = 0; i < 10; ++i) {
    Tensor t = Tensor::empty({1024, 1024}, DType::f32, Device::cuda(0));
    t.fill_(i);
  }
  EXPECT_EQ(cuda::allocator_stats(0).num_cuda_mallocs, mallocs);
}

TEST_F(CudaRuntime, PinnedBuffersRoundTripAndAreReused) {
  const size_t n = 100000;
  float* host = static_cast<float*>(cuda::alloc_pinned(n * sizeof(float)));
  float* back = static_cast<float*>(cuda::alloc_pinned(n * sizeof(float)));
  std::iota(host, host + n, 0.5f);
  void* dev = cuda::alloc(n * sizeof(float), 0);
  cuda::copy_h2d(dev, host, n * sizeof(float), 0);
  cuda::copy_d2h(back, dev, n * sizeof(float), 0);
  EXPECT_EQ(std::memcmp(host, back, n * sizeof(float)), 0);
  cuda::free(dev, 0);
  cuda::free_pinned(back);
  cuda::synchronize();
  void* again = cuda::alloc_pinned(n * sizeof(float));
  EXPECT_EQ(again, back);
  cuda::free_pinned(again);
  cuda::free_pinned(host);
}

TEST_F(CudaRuntime, PageableCopiesRoundTripOddSizes) {
  for (size_t n : {size_t(1), size_t(511), size_t(4097), size_t(1) << 20}) {
    std::vector<uint8_t> src(n), dst(n, 0);
    for (size_t i = 0; i < n; ++i) src[i] = uint8_t(i * 131 + 7);
    void* a = cuda::alloc(n, 0);
    void* b = cuda::alloc(n, 0);
    cuda::copy_h2d(a, src.data(), n, 0);
    cuda::copy_d2d(b, a, n, 0);
    cuda::copy_d2h(dst.data(), b, n, 0);
    EXPECT_EQ(src, dst) << n << " bytes";
    cuda::free(a, 0);
    cuda::free(b, 0);
  }
}

TEST_F(CudaRuntime, DeviceGuardSetsAndRestores) {
  const int before = cuda::current_device();
  {
    cuda::DeviceGuard g(0);
    EXPECT_EQ(cuda::current_device(), 0);
    if (cuda_device_count() > 1) {
      cuda::DeviceGuard g1(1);
      EXPECT_EQ(cuda::current_device(), 1);
    }
    EXPECT_EQ(cuda::current_device(), 0);
  }
  EXPECT_EQ(cuda::current_device(), before);
  testing::expect_error([] { cuda::DeviceGuard g(cuda_device_count()); }, "does not exist");
}

TEST_F(CudaRuntime, MathFlagsRoundTrip) {
  const cuda::MathFlags saved = cuda::math_flags();
  cuda::MathFlags f;
  f.allow_tf32 = !saved.allow_tf32;
  f.deterministic = true;
  f.cudnn_benchmark = true;
  cuda::set_math_flags(f);
  EXPECT_EQ(cuda::math_flags().allow_tf32, f.allow_tf32);
  EXPECT_TRUE(cuda::math_flags().deterministic);
  EXPECT_TRUE(cuda::math_flags().cudnn_benchmark);
  cuda::set_math_flags(saved);
}

TEST_F(CudaRuntime, NvtxAndProfilerCallsSucceedWithoutATool) {
  cuda::NvtxRange r("runtime_test");
  cuda::profiler_start();
  Tensor t = full({4096}, 1.0, DType::f32, Device::cuda(0));
  cuda::synchronize();
  cuda::profiler_stop();
  EXPECT_EQ(t.cpu().to_vector<float>()[4095], 1.0f);
}

}  // namespace
}  // namespace engine
