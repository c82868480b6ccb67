// The pseudo-label random walk (spml/random_walk.h, spec §6.1) at the walk sizes of the reference:
// two views (plain and flipped back) of a D = 64 embedding, C = 21 seed channels, beta 5,
// power 20, 64 propagation steps.
//   BM_random_walk/<h>/<w>:        CPU, all OpenMP threads, 1/8 of a 375×500 VOC image (47×62).
//   BM_random_walk_transition:     CPU, the N×N transition matrix alone.
//   BM_random_walk_cuda/<h>/<w>:   views and seeds on cuda:0, timed to a stream synchronize; the
//                                  VOC size and the largest walk accepted (128×128 = 16384 px).
// Counters: N (walk pixels) and GFLOP/s counting 2·N²·D per view for the cosines and 2·N²·C per
// propagation step (the element-wise passes are not counted). Run: ./build/bench/bench_random_walk
#include <benchmark/benchmark.h>

#include <chrono>
#include <random>
#include <vector>

#include "engine/device.h"
#include "spml/random_walk.h"
#if ENGINE_WITH_CUDA
#include "engine/kernels/runtime.h"
#endif

namespace {

using engine::Tensor;

constexpr int64_t kDim = 64, kClasses = 21;

Tensor random_tensor(engine::Shape shape, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::empty(shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = u(rng);
  return t;
}

struct WalkInputs {
  std::vector<Tensor> views;
  Tensor seeds;
};

WalkInputs walk_inputs(int64_t h, int64_t w) {
  return {{random_tensor({h, w, kDim}, 1, -1, 1), random_tensor({h, w, kDim}, 2, -1, 1)},
          random_tensor({h, w, kClasses}, 3, 0, 1)};
}

void set_counters(benchmark::State& state, int64_t n) {
  const spml::RandomWalkConfig cfg;
  const double flops = 2.0 * 2.0 * double(n) * double(n) * double(kDim) +
                       double(1 << cfg.squarings) * 2.0 * double(n) * double(n) * double(kClasses);
  state.counters["N"] = double(n);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9 * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_random_walk(benchmark::State& state) {
  const int64_t h = state.range(0), w = state.range(1);
  const WalkInputs in = walk_inputs(h, w);
  for (auto _ : state) {
    Tensor s = spml::random_walk(in.views, in.seeds);
    benchmark::DoNotOptimize(s.raw_data());
  }
  set_counters(state, h * w);
}
BENCHMARK(BM_random_walk)->Args({47, 62})->Unit(benchmark::kMillisecond)->UseRealTime();

// The transition matrix alone (cosines, exp, power, column normalization), to split the above.
void BM_random_walk_transition(benchmark::State& state) {
  const int64_t h = state.range(0), w = state.range(1);
  const WalkInputs in = walk_inputs(h, w);
  for (auto _ : state) {
    Tensor t = spml::random_walk_transition(in.views);
    benchmark::DoNotOptimize(t.raw_data());
  }
  state.counters["N"] = double(h * w);
}
BENCHMARK(BM_random_walk_transition)->Args({47, 62})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_random_walk_cuda(benchmark::State& state) {
#if ENGINE_WITH_CUDA
  if (!engine::cuda_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t h = state.range(0), w = state.range(1);
  const WalkInputs host = walk_inputs(h, w);
  const engine::Device gpu = engine::Device::cuda(0);
  const std::vector<Tensor> views = {host.views[0].to(gpu), host.views[1].to(gpu)};
  const Tensor seeds = host.seeds.to(gpu);
  spml::random_walk(views, seeds);  // fills the allocator's cache outside the timed loop
  engine::cuda::synchronize();
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    Tensor s = spml::random_walk(views, seeds);
    engine::cuda::synchronize();
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    benchmark::DoNotOptimize(s.raw_data());
  }
  set_counters(state, h * w);
#else
  state.SkipWithError("built without CUDA");
#endif
}
BENCHMARK(BM_random_walk_cuda)
    ->Args({47, 62})
    ->Args({128, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

}  // namespace
BENCHMARK_MAIN();
