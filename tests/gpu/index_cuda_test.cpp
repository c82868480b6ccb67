// CUDA index ops (gather, scatter_add, index_select, index_add, segment_sum, one_hot) against the
// CPU: values and gradients with heavily repeated indices, i32 and i64 indices, segments both
// within and beyond one 64-source chunk of the sorted index_add, bitwise reruns, and the
// device-side bounds check raising the CPU's errors. Skipped without a GPU.
#include <cstdint>
#include <random>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/index.h"
#include "engine/ops/reduce.h"
#include "tests/gpu/cuda_test_util.h"
#include "tests/support/expect_error.h"

namespace engine::testing {
namespace {

using CudaIndex = CudaTest;

// n index values uniform in [0, size), as an index tensor of `dtype` with `shape`.
Tensor random_index(const Shape& shape, int64_t size, DType dtype, uint32_t seed) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, size - 1);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = pick(rng);
  return Tensor::from_vector<int64_t>(v, shape).to(dtype);
}

// Leaves a (CPU) and b (CUDA) holding the same values, both requiring grad.
void make_pair(const Tensor& x, Tensor& a, Tensor& b) {
  a = x.clone();
  b = on_cuda(x);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
}

TEST_F(CudaIndex, GatherMatchesTheCpuWithGradients) {
  Generator g(3);
  for (DType it : {DType::i32, DType::i64}) {
    for (int64_t dim : {0, 1, 2}) {
      Tensor x = randn({5, 7, 6}, g);
      Shape is = {4, 6, 3};
      is[size_t(dim)] = 11;  // longer than x along dim: every line repeats indices
      Tensor idx = random_index(is, x.size(dim), it, 10 + uint32_t(dim));
      Tensor a, b;
      make_pair(x, a, b);
      Tensor ya = gather(a, dim, idx), yb = gather(b, dim, on_cuda(idx));
      expect_identical(yb.cpu(), ya, "gather");
      Tensor w = randn(is, g);
      sum(mul(ya, w)).backward();
      sum(mul(yb, on_cuda(w))).backward();
      // The backward scatter_add adds each line in j order on both backends.
      expect_identical(b.grad().cpu(), a.grad(), "gather grad");
    }
  }
}

TEST_F(CudaIndex, ScatterAddMatchesTheCpuWithGradients) {
  Generator g(4);
  for (DType it : {DType::i32, DType::i64}) {
    Tensor base = randn({6, 5}, g), src = randn({40, 4}, g);
    Tensor idx = random_index({40, 4}, 6, it, 7);
    Tensor ba, bb, sa, sb;
    make_pair(base, ba, bb);
    make_pair(src, sa, sb);
    Tensor ya = scatter_add(ba, 0, idx, sa), yb = scatter_add(bb, 0, on_cuda(idx), sb);
    expect_identical(yb.cpu(), ya, "scatter_add");
    Tensor w = randn({6, 5}, g);
    sum(mul(ya, w)).backward();
    sum(mul(yb, on_cuda(w))).backward();
    expect_identical(bb.grad().cpu(), ba.grad(), "scatter_add grad base");
    expect_identical(sb.grad().cpu(), sa.grad(), "scatter_add grad src");
    Tensor again = scatter_add(on_cuda(base), 0, on_cuda(idx), on_cuda(src));
    expect_identical(again.cpu(), yb.detach().cpu(), "scatter_add rerun");
  }
}

TEST_F(CudaIndex, IndexSelectMatchesTheCpuWithGradients) {
  Generator g(5);
  struct Case {
    Shape shape;
    int64_t dim, n;
  };
  // inner 64 takes the float4 path, inner 5 and 1 the scalar one; outer > 1 for dim 1.
  for (const Case& c : {Case{{50, 64}, 0, 300}, Case{{3, 10, 5}, 1, 23}, Case{{4, 9}, 1, 30}}) {
    for (DType it : {DType::i32, DType::i64}) {
      Tensor x = randn(c.shape, g);
      Tensor idx = random_index({c.n}, x.size(c.dim), it, 11);
      Tensor a, b;
      make_pair(x, a, b);
      Tensor ya = index_select(a, c.dim, idx), yb = index_select(b, c.dim, on_cuda(idx));
      expect_identical(yb.cpu(), ya, "index_select");
      Tensor w = randn(ya.shape(), g);
      sum(mul(ya, w)).backward();
      sum(mul(yb, on_cuda(w))).backward();
      // Fewer than 64 sources per target: the sorted index_add matches the CPU bitwise.
      expect_identical(b.grad().cpu(), a.grad(), "index_select grad");
    }
  }
}

TEST_F(CudaIndex, IndexAddMatchesTheCpuWithGradients) {
  Generator g(6);
  for (DType it : {DType::i32, DType::i64}) {
    // outer 2, inner 3: targets along a middle dim; ~12 sources per target.
    Tensor base = randn({2, 40, 3}, g), src = randn({2, 500, 3}, g);
    Tensor idx = random_index({500}, 40, it, 12);
    Tensor ba, bb, sa, sb;
    make_pair(base, ba, bb);
    make_pair(src, sa, sb);
    Tensor ya = index_add(ba, 1, idx, sa), yb = index_add(bb, 1, on_cuda(idx), sb);
    expect_identical(yb.cpu(), ya, "index_add");
    Tensor w = randn(ya.shape(), g);
    sum(mul(ya, w)).backward();
    sum(mul(yb, on_cuda(w))).backward();
    expect_identical(bb.grad().cpu(), ba.grad(), "index_add grad base");
    expect_identical(sb.grad().cpu(), sa.grad(), "index_add grad src");
  }
}

TEST_F(CudaIndex, IndexAddIntoFewTargetsSpansManyChunks) {
  Generator g(7);
  // 5000 sources into 3 targets (one left empty): each target sums ~80 chunks of 64.
  Tensor base = randn({4, 17}, g), src = randn({5000, 17}, g);
  Tensor idx = random_index({5000}, 3, DType::i64, 13);
  Tensor ya = index_add(base, 0, idx, src);
  Tensor yb = index_add(on_cuda(base), 0, on_cuda(idx), on_cuda(src));
  expect_close(yb.cpu(), ya, 1e-5, 1e-6, "index_add, long segments");
  expect_identical(yb.cpu().select(0, 3), base.select(0, 3), "index_add untouched row");
  Tensor again = index_add(on_cuda(base), 0, on_cuda(idx), on_cuda(src));
  expect_identical(again.cpu(), yb.cpu(), "index_add rerun");
}

TEST_F(CudaIndex, SegmentSumMatchesTheCpuAndIsBitwiseReproducible) {
  Generator g(8);
  for (DType it : {DType::i32, DType::i64}) {
    // 20000 pixels into 300 segments (~67 per segment, so some span two chunks) and the
    // segments 300..309 empty.
    Tensor x = randn({20000, 64}, g);
    Tensor ids = random_index({20000}, 300, it, 14);
    Tensor a, b;
    make_pair(x, a, b);
    Tensor ya = segment_sum(a, ids, 310), yb = segment_sum(b, on_cuda(ids), 310);
    expect_close(yb.cpu(), ya, 1e-5, 1e-6, "segment_sum");
    for (int run = 0; run < 3; ++run)
      expect_identical(segment_sum(on_cuda(x), on_cuda(ids), 310).cpu(), yb.detach().cpu(),
                       "segment_sum rerun");
    Tensor w = randn({310, 64}, g);
    sum(mul(ya, w)).backward();
    sum(mul(yb, on_cuda(w))).backward();
    expect_identical(b.grad().cpu(), a.grad(), "segment_sum grad");
  }
  // Small segments (at most 64 pixels each): bitwise equal to the CPU.
  Tensor x = randn({1000, 33}, g);
  Tensor ids = random_index({1000}, 100, DType::i64, 15);
  expect_identical(segment_sum(on_cuda(x), on_cuda(ids), 100).cpu(), segment_sum(x, ids, 100),
                   "segment_sum, small segments");
}

TEST_F(CudaIndex, OneHotMatchesTheCpu) {
  std::vector<int64_t> v = {0, 3, 255, 1, 2, 255, 3, 0};
  Tensor labels = Tensor::from_vector<int64_t>(v, {2, 4});
  for (DType lt : {DType::u8, DType::i32, DType::i64}) {
    Tensor l = labels.to(lt);
    expect_identical(one_hot(on_cuda(l), 4, DType::f32, 255).cpu(), one_hot(l, 4, DType::f32, 255),
                     "one_hot");
  }
  Tensor plain = Tensor::from_vector<int64_t>({2, 0, 1}, {3});
  expect_identical(one_hot(on_cuda(plain), 3).cpu(), one_hot(plain, 3), "one_hot no ignore");
}

TEST_F(CudaIndex, BadIndicesRaiseTheCpuErrors) {
  Tensor x = on_cuda(zeros({4, 3}));
  Tensor idx = on_cuda(Tensor::from_vector<int64_t>({0, 2, 7, 1, -1}, {5}));
  expect_error([&] { index_select(x, 0, idx); },
               "index_select: index value 7 out of range for dim 0 of size 4");
  expect_error(
      [&] {
        index_add(x, 0, idx, on_cuda(zeros({5, 3})));
      },
      "index_add: index value 7 out of range");
  Tensor gidx = on_cuda(Tensor::from_vector<int32_t>({0, 1, 2, 0, -3, 1}, {2, 3}));
  expect_error([&] { gather(x, 0, gidx); }, "gather: index value -3 out of range");
  expect_error(
      [&] {
        scatter_add(x, 0, gidx, on_cuda(zeros({2, 3})));
      },
      "scatter_add: index value -3 out of range");
  Tensor ids = on_cuda(Tensor::from_vector<int32_t>({0, 1, 1, 5, 9}, {5}));
  expect_error(
      [&] {
        segment_sum(on_cuda(zeros({5, 2})), ids, 5);
      },
      "segment_sum: segment id 5 at pixel 3 out of range for num_segments 5");
  Tensor labels = on_cuda(Tensor::from_vector<int64_t>({1, 255, 9}, {3}));
  expect_error([&] { one_hot(labels, 4, DType::f32, 255); },
               "one_hot: label value 9 out of range for num_classes 4");
  expect_error([&] { one_hot(labels, 4, DType::f64, 255); }, "one_hot: CUDA output must be f32");
}

}  // namespace
}  // namespace engine::testing
