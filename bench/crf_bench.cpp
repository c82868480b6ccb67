// Dense CRF (spml/crf.h) at VOC size: 500×375, 21 classes, 10 mean-field iterations, SPML's
// §6.4 kernels; Arg = OpenMP threads. Run: ./build/bench/bench_crf
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>

#include "spml/crf.h"

namespace {

using engine::Tensor;

void BM_dense_crf_voc(benchmark::State& state) {
  const int h = 375, w = 500, c = 21;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Tensor probs = Tensor::empty({h, w, c});
  float* p = probs.data<float>();
  for (int i = 0; i < h * w; ++i) {
    float s = 0.0f;
    for (int l = 0; l < c; ++l) s += (p[i * c + l] = u(rng));
    for (int l = 0; l < c; ++l) p[i * c + l] /= s;
  }
  // A blocky image so the bilateral lattice has realistic occupancy.
  Tensor img = Tensor::empty({h, w, 3}, engine::DType::u8);
  uint8_t* ip = img.data<uint8_t>();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < 3; ++k)
        ip[(y * w + x) * 3 + k] = static_cast<uint8_t>(
            ((x / 50) * 37 + (y / 40) * 91 + k * 60 + static_cast<int>(u(rng) * 10)) % 256);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    Tensor q = spml::dense_crf(probs, img);
    benchmark::DoNotOptimize(q.raw_data());
  }
  omp_set_num_threads(saved);
}
BENCHMARK(BM_dense_crf_voc)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
BENCHMARK_MAIN();
