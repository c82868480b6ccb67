// CUDA sort and topk against the CPU on lines full of ties, signed zeros, infinities and NaNs,
// at lengths that take each of CUB's segmented-sort paths (small and medium segments use a warp
// merge sort, large ones a radix sort): values and indices must be identical, NaN last when
// ascending and first when descending, ties to the lower index. Skipped without a GPU.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/ops/sort.h"
#include "tests/gpu/cuda_test_util.h"

namespace engine::testing {
namespace {

using CudaSort = CudaTest;

// n values drawn from a handful, so every line has long runs of ties.
Tensor tie_heavy(const Shape& shape, uint32_t seed) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float pool[] = {-1.0f, 0.0f, -0.0f, 1.0f, 2.5f, inf, -inf, nan, -nan};
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pick(0, 8);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = pool[pick(rng)];
  return Tensor::from_vector<float>(v, shape);
}

// Bitwise equality of two f32 tensors (NaNs included, which expect_identical cannot compare).
void expect_same_bits(const Tensor& cuda_result, const Tensor& cpu_result, const char* what) {
  ASSERT_EQ(cuda_result.shape(), cpu_result.shape()) << what;
  std::vector<float> a = cuda_result.to_vector<float>(), b = cpu_result.to_vector<float>();
  size_t mismatches = 0, first = a.size();
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      if (mismatches == 0) first = i;
      ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0u) << what << ": first at " << first;
}

void expect_same(const SortResult& cuda_result, const SortResult& cpu_result, const char* what) {
  expect_identical(cuda_result.indices.cpu(), cpu_result.indices, what);
  expect_same_bits(cuda_result.values.cpu(), cpu_result.values, what);
}

TEST_F(CudaSort, SortWithTiesAndNaNsMatchesTheCpu) {
  uint32_t seed = 1;
  for (int64_t n : {2, 3, 7, 33, 300, 1500, 20000}) {
    // Along the last dim (inner 1) and along dim 0 (inner 3).
    for (int64_t dim : {1, 0}) {
      Shape shape = dim == 1 ? Shape{3, n} : Shape{n, 3};
      Tensor x = tie_heavy(shape, seed++), xc = on_cuda(x);
      for (bool descending : {false, true})
        expect_same(sort(xc, dim, descending), sort(x, dim, descending), "sort");
    }
  }
}

TEST_F(CudaSort, TopkWithTiesAndNaNsMatchesTheCpu) {
  uint32_t seed = 100;
  for (int64_t n : {7, 33, 300, 20000}) {
    Tensor x = tie_heavy({4, n}, seed++), xc = on_cuda(x);
    for (int64_t k : {int64_t(1), int64_t(5), n})
      for (bool largest : {true, false})
        for (bool sorted : {true, false})
          expect_same(topk(xc, k, 1, largest, sorted), topk(x, k, 1, largest, sorted), "topk");
  }
}

}  // namespace
}  // namespace engine::testing
