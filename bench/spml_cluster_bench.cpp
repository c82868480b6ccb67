// SPML clustering at the VOC step size (16 images, 128×128 embedding, D=64 + 2 location dims):
// spherical K-Means (6×6 grid, 10 iterations), segment formation and segment pooling fwd+bwd.
// CPU here; the same calls run on CUDA tensors through the engine ops.
#include <benchmark/benchmark.h>

#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/ops/reduce.h"
#include "engine/random.h"
#include "spml/kmeans.h"
#include "spml/segment_pool.h"
#include "spml/segmentation.h"
#include "spml/side_features.h"

namespace {

using engine::Tensor;

struct Step {
  Tensor embedding, features, labels, regions;
  std::vector<uint64_t> tags;
};

Step make_step(int64_t n, int64_t h, int64_t d) {
  engine::Generator gen{1, 0};
  Step s;
  s.embedding = engine::l2_normalize(engine::randn({n, h, h, d}, gen), 3);
  s.features = spml::with_side_features(s.embedding, spml::location_features(n, h, h));
  Tensor lab = engine::randint({n, h, h}, 0, 30, gen).to(engine::DType::u8);
  uint8_t* lp = lab.data<uint8_t>();
  for (int64_t i = 0; i < lab.numel(); ++i)
    if (lp[i] > 20) lp[i] = 255;
  s.labels = lab;
  s.regions = engine::randint({n, h, h}, 0, 40, gen).to(engine::DType::i32);
  s.tags.assign(static_cast<size_t>(n), 0x6);
  return s;
}

void BM_KMeans(benchmark::State& state) {
  const int64_t n = state.range(0), h = state.range(1);
  Step s = make_step(n, h, 64);
  for (auto _ : state)
    benchmark::DoNotOptimize(spml::spherical_kmeans(s.features, Tensor(), {6, 10}));
  // Two GEMMs per iteration (M-step and E-step): 2 * 2 * P * K * F flops.
  double flops = 10.0 * 4.0 * static_cast<double>(n * h * h) * 36 * 66;
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["pixels/s"] = benchmark::Counter(static_cast<double>(n * h * h),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

void BM_SegmentsAndPooling(benchmark::State& state) {
  const int64_t n = state.range(0), h = state.range(1);
  Step s = make_step(n, h, 64);
  Tensor clusters = spml::spherical_kmeans(s.features, Tensor(), {6, 0});
  Tensor emb = s.embedding.detach();
  emb.set_requires_grad();
  int64_t segments = 0;
  for (auto _ : state) {
    spml::Segments seg = spml::make_segments(clusters, s.labels, s.regions, s.tags, 21);
    Tensor protos = spml::pool_prototypes(spml::segment_pixels(emb, seg), seg);
    engine::sum(protos).backward();
    segments = seg.num_segments();
  }
  state.counters["segments"] = static_cast<double>(segments);
  state.counters["pixels/s"] = benchmark::Counter(static_cast<double>(n * h * h),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_KMeans)->Args({4, 128})->Args({16, 128})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SegmentsAndPooling)->Args({4, 128})->Args({16, 128})->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
