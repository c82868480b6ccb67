// Helpers for the CUDA tests: fixtures that skip without a device (one of them in strict FP32),
// and CPU/CUDA comparisons.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "engine/tensor.h"
#if ENGINE_WITH_CUDA
#include "engine/kernels/runtime.h"
#endif

namespace engine::testing {

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  }
};

// Strict FP32 GEMMs and convolutions for the scope (TF32 keeps only 10 mantissa bits), so that
// device results can be held to CPU tolerances.
class StrictFp32 {
 public:
  StrictFp32() {
#if ENGINE_WITH_CUDA
    saved_ = cuda::math_flags();
    cuda::MathFlags f = saved_;
    f.allow_tf32 = false;
    cuda::set_math_flags(f);
#endif
  }
  ~StrictFp32() {
#if ENGINE_WITH_CUDA
    cuda::set_math_flags(saved_);
#endif
  }
  StrictFp32(const StrictFp32&) = delete;
  StrictFp32& operator=(const StrictFp32&) = delete;

 private:
#if ENGINE_WITH_CUDA
  cuda::MathFlags saved_;
#endif
};

// CudaTest with TF32 off for the whole test.
class CudaStrictFp32Test : public CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (!IsSkipped()) strict_.emplace();
  }
  void TearDown() override { strict_.reset(); }

 private:
  std::optional<StrictFp32> strict_;
};

inline Tensor on_cuda(const Tensor& t) {
  return t.to(Device::cuda(0));
}

// Largest |a - b| - rtol * |b| over all elements (<= atol passes), after copying to the host.
inline void expect_close(const Tensor& cuda_result, const Tensor& cpu_result, double atol,
                         double rtol, const char* what) {
  ASSERT_EQ(cuda_result.shape(), cpu_result.shape()) << what;
  std::vector<double> a = cuda_result.to_vector<double>(), b = cpu_result.to_vector<double>();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double excess = std::abs(a[i] - b[i]) - rtol * std::abs(b[i]);
    if (!(excess <= worst)) {
      worst = excess;
      at = i;
    }
  }
  EXPECT_LE(worst, atol) << what << ": element " << at << " cuda " << a[at] << " cpu " << b[at];
}

inline void expect_identical(const Tensor& cuda_result, const Tensor& cpu_result,
                             const char* what) {
  ASSERT_EQ(cuda_result.shape(), cpu_result.shape()) << what;
  ASSERT_EQ(cuda_result.dtype(), cpu_result.dtype()) << what;
  std::vector<double> a = cuda_result.to_vector<double>(), b = cpu_result.to_vector<double>();
  size_t mismatches = 0, first = a.size();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) {
      if (mismatches == 0) first = i;
      ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0u) << what << ": first at " << first << " cuda "
                            << (first < a.size() ? a[first] : 0) << " cpu "
                            << (first < b.size() ? b[first] : 0);
}

}  // namespace engine::testing
