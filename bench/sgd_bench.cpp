// SGD step throughput on one parameter of n f32 elements (momentum + weight decay: reads p, g,
// buf, writes p, buf = 20 bytes per element). Sizes span a BN vector to a ResNet layer4 conv.
#include <benchmark/benchmark.h>

#include "engine/ops/factory.h"
#include "engine/optim/sgd.h"

namespace {

void BM_SgdStep(benchmark::State& state) {
  const int64_t n = state.range(0);
  engine::Generator gen(3);
  engine::Tensor p = engine::randn({n}, gen).set_requires_grad(true);
  p.set_grad(engine::randn({n}, gen));
  engine::optim::SGD opt(
      {{.name = "w", .params = {p}, .weight_decay = 1e-4, .momentum = 0.9, .nesterov = false}},
      1e-6);
  for (auto _ : state) {
    opt.step();
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(double(n) * 20.0 * double(state.iterations()),
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SgdStep)->Arg(2048)->Arg(1 << 16)->Arg(589824)->Arg(2359296)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
