// CUDA softmax / log_softmax and l2_normalize at row lengths the op table does not reach:
// every register-cached width (4..32 lanes per row), rows longer than 256 (a block per row),
// and a non-last dim; forward and backward against the CPU. Skipped without a GPU.
#include <cmath>
#include <limits>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"
#include "tests/gpu/cuda_test_util.h"

namespace engine::testing {
namespace {

using CudaSoftmax = CudaTest;

template <typename F>
void check_row_op(F&& op, const Shape& shape, int64_t dim, const char* what) {
  Generator g(41);
  Tensor x = randn(shape, g, 0.0, 3.0), w = randn(shape, g);
  Tensor a = x.clone(), b = on_cuda(x);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor ya = op(a, dim), yb = op(b, dim);
  expect_close(yb.cpu(), ya, 1e-5, 1e-4, what);
  sum(mul(ya, w)).backward();
  sum(mul(yb, on_cuda(w))).backward();
  expect_close(b.grad().cpu(), a.grad(), 1e-5, 1e-4, what);
}

TEST_F(CudaSoftmax, EveryRowWidthMatchesTheCpu) {
  auto sm = [](const Tensor& x, int64_t d) { return softmax(x, d); };
  auto lsm = [](const Tensor& x, int64_t d) { return log_softmax(x, d); };
  auto l2 = [](const Tensor& x, int64_t d) { return l2_normalize(x, d); };
  for (int64_t cols : {1, 3, 21, 32, 33, 64, 100, 256, 257, 1000, 5000}) {
    Shape s = {7, cols};
    check_row_op(sm, s, -1, "softmax");
    check_row_op(lsm, s, -1, "log_softmax");
    check_row_op(l2, s, -1, "l2_normalize");
  }
  check_row_op(sm, {2, 21, 9, 5}, 1, "softmax over dim 1");
  check_row_op(l2, {2, 64, 9, 5}, 1, "l2_normalize over dim 1");
}

TEST_F(CudaSoftmax, MinusInfinityLogitsInLongRowsGiveZeroProbability) {
  // Rows longer than 256 take a block per row (512 threads); the first 100 columns are -inf, so
  // threads 0..99 start their online sum on a -inf and then meet finite values at c + 512.
  Generator g(42);
  Tensor x = randn({4, 700}, g, 0.0, 3.0), w = randn({4, 700}, g);
  float* p = x.data<float>();
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 100; ++c) p[r * 700 + c] = -std::numeric_limits<float>::infinity();
  Tensor a = x.clone(), b = on_cuda(x);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor ya = softmax(a, -1), yb = softmax(b, -1);
  expect_close(yb.cpu(), ya, 1e-6, 1e-4, "softmax with -inf");
  sum(mul(ya, w)).backward();
  sum(mul(yb, on_cuda(w))).backward();
  expect_close(b.grad().cpu(), a.grad(), 1e-6, 1e-4, "softmax with -inf, grad");
  // log_softmax is -inf there; compare its exp.
  expect_close(exp(log_softmax(on_cuda(x), -1)).cpu(), exp(log_softmax(x, -1)), 1e-6, 1e-4,
               "log_softmax with -inf");
}

// Masked logits (-inf) in rows longer than 256 (a block per row): a thread whose first values
// are -inf must not turn its online sum into NaN once a finite value follows.
TEST_F(CudaSoftmax, MinusInfinityEntriesInLongRows) {
  const int64_t cols = 3000;
  Generator g(43);
  std::vector<float> v = randn({3, cols}, g).to_vector<float>();
  for (int64_t c = 0; c < cols; ++c) {
    if (c < 1500) v[size_t(c)] = -INFINITY;              // row 0: the first half masked
    if (c % 2 == 0) v[size_t(cols + c)] = -INFINITY;     // row 1: every other value masked
    if (c != 2999) v[size_t(2 * cols + c)] = -INFINITY;  // row 2: one finite value, last
  }
  Tensor x = Tensor::from_vector(v, {3, cols}), w = randn({3, cols}, g);
  Tensor a = x.clone(), b = on_cuda(x);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor ya = softmax(a, -1), yb = softmax(b, -1);
  expect_close(yb.cpu(), ya, 1e-6, 1e-4, "softmax with -inf");
  sum(mul(ya, w)).backward();
  sum(mul(yb, on_cuda(w))).backward();
  expect_close(b.grad().cpu(), a.grad(), 1e-6, 1e-4, "softmax with -inf, grad");
}

TEST_F(CudaSoftmax, ZeroRowsOfL2NormalizeUseEps) {
  Tensor x = zeros({3, 64});
  Tensor a = x.clone(), b = on_cuda(x);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor ya = l2_normalize(a, -1), yb = l2_normalize(b, -1);
  expect_identical(yb.cpu(), ya, "l2_normalize(0)");
  sum(ya).backward();
  sum(yb).backward();
  expect_close(b.grad().cpu(), a.grad(), 0.0, 1e-6, "l2_normalize(0) grad");
}

}  // namespace
}  // namespace engine::testing
