// Helpers for the CUDA tests: a fixture that skips without a device, and CPU/CUDA comparisons.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/tensor.h"

namespace engine::testing {

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  }
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
