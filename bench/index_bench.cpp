// Indexing hot paths at SPML sizes: segment pooling of one VOC training step (16 images of
// 128x128 pixels = 262144 pixels, 64-d embeddings, ~2000 segments), forward and backward.
// Counters: GB/s of the bytes each call must move (inputs read + outputs written).
#include <benchmark/benchmark.h>

#include "engine/ops/factory.h"
#include "engine/ops/index.h"
#include "engine/random.h"

namespace engine {
namespace {

constexpr int64_t kPixels = 16 * 128 * 128;
constexpr int64_t kDim = 64;
constexpr int64_t kSegments = 2000;

void set_rate(benchmark::State& state, double bytes) {
  state.counters["GB/s"] =
      benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Forward: read x [P, D] and ids [P], write sums [S, D].
void BM_SegmentSumForward(benchmark::State& state) {
  Generator gen(1);
  Tensor x = randn({kPixels, kDim}, gen);
  Tensor ids = randint({kPixels}, 0, kSegments, gen, DType::i32);
  for (auto _ : state) benchmark::DoNotOptimize(segment_sum(x, ids, kSegments).raw_data());
  set_rate(state, double(kPixels * kDim * 4 + kPixels * 4 + kSegments * kDim * 4));
}
BENCHMARK(BM_SegmentSumForward)->Unit(benchmark::kMillisecond)->UseRealTime();

// Forward + backward through autograd: the backward reads the gradient [S, D] and ids, and
// writes the gradient of x [P, D].
void BM_SegmentSumForwardBackward(benchmark::State& state) {
  Generator gen(1);
  Tensor x = randn({kPixels, kDim}, gen).set_requires_grad();
  Tensor ids = randint({kPixels}, 0, kSegments, gen, DType::i32);
  Tensor g = randn({kSegments, kDim}, gen);
  for (auto _ : state) {
    x.zero_grad();
    segment_sum(x, ids, kSegments).backward(g);
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  const double fwd = double(kPixels * kDim * 4 + kPixels * 4 + kSegments * kDim * 4);
  set_rate(state, 2 * fwd);
}
BENCHMARK(BM_SegmentSumForwardBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

// The backward alone: prototype rows gathered per pixel, [S, D] -> [P, D].
void BM_IndexSelectRows(benchmark::State& state) {
  Generator gen(1);
  Tensor protos = randn({kSegments, kDim}, gen);
  Tensor ids = randint({kPixels}, 0, kSegments, gen, DType::i64);
  for (auto _ : state) benchmark::DoNotOptimize(index_select(protos, 0, ids).raw_data());
  set_rate(state, double(kSegments * kDim * 4 + kPixels * 8 + kPixels * kDim * 4));
}
BENCHMARK(BM_IndexSelectRows)->Unit(benchmark::kMillisecond)->UseRealTime();

// Per-pixel pick of one class score: logits [P, 21] gathered by labels [P, 1].
void BM_GatherLastDim(benchmark::State& state) {
  Generator gen(1);
  Tensor logits = randn({kPixels, 21}, gen);
  Tensor labels = randint({kPixels, 1}, 0, 21, gen, DType::i64);
  for (auto _ : state) benchmark::DoNotOptimize(gather(logits, 1, labels).raw_data());
  set_rate(state, double(kPixels * 8 + kPixels * 4 * 2));
}
BENCHMARK(BM_GatherLastDim)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace engine

BENCHMARK_MAIN();
