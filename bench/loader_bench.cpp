// Loader throughput: images/s of augmented 512×512 batches (flip, scale 0.5–1.5, pad, crop) from
// an in-memory dataset of 500×375 images (decoding excluded), with 1, 2 and 4 worker threads.
// Run: build/bench/bench_loader --benchmark_filter=Loader
#include <benchmark/benchmark.h>

#include <memory>

#include "data/loader.h"

namespace {

using engine::DType;
using engine::Tensor;

class InMemoryVoc : public data::Dataset {
 public:
  explicit InMemoryVoc(int64_t n) {
    for (int64_t k = 0; k < n; ++k) {
      data::Sample s;
      s.id = "img" + std::to_string(k);
      s.image = Tensor::empty({375, 500, 3}, DType::u8);
      s.label = Tensor::empty({375, 500}, DType::u8);
      s.region = Tensor::empty({375, 500}, DType::i32);
      uint8_t* im = s.image.data<uint8_t>();
      for (int64_t i = 0; i < 375 * 500 * 3; ++i) im[i] = uint8_t((i * 7 + k * 13) & 255);
      for (int64_t i = 0; i < 375 * 500; ++i) {
        s.label.data<uint8_t>()[i] = uint8_t(i % 21);
        s.region.data<int32_t>()[i] = int32_t(i / 1000);
      }
      samples_.push_back(s);
    }
  }
  int64_t size() const override { return int64_t(samples_.size()); }
  data::Sample get(int64_t index) const override { return samples_[size_t(index)]; }
  int num_classes() const override { return 21; }
  std::string describe() const override { return "in-memory 500x375"; }

 private:
  std::vector<data::Sample> samples_;
};

void BM_LoaderCrop512(benchmark::State& state) {
  static auto dataset = std::make_shared<InMemoryVoc>(64);
  data::LoaderConfig cfg;
  cfg.batch_size = 16;
  cfg.threads = int(state.range(0));
  cfg.queue_capacity = 2 * cfg.threads;
  data::Loader loader(dataset, cfg);
  loader.next();  // warm-up: the first batch includes thread start
  int64_t images = 0;
  for (auto _ : state) {
    auto batch = loader.next();
    benchmark::DoNotOptimize(batch->images.raw_data());
    images += int64_t(batch->ids.size());
  }
  state.counters["images/s"] = benchmark::Counter(double(images), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LoaderCrop512)->Arg(1)->Arg(2)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond);

// One sample's augmentation alone (single thread, no loader).
void BM_AugmentOne(benchmark::State& state) {
  InMemoryVoc one(1);
  data::Sample s = one.get(0);
  data::AugmentConfig cfg;
  int64_t k = 0;
  for (auto _ : state) {
    engine::Generator gen = data::sample_generator(1, 0, k++ % 1000);
    data::Sample o = data::augment(s, cfg, gen);
    benchmark::DoNotOptimize(o.image.raw_data());
  }
  state.counters["images/s"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AugmentOne)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
