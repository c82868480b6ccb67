// Loader: batches from a data::Dataset, decoded and augmented ahead of the consumer by worker
// threads into a bounded queue, delivered strictly in order.
//
// Determinism: the sample order of epoch e is a Philox-keyed permutation of (seed, e) (or the
// identity without shuffle), and sample i of epoch e is augmented with
// sample_generator(seed, e, i) (data/transforms.h). Nothing depends on which worker loads what,
// so the batches are bit-identical for any thread count.
//
// Resume: LoaderState{epoch, position, seed} is the point after the last batch handed out;
// a Loader built from a saved state yields exactly the batches the original would have yielded
// next. The state serializes to a small JSON object for checkpoints.
//
// Batches are CPU tensors; with LoaderConfig::pin_memory they are page-locked (when a CUDA device
// is present), so the consumer's `.to(device)` copies from pinned memory. Moving to the device
// and normalizing (normalize_images) is the caller's job.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "data/sample.h"
#include "data/transforms.h"
#include "engine/tensor.h"

namespace data {

struct LoaderState {
  int64_t epoch = 0;
  int64_t position = 0;  // samples of `epoch` already handed out
  uint64_t seed = 0;
  bool operator==(const LoaderState&) const = default;
  // {"epoch":E,"position":P,"seed":S}
  std::string to_json() const;
  // Errors name what is missing or mistyped.
  static LoaderState from_json(const std::string& json);
};

struct LoaderConfig {
  int64_t batch_size = 16;
  int threads = 4;             // worker threads (>= 1)
  int64_t queue_capacity = 4;  // batches loaded ahead of the consumer, in flight included (>= 1)
  bool shuffle = true;         // a fresh permutation each epoch
  bool drop_last = true;       // skip an epoch's last partial batch (training)
  bool repeat = true;          // run epoch after epoch; false: next() ends after one epoch
  uint64_t seed = 235;
  // Training augmentation (random flip/scale/crop) when set; otherwise eval_transform with
  // eval_multiple, and samples of a batch padded (bottom/right, valid = 0) to the largest one.
  std::optional<AugmentConfig> augment = AugmentConfig{};
  int eval_multiple = 1;
  // Batches in page-locked host memory (Tensor::empty_pinned) for a CUDA consumer.
  bool pin_memory = false;
};

// N samples of one size. Maps absent from the dataset's samples are undefined tensors.
struct Batch {
  std::vector<std::string> ids;
  std::vector<int64_t> indices;  // dataset indices
  engine::Tensor images;         // u8 [N, H, W, 3] RGB
  engine::Tensor labels;         // u8 [N, H, W], 255 unlabeled
  engine::Tensor full_labels;    // u8 [N, H, W]
  engine::Tensor regions;        // i32 [N, H, W], -1 on padding
  engine::Tensor valid;          // u8 [N, H, W], 0 on padding
  engine::Tensor tags;           // i64 [N] class bitmasks (bit c = class c)
  int64_t epoch = 0;             // the epoch these samples come from
  LoaderState next_state;        // the loader's state once this batch is consumed
};

class Loader {
 public:
  // Starts at epoch 0, position 0 with config.seed.
  Loader(std::shared_ptr<const Dataset> dataset, LoaderConfig config);
  // Continues from a saved state (its seed must equal config.seed).
  Loader(std::shared_ptr<const Dataset> dataset, LoaderConfig config, const LoaderState& start);
  ~Loader();  // stops and joins the workers
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The next batch in order; blocks until it is loaded. Without repeat, empty after the epoch.
  // A worker's failure is rethrown here as engine::Error naming the sample (index, id when
  // known) and the dataset, with the original message (which names the file).
  std::optional<Batch> next();

  // The state after the last batch returned by next() (the start state before any).
  LoaderState state() const { return state_; }
  // Batches per epoch under the config (the first epoch after a resume may have fewer).
  int64_t batches_per_epoch() const;
  // Largest number of loaded or loading batches seen waiting at once (for tests of the bound).
  int64_t max_in_flight() const;

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  // Where batch `seq` (0 = the first after the start state) begins.
  struct BatchSpan {
    int64_t epoch, position, count;
  };
  std::optional<BatchSpan> span_of(int64_t seq) const;
  std::vector<int64_t> permutation(int64_t epoch) const;
  Batch load_batch(const BatchSpan& span);
  void worker();

  std::shared_ptr<const Dataset> dataset_;
  LoaderConfig config_;
  LoaderState start_, state_;
  int64_t size_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  int64_t next_claim_ = 0;     // next batch sequence number a worker may take
  int64_t next_deliver_ = 0;   // next batch sequence number next() returns
  int64_t max_in_flight_ = 0;  // statistics
  std::map<int64_t, Slot> done_;
  bool stop_ = false;
  // One cached permutation per epoch a worker is on (workers may straddle an epoch boundary).
  mutable std::map<int64_t, std::shared_ptr<const std::vector<int64_t>>> perms_;
  std::vector<std::thread> threads_;
};

}  // namespace data
