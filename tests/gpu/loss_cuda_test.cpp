// The fused softmax-cross-entropy and nll_loss on CUDA with ignore index 255 (the VOC boundary
// label): losses, valid-pixel means and gradients against the CPU, ignored pixels getting zero
// gradient, every pixel ignored, and a bad label's error naming its position. Skipped without a
// GPU.
#include <limits>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"
#include "tests/gpu/cuda_test_util.h"
#include "tests/support/expect_error.h"

namespace engine::testing {
namespace {

using CudaLoss = CudaTest;

// Labels in [0, classes) with about a quarter set to 255.
Tensor labels_with_ignored(const Shape& shape, int64_t classes, Generator& g, DType dt) {
  Tensor t = randint(shape, 0, classes, g, DType::i64);
  Tensor drop = lt(rand(shape, g), 0.25);
  return where(drop, full(shape, 255.0, DType::f32), t.to(DType::f32)).to(dt);
}

void check_cross_entropy(const Shape& logits_shape, DType target_dtype, Reduction reduction) {
  Generator g(21);
  int64_t classes = logits_shape.back();
  Tensor x = randn(logits_shape, g, 0.0, 3.0);
  Shape tshape(logits_shape.begin(), logits_shape.end() - 1);
  Tensor t = labels_with_ignored(tshape, classes, g, target_dtype);
  Tensor x_cpu = x.clone(), x_cuda = on_cuda(x);
  x_cpu.set_requires_grad(true);
  x_cuda.set_requires_grad(true);
  Tensor l_cpu = cross_entropy(x_cpu, t, 255, reduction);
  Tensor l_cuda = cross_entropy(x_cuda, on_cuda(t), 255, reduction);
  expect_close(l_cuda.cpu(), l_cpu, 1e-5, 1e-5, "cross_entropy loss");
  Tensor seed = reduction == Reduction::none ? rand(l_cpu.shape(), g) : Tensor();
  if (reduction == Reduction::none) {
    sum(mul(l_cpu, seed)).backward();
    sum(mul(l_cuda, on_cuda(seed))).backward();
  } else {
    l_cpu.backward();
    l_cuda.backward();
  }
  expect_close(x_cuda.grad().cpu(), x_cpu.grad(), 1e-6, 1e-4, "cross_entropy grad");
  // Ignored pixels: exactly zero gradient in every class.
  Tensor ignored = eq(t.to(DType::f32), 255.0).reshape(tshape).unsqueeze(-1);
  Tensor g_ignored =
      where(ignored.to(Device::cuda(0)), x_cuda.grad(), zeros({}, DType::f32, Device::cuda(0)));
  EXPECT_EQ(sum(abs(g_ignored)).item(), 0.0);
}

TEST_F(CudaLoss, CrossEntropyWithIgnoreIndexMatchesTheCpu) {
  check_cross_entropy({2, 9, 7, 21}, DType::i32, Reduction::mean);
  check_cross_entropy({2, 9, 7, 21}, DType::i64, Reduction::sum);
  check_cross_entropy({3, 5, 21}, DType::i64, Reduction::none);
  check_cross_entropy({40, 3}, DType::i32, Reduction::mean);
  check_cross_entropy({6, 300}, DType::i64, Reduction::mean);  // a block per row
}

TEST_F(CudaLoss, MinusInfinityLogitsInLongRows) {
  // 600 classes: a block per row; the first 100 logits of every row are -inf (masked classes),
  // the targets lie among the others.
  Generator g(3);
  Tensor x = randn({6, 600}, g, 0.0, 3.0);
  float* p = x.data<float>();
  for (int r = 0; r < 6; ++r)
    for (int c = 0; c < 100; ++c) p[r * 600 + c] = -std::numeric_limits<float>::infinity();
  Tensor t = randint({6}, 100, 600, g, DType::i64);
  Tensor a = x.clone(), b = on_cuda(x);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor la = cross_entropy(a, t, 255, Reduction::none),
         lb = cross_entropy(b, on_cuda(t), 255, Reduction::none);
  expect_close(lb.cpu(), la, 1e-5, 1e-5, "cross_entropy with -inf logits");
  sum(la).backward();
  sum(lb).backward();
  expect_close(b.grad().cpu(), a.grad(), 1e-6, 1e-4, "cross_entropy with -inf logits, grad");
}

TEST_F(CudaLoss, EveryPixelIgnoredGivesZeroLossAndGradient) {
  Generator g(2);
  Tensor x = on_cuda(randn({2, 3, 5}, g));
  x.set_requires_grad(true);
  Tensor t = full({2, 3}, 255.0, DType::i32, Device::cuda(0));
  Tensor l = cross_entropy(x, t);
  EXPECT_EQ(l.item(), 0.0);
  l.backward();
  EXPECT_EQ(sum(abs(x.grad())).item(), 0.0);
}

TEST_F(CudaLoss, BadLabelIsReportedWithItsPosition) {
  Generator g(4);
  Tensor x = on_cuda(randn({2, 4, 5}, g));
  Tensor t = zeros({2, 4}, DType::i64);
  t.data<int64_t>()[6] = 7;
  expect_error([&] { cross_entropy(x, on_cuda(t)); }, "target value 7 at flat position 6");
  expect_error([&] { nll_loss(log_softmax(x, -1), on_cuda(t)); },
               "target value 7 at flat position 6");
}

TEST_F(CudaLoss, NllLossMatchesTheCpu) {
  Generator g(5);
  Tensor lp = log_softmax(randn({4, 6, 21}, g), -1);
  Tensor t = labels_with_ignored({4, 6}, 21, g, DType::i64);
  Tensor a = lp.clone(), b = on_cuda(lp);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor la = nll_loss(a, t), lb = nll_loss(b, on_cuda(t));
  expect_close(lb.cpu(), la, 1e-6, 1e-5, "nll_loss");
  la.backward();
  lb.backward();
  expect_close(b.grad().cpu(), a.grad(), 1e-7, 1e-5, "nll_loss grad");
}

}  // namespace
}  // namespace engine::testing
