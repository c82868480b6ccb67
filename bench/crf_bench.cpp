// Dense CRF (spml/crf.h) at VOC size: 500×375, 21 classes, 10 mean-field iterations, SPML's
// §6.4 kernels. BM_dense_crf_voc: CPU, Arg = OpenMP threads. BM_dense_crf_voc_cuda: probs on
// cuda:0, timed to a stream synchronize, host lattice construction included (Arg = OpenMP threads
// of the host part, which is single-threaded hashing plus OpenMP neighbour lookups); reports
// "no CUDA device" / "built without CUDA" as a skip. Run: ./build/bench/bench_crf
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <random>
#include <vector>

#include "engine/device.h"
#include "spml/crf.h"
#include "spml/permutohedral.h"
#if ENGINE_WITH_CUDA
#include "engine/kernels/runtime.h"
#endif

namespace {

using engine::Tensor;

struct VocInputs {
  Tensor probs, img;
};

VocInputs voc_inputs() {
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
  return {probs, img};
}

void BM_dense_crf_voc(benchmark::State& state) {
  const VocInputs in = voc_inputs();
  const int saved = omp_get_max_threads();
  omp_set_num_threads(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    Tensor q = spml::dense_crf(in.probs, in.img);
    benchmark::DoNotOptimize(q.raw_data());
  }
  omp_set_num_threads(saved);
}
BENCHMARK(BM_dense_crf_voc)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The host part of the CUDA path on its own: building the d = 2 (Arg 2) or d = 5 (Arg 5)
// lattice over the VOC image's features (single-threaded hashing, OpenMP neighbour lookups).
void BM_lattice_build_voc(benchmark::State& state) {
  const VocInputs in = voc_inputs();
  const int h = 375, w = 500, d = static_cast<int>(state.range(0));
  const uint8_t* ip = in.img.data<uint8_t>();
  std::vector<float> f;
  f.reserve(static_cast<size_t>(h * w * d));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float sxy = d == 2 ? 1.0f : 67.0f;
      f.push_back(static_cast<float>(x) / sxy);
      f.push_back(static_cast<float>(y) / sxy);
      if (d == 5)
        for (int k = 0; k < 3; ++k) f.push_back(static_cast<float>(ip[(y * w + x) * 3 + k]) / 3.0f);
    }
  for (auto _ : state) {
    spml::PermutohedralLattice lat(f.data(), int64_t{h} * w, d);
    benchmark::DoNotOptimize(lat.num_vertices());
    state.counters["vertices"] = static_cast<double>(lat.num_vertices());
  }
}
BENCHMARK(BM_lattice_build_voc)->Arg(2)->Arg(5)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_dense_crf_voc_cuda(benchmark::State& state) {
#if ENGINE_WITH_CUDA
  if (!engine::cuda_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const VocInputs in = voc_inputs();
  const Tensor probs = in.probs.to(engine::Device::cuda(0));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(static_cast<int>(state.range(0)));
  spml::dense_crf(probs, in.img);  // fills the allocator's cache outside the timed loop
  engine::cuda::synchronize();
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    Tensor q = spml::dense_crf(probs, in.img);
    engine::cuda::synchronize();
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    benchmark::DoNotOptimize(q.raw_data());
  }
  omp_set_num_threads(saved);
#else
  state.SkipWithError("built without CUDA");
#endif
}
BENCHMARK(BM_dense_crf_voc_cuda)->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->UseManualTime();

}  // namespace
BENCHMARK_MAIN();
