// Hot paths of the segmentation head on CPU: softmax over NHWC classes and the fused
// cross-entropy (forward, and forward + backward) at a VOC-like batch [16, 128, 128, 21].
// Counters report bytes moved per second (logits read, outputs written; GB/s).
#include <benchmark/benchmark.h>

#include "engine/ops/factory.h"
#include "engine/ops/loss.h"
#include "engine/ops/normalize.h"
#include "engine/ops/softmax.h"

namespace engine {
namespace {

constexpr int64_t kN = 16, kH = 128, kW = 128, kC = 21;

Tensor logits(bool grad) {
  Generator gen(1);
  Tensor x = randn({kN, kH, kW, kC}, gen, 0.0, 1.0, DType::f32);
  if (grad) x.set_requires_grad(true);
  return x;
}

Tensor labels() {
  Generator gen(2);
  return randint({kN, kH, kW}, 0, kC, gen, DType::i32);
}

void set_bytes(benchmark::State& state, double bytes) {
  state.counters["GB/s"] =
      benchmark::Counter(bytes * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_softmax_nhwc(benchmark::State& state) {
  Tensor x = logits(false);
  for (auto _ : state) benchmark::DoNotOptimize(softmax(x, -1));
  set_bytes(state, 2.0 * double(x.nbytes()));  // read x, write y
}
BENCHMARK(BM_softmax_nhwc)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_cross_entropy_forward(benchmark::State& state) {
  Tensor x = logits(false), t = labels();
  for (auto _ : state) benchmark::DoNotOptimize(cross_entropy(x, t));
  // Logits and labels read; per-pixel loss and log-sum-exp written.
  set_bytes(state, double(x.nbytes() + t.nbytes()) + 8.0 * double(t.numel()));
}
BENCHMARK(BM_cross_entropy_forward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_cross_entropy_forward_backward(benchmark::State& state) {
  Tensor x = logits(true), t = labels();
  for (auto _ : state) {
    Tensor loss = cross_entropy(x, t);
    loss.backward();
    x.zero_grad();
  }
  // Forward as above; backward reads logits, labels, lse and writes the logits' gradient.
  set_bytes(state, 3.0 * double(x.nbytes()) + 2.0 * double(t.nbytes()) + 12.0 * double(t.numel()));
}
BENCHMARK(BM_cross_entropy_forward_backward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_l2_normalize_embeddings(benchmark::State& state) {
  Generator gen(3);
  Tensor x = randn({kN, kH, kW, 64}, gen, 0.0, 1.0, DType::f32);
  for (auto _ : state) benchmark::DoNotOptimize(l2_normalize(x, -1));
  set_bytes(state, 2.0 * double(x.nbytes()));
}
BENCHMARK(BM_l2_normalize_embeddings)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace engine

BENCHMARK_MAIN();
