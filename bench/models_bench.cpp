// Whole-network CPU timings (issue 3 item 7; run with OMP_NUM_THREADS=2, see docs/models.md):
//   - ResNet-101 training step: torchvision stem, OS32, fc 1000, batch 2, 224x224: forward,
//     cross-entropy, backward, SGD (momentum 0.9, weight decay 1e-4) over every parameter.
//   - DeepLab-v2 (SPML's: deep stem, OS8, ASPP to D = 64, x2, L2 norm) forward in eval mode
//     without gradients, batch 1, 321x321.
// Both report wall time (UseRealTime) and the process CPU time of all threads, since the
// machine is shared.
#include <benchmark/benchmark.h>

#include "engine/autograd.h"
#include "engine/ops/factory.h"
#include "engine/ops/loss.h"
#include "engine/optim/sgd.h"
#include "models/embedding_model.h"
#include "models/resnet.h"

namespace {

void BM_ResNet101TrainStep(benchmark::State& state) {
  const int64_t batch = state.range(0), size = state.range(1);
  // Random weights (not zeros) so that every value is a realistic float; the seconds of
  // initialization stay outside the timed loop.
  auto model = models::resnet101(32, 1000, 0, /*random_init=*/true);
  model->train();
  engine::Generator gen(5);
  engine::Tensor image = engine::randn({batch, size, size, 3}, gen);
  engine::Tensor labels = engine::full({batch}, 7.0, engine::DType::i64);
  engine::optim::ParamGroup group{.name = "all", .weight_decay = 1e-4, .momentum = 0.9};
  for (const auto& [name, p] : model->named_parameters()) {
    group.params.push_back(p);
    group.param_names.push_back(name);
  }
  engine::optim::SGD sgd({group}, 1e-3);
  for (auto _ : state) {
    engine::Tensor loss = engine::cross_entropy(model->forward(image), labels);
    loss.backward();
    sgd.step();
    sgd.zero_grad();
    benchmark::DoNotOptimize(loss);
  }
  state.counters["img/s"] =
      benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ResNet101TrainStep)
    ->Args({2, 224})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Iterations(3);

void BM_DeepLabV2Forward(benchmark::State& state) {
  const int64_t size = state.range(0);
  auto model = models::deeplab_v2_resnet101(64, 1, /*random_init=*/true);
  model->eval();
  engine::Generator gen(6);
  engine::Tensor image = engine::randn({1, size, size, 3}, gen);
  engine::autograd::NoGradGuard no_grad;
  for (auto _ : state) {
    models::EmbeddingOutput out = model->forward(image);
    benchmark::DoNotOptimize(out.embedding);
  }
}
BENCHMARK(BM_DeepLabV2Forward)
    ->Arg(321)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
