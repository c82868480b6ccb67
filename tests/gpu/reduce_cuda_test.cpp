// CUDA reductions at sizes the op table does not reach: long reduced dims that split into chunks
// (NHWC statistics over N, H, W), rows long enough for a block per row, bit-identical reruns,
// and first-index tie breaking in max/argmax. Skipped without a GPU.
#include <cmath>
#include <limits>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#include "tests/gpu/cuda_test_util.h"

namespace engine::testing {
namespace {

using CudaReduce = CudaTest;

TEST_F(CudaReduce, SumMeanVarOverEveryPatternMatchTheCpu) {
  Generator g(31);
  Tensor x = randn({4, 33, 65, 24}, g, 1.0, 2.0);
  Tensor xc = on_cuda(x);
  const std::vector<std::vector<int64_t>> patterns = {{3}, {0, 1, 2}, {1, 2}, {0},
                                                      {1}, {0, 3},    {},     {2, 3}};
  for (const auto& dims : patterns) {
    expect_close(sum(xc, dims).cpu(), sum(x, dims), 1e-3, 1e-5, "sum");
    expect_close(mean(xc, dims, true).cpu(), mean(x, dims, true), 1e-5, 1e-5, "mean");
    expect_close(var(xc, dims).cpu(), var(x, dims), 1e-5, 1e-4, "var");
    expect_close(amax(xc, dims).cpu(), amax(x, dims), 0.0, 0.0, "amax");
    expect_close(amin(xc, dims).cpu(), amin(x, dims), 0.0, 0.0, "amin");
  }
  Tensor rows = randn({3, 5000}, g);  // a block per row
  expect_close(sum(on_cuda(rows), {1}).cpu(), sum(rows, {1}), 1e-3, 1e-5, "sum(long rows)");
  expect_close(var(on_cuda(rows), {1}, false).cpu(), var(rows, {1}, false), 1e-5, 1e-4,
               "var(long rows)");
}

TEST_F(CudaReduce, RerunsAreBitIdentical) {
  Generator g(32);
  Tensor x = on_cuda(randn({8, 96, 96, 64}, g));
  Tensor a = sum(x, {0, 1, 2}), b = sum(x, {0, 1, 2});
  expect_identical(a.cpu(), b.cpu(), "sum over N, H, W");
  expect_identical(var(x, {0, 1, 2}).cpu(), var(x, {0, 1, 2}).cpu(), "var over N, H, W");
}

TEST_F(CudaReduce, MaxAndArgmaxKeepTheFirstOfTiedValues) {
  // Every row holds its maximum twice; the first position must win, as on the CPU.
  Tensor x = zeros({5, 70});
  float* p = x.data<float>();
  for (int r = 0; r < 5; ++r) {
    p[r * 70 + 3 + r] = 2.0f;
    p[r * 70 + 40 + r] = 2.0f;
  }
  Tensor xc = on_cuda(x);
  expect_identical(argmax(xc, 1).cpu(), argmax(x, 1), "argmax over the last dim");
  expect_identical(max(xc, 1).indices.cpu(), max(x, 1).indices, "max indices");
  Tensor xt = x.transpose(0, 1).contiguous();  // reduce dim 0: the column kernels
  expect_identical(argmax(on_cuda(xt), 0).cpu(), argmax(xt, 0), "argmax over dim 0");
  expect_identical(argmin(on_cuda(neg(xt)), 0).cpu(), argmin(neg(xt), 0), "argmin over dim 0");
  Generator g(33);
  Tensor big = randn({2, 20000, 3}, g);  // chunked column arg reduction
  expect_identical(argmax(on_cuda(big), 1).cpu(), argmax(big, 1), "argmax chunked");
  expect_identical(min(on_cuda(big), 1).values.cpu(), min(big, 1).values, "min chunked");
}

// Values equal, NaN counting as equal to NaN.
void expect_same_or_both_nan(const Tensor& cuda_result, const Tensor& cpu_result,
                             const char* what) {
  ASSERT_EQ(cuda_result.shape(), cpu_result.shape()) << what;
  std::vector<double> a = cuda_result.to_vector<double>(), b = cpu_result.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))
        << what << ": element " << i << " cuda " << a[i] << " cpu " << b[i];
}

TEST_F(CudaReduce, NanDecidesOnlyAtPositionZeroAsOnTheCpu) {
  // The CPU scan keeps a NaN at position 0 and skips NaNs elsewhere. Rows 1..5 put NaNs at
  // positions that start a warp lane's (and a column thread's) scan, and their extremes later
  // in those same lanes: a NaN taken as a lane's first value would hide them.
  Generator g(35);
  Tensor x = randn({6, 300}, g);
  float* p = x.data<float>();
  p[0] = std::numeric_limits<float>::quiet_NaN();
  for (int r = 1; r < 6; ++r) {
    for (int c = 1 + r; c < 300; c += 7) p[r * 300 + c] = std::numeric_limits<float>::quiet_NaN();
    p[r * 300 + 1 + r + 96] = 100.0f;
    p[r * 300 + 1 + r + 128] = -100.0f;
  }
  Tensor xc = on_cuda(x);
  expect_identical(argmax(xc, 1).cpu(), argmax(x, 1), "argmax over rows");
  expect_identical(argmin(xc, 1).cpu(), argmin(x, 1), "argmin over rows");
  expect_same_or_both_nan(amax(xc, {1}).cpu(), amax(x, {1}), "amax over rows");
  Tensor xt = x.transpose(0, 1).contiguous();  // the column kernels, two chunks
  expect_identical(argmax(on_cuda(xt), 0).cpu(), argmax(xt, 0), "argmax over columns");
  expect_identical(argmin(on_cuda(xt), 0).cpu(), argmin(xt, 0), "argmin over columns");
  expect_same_or_both_nan(amin(on_cuda(xt), {0}).cpu(), amin(xt, {0}), "amin over columns");
}

TEST_F(CudaReduce, SumToAndMaxGradientOnTheDevice) {
  Generator g(34);
  Tensor x = randn({6, 5, 4}, g);
  expect_close(sum_to(on_cuda(x), {5, 1}).cpu(), sum_to(x, {5, 1}), 1e-5, 1e-5, "sum_to");
  Tensor a = x.clone(), b = on_cuda(x);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  sum(max(a, 1).values).backward();
  sum(max(b, 1).values).backward();
  expect_identical(b.grad().cpu(), a.grad(), "max backward");
}

}  // namespace
}  // namespace engine::testing
