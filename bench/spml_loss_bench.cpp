// SPML loss lab (CPU): the fused tiled loss (spml/loss_fused.h) forward+backward at a moderate
// size against the unfused reference at a tiny size, in pixels/s; prints the fused loss's memory
// at the VOC step size. Run: build/bench/bench_spml_loss
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <random>

#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/random.h"
#include "spml/loss_fused.h"
#include "spml/loss_reference.h"

namespace {

using engine::DType;
using engine::Tensor;
using spml::LossInputs;

// `images` images of `pixels_per_image` pixels and `segs` segments each, `memory` bank segments,
// VOC-like keys (21 classes, a third unlabeled, 2-3 tags per image).
LossInputs make(int64_t images, int64_t pixels_per_image, int64_t segs, int64_t memory, int64_t d) {
  std::mt19937 rng(1);
  engine::Generator gen(2);
  auto unit = [&](int64_t n, int64_t k) {
    return engine::l2_normalize(engine::randn({n, k}, gen), 1).detach();
  };
  const int64_t sc = images * segs, p = images * pixels_per_image;
  std::vector<int32_t> own(static_cast<size_t>(p)), label(static_cast<size_t>(sc)),
      image(static_cast<size_t>(sc)), region(static_cast<size_t>(sc));
  std::vector<int64_t> tags(static_cast<size_t>(sc));
  for (int64_t n = 0; n < images; ++n) {
    int64_t t = (int64_t(1) << (rng() % 21)) | (int64_t(1) << (rng() % 21)) | 1;
    for (int64_t s = 0; s < segs; ++s) {
      const int64_t j = n * segs + s;
      image[j] = int32_t(n);
      label[j] = rng() % 3 == 0 ? spml::kUnlabeledSegment : int32_t(rng() % 21);
      region[j] = int32_t(rng() % (segs / 2 + 1));
      tags[j] = t;
    }
    for (int64_t i = 0; i < pixels_per_image; ++i)
      own[n * pixels_per_image + i] = int32_t(n * segs + int64_t(rng() % segs));
  }
  std::sort(own.begin(), own.end());
  LossInputs in;
  in.embedding = unit(p, d).set_requires_grad();
  in.embedding_loc = unit(p, d + 2).set_requires_grad();
  in.pixel_segment = Tensor::from_vector(own, {p});
  in.current.prototypes = unit(sc, d).set_requires_grad();
  in.current.prototypes_loc = unit(sc, d + 2).set_requires_grad();
  in.current.label = Tensor::from_vector(label, {sc});
  in.current.image = Tensor::from_vector(image, {sc});
  in.current.region = Tensor::from_vector(region, {sc});
  in.current.tags = Tensor::from_vector(tags, {sc});
  if (memory > 0) {
    std::vector<int32_t> ml(static_cast<size_t>(memory)), mi(static_cast<size_t>(memory)),
        mr(static_cast<size_t>(memory), 0);
    std::vector<int64_t> mt(static_cast<size_t>(memory));
    for (int64_t j = 0; j < memory; ++j) {
      ml[j] = label[j % sc];
      mi[j] = int32_t(100 + j / segs);
      mt[j] = tags[j % sc];
    }
    in.memory.prototypes = unit(memory, d);
    in.memory.label = Tensor::from_vector(ml, {memory});
    in.memory.image = Tensor::from_vector(mi, {memory});
    in.memory.region = Tensor::from_vector(mr, {memory});
    in.memory.tags = Tensor::from_vector(mt, {memory});
  }
  return in;
}

template <bool kFused>
void run(benchmark::State& state, const LossInputs& in) {
  const spml::LossConfig c = spml::loss_preset("voc_scribble");
  auto ce = engine::zeros({});
  for (auto _ : state) {
    auto l = kFused ? spml::spml_loss_fused(in, c) : spml::spml_loss_reference(in, c);
    Tensor t = spml::total_loss(c, l, ce);
    t.backward();
    benchmark::DoNotOptimize(in.embedding.grad().data<float>());
  }
  state.counters["pixels/s"] = benchmark::Counter(double(in.embedding.size(0)),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

// 4 images × 64×64 pixels, 100 segments each (400) + 800 memory, D = 64.
void BM_FusedForwardBackward(benchmark::State& state) {
  static const LossInputs in = make(4, 64 * 64, 100, 800, 64);
  run<true>(state, in);
}
BENCHMARK(BM_FusedForwardBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

// Tiny size for both: 2 images × 16×16 pixels, 20 segments each + 40 memory, D = 64.
void BM_FusedTiny(benchmark::State& state) {
  static const LossInputs in = make(2, 16 * 16, 20, 40, 64);
  run<true>(state, in);
}
BENCHMARK(BM_FusedTiny)->Unit(benchmark::kMillisecond)->UseRealTime();
void BM_ReferenceTiny(benchmark::State& state) {
  static const LossInputs in = make(2, 16 * 16, 20, 40, 64);
  run<false>(state, in);
}
BENCHMARK(BM_ReferenceTiny)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  const auto m =
      spml::fused_loss_memory(262144, 600, 1200, 64, 66, spml::loss_preset("voc_scribble"), 16);
  fmt::print(
      "fused loss memory at the VOC step (262144 pixels, 600 + 1200 segments, D 64/66, 16 "
      "threads): keys {} B, saved {} B, candidates {} B, scratch {} B, gradients {} B, total {} "
      "B ({:.1f} MiB); a dense P x S f32 matrix would be {:.1f} MiB per relation\n",
      m.keys, m.saved, m.candidates, m.scratch, m.gradients, m.total(), m.total() / 1048576.0,
      262144.0 * 1800 * 4 / 1048576.0);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
