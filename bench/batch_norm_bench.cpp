// Batch norm and max pooling at ResNet-stem-like sizes (NHWC f32 [16, 128, 128, 64]).
// GB/s counts the minimal memory traffic of each pass (tensor bytes read + written once per
// pass over them), so it is comparable with the machine's stream bandwidth.
// Google Benchmark prints the rate as "GB=x/s".
#include <benchmark/benchmark.h>

#include "engine/ops/batch_norm.h"
#include "engine/ops/factory.h"
#include "engine/ops/pool.h"

namespace engine {
namespace {

const Shape kShape = {16, 128, 128, 64};

void set_rate(benchmark::State& state, double bytes) {
  state.counters["GB"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// Forward: one read of x for the statistics, one read of x and a write of y for the affine pass.
void BM_batch_norm_forward_train(benchmark::State& state) {
  Generator gen(1);
  Tensor x = randn(kShape, gen);
  Tensor w = ones({kShape.back()}), b = zeros({kShape.back()});
  Tensor rm = zeros({kShape.back()}), rv = ones({kShape.back()});
  for (auto _ : state) {
    Tensor y = batch_norm(x, w, b, rm, rv, true, 3e-4, 1e-5);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_rate(state, 3.0 * double(x.nbytes()));
}
BENCHMARK(BM_batch_norm_forward_train)->Unit(benchmark::kMillisecond)->UseRealTime();

// Forward (3 passes) + backward: reduce reads dy and x, apply reads dy and x and writes dx.
void BM_batch_norm_forward_backward(benchmark::State& state) {
  Generator gen(2);
  Tensor x = randn(kShape, gen).set_requires_grad();
  Tensor w = ones({kShape.back()}).set_requires_grad();
  Tensor b = zeros({kShape.back()}).set_requires_grad();
  Tensor rm = zeros({kShape.back()}), rv = ones({kShape.back()});
  Tensor dy = randn(kShape, gen);
  for (auto _ : state) {
    Tensor y = batch_norm(x, w, b, rm, rv, true, 3e-4, 1e-5);
    y.backward(dy);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
  set_rate(state, 8.0 * double(x.nbytes()));
}
BENCHMARK(BM_batch_norm_forward_backward)->Unit(benchmark::kMillisecond)->UseRealTime();

// Fused BN + ReLU forward (training): stats read x, the fused pass reads x and writes y.
void BM_batch_norm_relu_forward_train(benchmark::State& state) {
  Generator gen(4);
  Tensor x = randn(kShape, gen);
  Tensor w = ones({kShape.back()}), b = zeros({kShape.back()});
  Tensor rm = zeros({kShape.back()}), rv = ones({kShape.back()});
  for (auto _ : state) {
    Tensor y = batch_norm_relu(x, w, b, rm, rv, true, 3e-4, 1e-5);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_rate(state, 3.0 * double(x.nbytes()));
}
BENCHMARK(BM_batch_norm_relu_forward_train)->Unit(benchmark::kMillisecond)->UseRealTime();

// BN + add + ReLU forward and backward: forward reads x (stats), x and the residual, writes y;
// backward reduce reads dy, y, x; apply reads dy, y, x and writes dx and d(residual).
void BM_batch_norm_add_relu_forward_backward(benchmark::State& state) {
  Generator gen(5);
  Tensor x = randn(kShape, gen).set_requires_grad();
  Tensor r = randn(kShape, gen).set_requires_grad();
  Tensor w = ones({kShape.back()}).set_requires_grad();
  Tensor b = zeros({kShape.back()}).set_requires_grad();
  Tensor rm = zeros({kShape.back()}), rv = ones({kShape.back()});
  Tensor dy = randn(kShape, gen);
  for (auto _ : state) {
    Tensor y = batch_norm_add_relu(x, r, w, b, rm, rv, true, 3e-4, 1e-5);
    y.backward(dy);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
    r.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
  set_rate(state, 12.0 * double(x.nbytes()));
}
BENCHMARK(BM_batch_norm_add_relu_forward_backward)->Unit(benchmark::kMillisecond)->UseRealTime();

// ResNet's stem max pool (3x3, stride 2, pad 1): read x, write y and its i64 argmax.
void BM_max_pool2d_forward(benchmark::State& state) {
  Generator gen(3);
  Tensor x = randn(kShape, gen);
  double out_bytes = 0;
  for (auto _ : state) {
    Tensor y = max_pool2d(x, 3, 2, 1);
    benchmark::DoNotOptimize(y.raw_data());
    out_bytes = double(y.nbytes()) * 3.0;  // f32 values + i64 indices
  }
  set_rate(state, double(x.nbytes()) + out_bytes);
}
BENCHMARK(BM_max_pool2d_forward)->Unit(benchmark::kMillisecond)->UseRealTime();

// Forward as above, backward reads dy and the indices and writes dx.
void BM_max_pool2d_forward_backward(benchmark::State& state) {
  Generator gen(4);
  Tensor x = randn(kShape, gen).set_requires_grad();
  Tensor dy = randn({16, 64, 64, 64}, gen);
  for (auto _ : state) {
    Tensor y = max_pool2d(x, 3, 2, 1);
    y.backward(dy);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
  }
  set_rate(state, 2.0 * double(x.nbytes()) + 6.0 * double(dy.nbytes()));
}
BENCHMARK(BM_max_pool2d_forward_backward)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace engine

BENCHMARK_MAIN();
