// conv2d forward and backward (input and weight gradients) at ResNet-101 shapes, NHWC f32.
// Counters: GFLOP/s counts 2*N*Ho*Wo*O*KH*KW*Cin/groups per pass. Run with OMP_NUM_THREADS set
// to the cores to use.
#include <benchmark/benchmark.h>

#include "engine/autograd.h"
#include "engine/ops/conv.h"
#include "engine/ops/factory.h"
#include "engine/random.h"

namespace {

using engine::Conv2dParams;
using engine::Shape;
using engine::Tensor;

// args: N, H, W, Cin, Cout, K, stride, pad, dilation, pass (0 forward, 1 input grad, 2 weight
// grad).
void BM_conv2d(benchmark::State& state) {
  const int64_t n = state.range(0), h = state.range(1), w = state.range(2), c = state.range(3);
  const int64_t o = state.range(4), k = state.range(5);
  Conv2dParams p;
  p.stride = {state.range(6), state.range(6)};
  p.padding = {state.range(7), state.range(7)};
  p.dilation = {state.range(8), state.range(8)};
  const int pass = int(state.range(9));
  engine::autograd::NoGradGuard no_grad;
  engine::Generator gen(1);
  Tensor x = engine::randn({n, h, w, c}, gen);
  Tensor wt = engine::randn({o, k, k, c}, gen, 0.0, 0.05);
  Tensor b = engine::randn({o}, gen);
  Tensor y = engine::conv2d(x, wt, b, p);
  Tensor gy = engine::randn(y.shape(), gen);
  for (auto _ : state) {
    Tensor r;
    if (pass == 0) r = engine::conv2d(x, wt, b, p);
    if (pass == 1) r = engine::conv2d_backward_input(gy, wt, x.shape(), p);
    if (pass == 2) r = engine::conv2d_backward_weight(x, gy, wt.shape(), p);
    benchmark::DoNotOptimize(r.raw_data());
  }
  const double flops = 2.0 * double(y.size(0) * y.size(1) * y.size(2)) * double(wt.numel());
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void shapes(benchmark::internal::Benchmark* bm) {
  bm->ArgNames({"N", "H", "W", "Cin", "Cout", "K", "s", "pad", "dil", "pass"});
  for (int pass : {0, 1, 2}) {
    bm->Args({2, 56, 56, 256, 256, 3, 1, 1, 1, pass});   // headline
    bm->Args({1, 42, 42, 1024, 256, 1, 1, 0, 1, pass});  // 1x1 1024->256
    bm->Args({1, 42, 42, 256, 256, 3, 1, 2, 2, pass});   // 3x3 dilation 2
    bm->Args({1, 84, 84, 64, 64, 3, 1, 1, 1, pass});     // 3x3 64->64
    bm->Args({2, 224, 224, 3, 64, 7, 2, 3, 1, pass});    // stem
  }
}

BENCHMARK(BM_conv2d)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
