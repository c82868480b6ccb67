// Loader: identical batches whatever the thread count, deterministic order, exact resume from a
// saved state, worker errors reach the consumer naming the sample, the queue bound holds.
#include "data/loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "support/expect_error.h"

namespace {

using engine::DType;
using engine::Tensor;

// Images of varying sizes with content derived from the index; optional failure and a counter
// of get() calls.
class MemoryDataset : public data::Dataset {
 public:
  explicit MemoryDataset(int64_t n, int64_t fail_at = -1) : n_(n), fail_at_(fail_at) {}
  int64_t size() const override { return n_; }
  int num_classes() const override { return 21; }
  std::string describe() const override { return "memory test set"; }
  data::Sample get(int64_t index) const override {
    calls.fetch_add(1);
    ENGINE_CHECK(index != fail_at_, "cannot decode 'img{}.jpg': truncated JPEG", index);
    data::Sample s;
    s.id = "img" + std::to_string(index);
    int64_t h = 20 + index % 7, w = 24 + index % 5;
    s.image = Tensor::empty({h, w, 3}, DType::u8);
    s.label = Tensor::empty({h, w}, DType::u8);
    s.region = Tensor::empty({h, w}, DType::i32);
    for (int64_t i = 0; i < h * w; ++i) {
      for (int c = 0; c < 3; ++c) s.image.data<uint8_t>()[3 * i + c] = uint8_t(i * 3 + c + index);
      s.label.data<uint8_t>()[i] = uint8_t((i + index) % 21);
      s.region.data<int32_t>()[i] = int32_t(i);
    }
    s.tags = uint64_t(1) << (index % 20 + 1);
    return s;
  }
  mutable std::atomic<int64_t> calls{0};

 private:
  int64_t n_, fail_at_;
};

data::LoaderConfig small_config(int threads) {
  data::LoaderConfig c;
  c.batch_size = 4;
  c.threads = threads;
  c.queue_capacity = 3;
  c.seed = 11;
  c.augment = data::AugmentConfig{};
  c.augment->crop = 16;
  return c;
}

void expect_same_batch(const data::Batch& a, const data::Batch& b) {
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.next_state, b.next_state);
  EXPECT_EQ(a.images.to_vector<uint8_t>(), b.images.to_vector<uint8_t>());
  EXPECT_EQ(a.labels.to_vector<uint8_t>(), b.labels.to_vector<uint8_t>());
  EXPECT_EQ(a.regions.to_vector<int32_t>(), b.regions.to_vector<int32_t>());
  EXPECT_EQ(a.valid.to_vector<uint8_t>(), b.valid.to_vector<uint8_t>());
  EXPECT_EQ(a.tags.to_vector<int64_t>(), b.tags.to_vector<int64_t>());
}

TEST(Loader, SameBatchesWithOneAndThreeThreads) {
  auto ds = std::make_shared<MemoryDataset>(18);
  data::Loader one(ds, small_config(1)), three(ds, small_config(3));
  EXPECT_EQ(one.batches_per_epoch(), 4);
  for (int b = 0; b < 10; ++b) {  // crosses two epoch boundaries
    auto x = one.next(), y = three.next();
    ASSERT_TRUE(x && y);
    ASSERT_EQ(x->images.shape(), (engine::Shape{4, 16, 16, 3}));
    ASSERT_EQ(x->labels.shape(), (engine::Shape{4, 16, 16}));
    EXPECT_FALSE(x->full_labels.defined());
    expect_same_batch(*x, *y);
  }
}

TEST(Loader, PinnedBatchesHoldTheSameData) {
  // Pinned only where a CUDA device exists; the data must not depend on it either way.
  auto ds = std::make_shared<MemoryDataset>(8);
  data::LoaderConfig pinned_config = small_config(2);
  pinned_config.pin_memory = true;
  data::Loader plain(ds, small_config(2)), pinned(ds, pinned_config);
  auto x = plain.next(), y = pinned.next();
  ASSERT_TRUE(x && y);
  EXPECT_FALSE(x->images.is_pinned());
  EXPECT_EQ(y->images.is_pinned(), engine::cuda_available());
  expect_same_batch(*x, *y);
}

TEST(Loader, EpochIsAPermutationAndDependsOnSeed) {
  auto ds = std::make_shared<MemoryDataset>(18);
  data::Loader loader(ds, small_config(2));
  std::vector<std::string> epoch0, epoch1;
  for (int b = 0; b < 8; ++b) {
    auto batch = loader.next();
    ASSERT_TRUE(batch);
    EXPECT_EQ(batch->epoch, b / 4);
    for (const auto& id : batch->ids) (b < 4 ? epoch0 : epoch1).push_back(id);
  }
  // drop_last: 16 of 18 samples per epoch, all distinct.
  EXPECT_EQ(std::set<std::string>(epoch0.begin(), epoch0.end()).size(), 16u);
  EXPECT_NE(epoch0, epoch1);
  EXPECT_EQ(loader.state(), (data::LoaderState{2, 0, 11}));

  data::LoaderConfig other = small_config(2);
  other.seed = 12;
  data::Loader reseeded(ds, other);
  std::vector<std::string> ids;
  for (int b = 0; b < 4; ++b) {
    auto batch = reseeded.next();
    ids.insert(ids.end(), batch->ids.begin(), batch->ids.end());
  }
  EXPECT_NE(ids, epoch0);
}

TEST(Loader, ResumeFromSavedStateGivesIdenticalBatches) {
  auto ds = std::make_shared<MemoryDataset>(18);
  data::Loader original(ds, small_config(2));
  for (int b = 0; b < 3; ++b) original.next();
  std::string saved = original.state().to_json();
  EXPECT_EQ(saved, R"({"epoch":0,"position":12,"seed":11})");
  data::LoaderState state = data::LoaderState::from_json(saved);
  data::Loader resumed(ds, small_config(3), state);
  for (int b = 0; b < 6; ++b) {
    auto x = original.next(), y = resumed.next();
    ASSERT_TRUE(x && y);
    expect_same_batch(*x, *y);
  }
  // A state from another seed is refused.
  data::LoaderState wrong = state;
  wrong.seed = 5;
  engine::testing::expect_error([&] { data::Loader(ds, small_config(1), wrong); },
                                "saved state has seed 5");
  engine::testing::expect_error([] { data::LoaderState::from_json(R"({"epoch":1,"seed":2})"); },
                                "missing key \"position\"");
  engine::testing::expect_error([] { data::LoaderState::from_json("{\"epoch\":"); },
                                "invalid JSON");
}

TEST(Loader, WorkerErrorReachesConsumerNamingTheSample) {
  auto ds = std::make_shared<MemoryDataset>(12, /*fail_at=*/5);
  data::LoaderConfig cfg = small_config(3);
  cfg.shuffle = false;
  data::Loader loader(ds, cfg);
  ASSERT_TRUE(loader.next());  // samples 0..3
  engine::testing::expect_error(
      [&] { loader.next(); },
      std::vector<std::string>{"sample 5", "memory test set", "img5.jpg", "truncated JPEG"});
  auto after = loader.next();  // the failed batch is skipped, the loader goes on
  ASSERT_TRUE(after);
  EXPECT_EQ(after->ids.front(), "img8");
}

TEST(Loader, QueueBoundRespected) {
  auto ds = std::make_shared<MemoryDataset>(400);
  data::LoaderConfig cfg = small_config(4);
  cfg.queue_capacity = 2;
  data::Loader loader(ds, cfg);
  ASSERT_TRUE(loader.next());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // One batch consumed, at most two more loaded or loading.
  EXPECT_LE(ds->calls.load(), (1 + 2) * 4);
  EXPECT_GE(ds->calls.load(), 2 * 4);
  for (int b = 0; b < 5; ++b) loader.next();
  EXPECT_LE(loader.max_in_flight(), 2);
}

TEST(Loader, OnePassEvalPadsToLargestAndKeepsLastPartialBatch) {
  auto ds = std::make_shared<MemoryDataset>(7);
  data::LoaderConfig cfg;
  cfg.batch_size = 3;
  cfg.threads = 2;
  cfg.shuffle = false;
  cfg.drop_last = false;
  cfg.repeat = false;
  cfg.augment.reset();
  cfg.eval_multiple = 8;
  data::Loader loader(ds, cfg);
  std::vector<int64_t> counts;
  while (auto batch = loader.next()) {
    counts.push_back(int64_t(batch->ids.size()));
    const Tensor& v = batch->valid;
    int64_t H = v.size(1), W = v.size(2);
    EXPECT_EQ(H % 8, 0);
    EXPECT_EQ(W % 8, 0);
    for (size_t i = 0; i < batch->ids.size(); ++i) {
      int64_t idx = batch->indices[i], h = 20 + idx % 7, w = 24 + idx % 5, ones = 0;
      for (int64_t k = 0; k < H * W; ++k) ones += v.data<uint8_t>()[int64_t(i) * H * W + k];
      EXPECT_EQ(ones, h * w) << batch->ids[i];
      // Unaugmented pixel (0, 1) of the label is the dataset's.
      EXPECT_EQ(batch->labels.data<uint8_t>()[int64_t(i) * H * W + 1], uint8_t((1 + idx) % 21));
    }
  }
  EXPECT_EQ(counts, (std::vector<int64_t>{3, 3, 1}));
  EXPECT_FALSE(loader.next());
  EXPECT_EQ(loader.state(), (data::LoaderState{1, 0, 235}));
}

TEST(Loader, BadConfigErrors) {
  auto ds = std::make_shared<MemoryDataset>(3);
  data::LoaderConfig cfg = small_config(1);
  engine::testing::expect_error([&] { data::Loader(ds, cfg); }, "batch size 4 exceeds the 3");
  cfg.batch_size = 2;
  cfg.threads = 0;
  engine::testing::expect_error([&] { data::Loader(ds, cfg); }, "threads must be >= 1");
}

}  // namespace
