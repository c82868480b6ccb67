// Data-side throughput on one core: Felzenszwalb–Huttenlocher over-segmentation of a VOC-sized
// (500x375) image, and synthetic scenes rendered per second. Run: build/bench/bench_data
#include <benchmark/benchmark.h>

#include "data/overseg.h"
#include "data/synthetic.h"

namespace {

// A VOC-sized synthetic scene: textured objects on a cluttered background.
engine::Tensor voc_sized_image() {
  data::SyntheticConfig cfg;
  cfg.height = 375;
  cfg.width = 500;
  return data::render_synthetic_scene(cfg, 11).image;
}

void BM_oversegment_500x375(benchmark::State& state) {
  engine::Tensor img = voc_sized_image();
  data::OversegParams params;
  int64_t regions = 0;
  for (auto _ : state) {
    engine::Tensor r = data::oversegment(img, params);
    regions = data::count_regions(r);
    benchmark::DoNotOptimize(r.raw_data());
  }
  state.counters["regions"] = double(regions);
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_oversegment_500x375)->Unit(benchmark::kMillisecond);

// range(0) = 0: render only; 1: render and over-segment (what make_synthetic does per image,
// without the file encoding).
void BM_synthetic_scene_96x128(benchmark::State& state) {
  data::SyntheticConfig cfg;
  uint64_t i = 0;
  for (auto _ : state) {
    data::SyntheticScene s =
        data::render_synthetic_scene(cfg, data::synthetic_scene_seed(1, 0, int64_t(i++)));
    if (state.range(0))
      benchmark::DoNotOptimize(data::oversegment(s.image, cfg.overseg).raw_data());
    benchmark::DoNotOptimize(s.image.raw_data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_synthetic_scene_96x128)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
