#include "data/loader.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "engine/random.h"

namespace data {

using engine::DType;
using engine::Tensor;

std::string LoaderState::to_json() const {
  return fmt::format(R"({{"epoch":{},"position":{},"seed":{}}})", epoch, position, seed);
}

LoaderState LoaderState::from_json(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(json).get(root);
  ENGINE_CHECK(!err, "loader state: invalid JSON ({}): '{}'", simdjson::error_message(err), json);
  ENGINE_CHECK(root.is_object(), "loader state: expected a JSON object, got '{}'", json);
  LoaderState s;
  auto get_int = [&](const char* key) {
    simdjson::dom::element v;
    ENGINE_CHECK(!root[key].get(v), "loader state: missing key \"{}\" in '{}'", key, json);
    int64_t i = 0;
    uint64_t u = 0;
    if (!v.get_int64().get(i)) return uint64_t(i);
    ENGINE_CHECK(!v.get_uint64().get(u), "loader state: \"{}\" must be an integer in '{}'", key,
                 json);
    return u;
  };
  s.epoch = int64_t(get_int("epoch"));
  s.position = int64_t(get_int("position"));
  s.seed = get_int("seed");
  ENGINE_CHECK(s.epoch >= 0 && s.position >= 0,
               "loader state: epoch and position must be >= 0 in '{}'", json);
  return s;
}

Loader::Loader(std::shared_ptr<const Dataset> dataset, LoaderConfig config)
    : Loader(std::move(dataset), config, LoaderState{0, 0, config.seed}) {}

Loader::Loader(std::shared_ptr<const Dataset> dataset, LoaderConfig config,
               const LoaderState& start)
    : dataset_(std::move(dataset)), config_(std::move(config)), start_(start), state_(start) {
  ENGINE_CHECK(dataset_ != nullptr, "Loader: no dataset");
  size_ = dataset_->size();
  ENGINE_CHECK(size_ > 0, "Loader: dataset {} is empty", dataset_->describe());
  ENGINE_CHECK(config_.batch_size >= 1, "Loader: batch size must be >= 1, got {}",
               config_.batch_size);
  ENGINE_CHECK(config_.threads >= 1, "Loader: threads must be >= 1, got {}", config_.threads);
  ENGINE_CHECK(config_.queue_capacity >= 1, "Loader: queue capacity must be >= 1, got {}",
               config_.queue_capacity);
  ENGINE_CHECK(config_.eval_multiple >= 1, "Loader: eval multiple must be >= 1, got {}",
               config_.eval_multiple);
  ENGINE_CHECK(!config_.drop_last || config_.batch_size <= size_,
               "Loader: batch size {} exceeds the {} samples of {} with drop_last: no batch at all",
               config_.batch_size, size_, dataset_->describe());
  ENGINE_CHECK(start.seed == config_.seed,
               "Loader: saved state has seed {} but the config's seed is {}; resuming with "
               "another seed would not reproduce the run",
               start.seed, config_.seed);
  ENGINE_CHECK(start.position <= size_,
               "Loader: saved position {} is beyond the {} samples of {} (dataset changed?)",
               start.position, size_, dataset_->describe());
  threads_.reserve(size_t(config_.threads));
  for (int t = 0; t < config_.threads; ++t) threads_.emplace_back([this] { worker(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

int64_t Loader::batches_per_epoch() const {
  int64_t b = config_.batch_size;
  return config_.drop_last ? size_ / b : (size_ + b - 1) / b;
}

int64_t Loader::max_in_flight() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return max_in_flight_;
}

std::optional<Loader::BatchSpan> Loader::span_of(int64_t seq) const {
  int64_t b = config_.batch_size;
  int64_t remaining = size_ - start_.position;
  int64_t first = config_.drop_last ? remaining / b : (remaining + b - 1) / b;
  BatchSpan s{};
  if (seq < first) {
    s.epoch = start_.epoch;
    s.position = start_.position + seq * b;
  } else {
    if (!config_.repeat) return std::nullopt;
    int64_t per = batches_per_epoch(), rest = seq - first;
    s.epoch = start_.epoch + 1 + rest / per;
    s.position = (rest % per) * b;
  }
  s.count = std::min(b, size_ - s.position);
  return s;
}

std::vector<int64_t> Loader::permutation(int64_t epoch) const {
  std::vector<int64_t> perm(size_t(size_), 0);
  for (int64_t i = 0; i < size_; ++i) perm[size_t(i)] = i;
  if (!config_.shuffle) return perm;
  // A key of its own, so that shuffling never shares counters with the augmentation streams.
  engine::Generator gen(config_.seed ^ 0x9E3779B97F4A7C15ull, uint64_t(epoch) << 40);
  for (int64_t i = size_ - 1; i > 0; --i)
    std::swap(perm[size_t(i)], perm[size_t(gen.next_below(uint64_t(i + 1)))]);
  return perm;
}

namespace {

// Copies a dense [h, w, c] map into the top-left of a [H, W, c] slice, filling the rest with pad.
// `pad` holds one pixel's c values.
Tensor batch_tensor(const engine::Shape& shape, DType dtype, bool pinned) {
  return pinned ? Tensor::empty_pinned(shape, dtype) : Tensor::empty(shape, dtype);
}

template <typename T>
void paste(const Tensor& src, T* dst, int64_t H, int64_t W, int64_t c, const T* pad) {
  Tensor s = src.contiguous();
  const T* p = s.data<T>();
  int64_t h = src.size(0), w = src.size(1);
  for (int64_t y = 0; y < H; ++y) {
    T* row = dst + y * W * c;
    int64_t x0 = 0;
    if (y < h) {
      std::memcpy(row, p + y * w * c, size_t(w * c) * sizeof(T));
      x0 = w;
    }
    for (int64_t x = x0; x < W; ++x)
      for (int64_t k = 0; k < c; ++k) row[x * c + k] = pad[k];
  }
}

template <typename T>
Tensor stack_maps(const std::vector<Sample>& samples, Tensor Sample::*field, const char* name,
                  DType dtype, int64_t H, int64_t W, T pad, bool pinned) {
  if (std::none_of(samples.begin(), samples.end(),
                   [&](const Sample& s) { return (s.*field).defined(); }))
    return Tensor();
  for (const Sample& s : samples)
    ENGINE_CHECK((s.*field).defined(), "Loader: sample '{}' has no {} while others in its batch do",
                 s.id, name);
  Tensor out = batch_tensor({int64_t(samples.size()), H, W}, dtype, pinned);
  T* d = out.data<T>();
  for (size_t i = 0; i < samples.size(); ++i)
    paste<T>(samples[i].*field, d + i * H * W, H, W, 1, &pad);
  return out;
}

}  // namespace

Batch Loader::load_batch(const BatchSpan& span) {
  std::shared_ptr<const std::vector<int64_t>> perm;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = perms_.find(span.epoch);
    if (it != perms_.end()) perm = it->second;
  }
  if (!perm) {
    auto fresh = std::make_shared<const std::vector<int64_t>>(permutation(span.epoch));
    std::lock_guard<std::mutex> lock(mutex_);
    perm = perms_.emplace(span.epoch, fresh).first->second;
    // Workers claim batches in order, so epochs before the previous one are finished.
    while (!perms_.empty() && perms_.begin()->first < span.epoch - 1) perms_.erase(perms_.begin());
  }

  Batch batch;
  batch.epoch = span.epoch;
  std::vector<Sample> samples;
  samples.reserve(size_t(span.count));
  for (int64_t k = 0; k < span.count; ++k) {
    int64_t index = (*perm)[size_t(span.position + k)];
    std::string id;
    try {
      Sample s = dataset_->get(index);
      id = s.id;
      engine::Generator gen = sample_generator(config_.seed, span.epoch, index);
      samples.push_back(config_.augment ? augment(s, *config_.augment, gen)
                                        : eval_transform(s, 1.0, config_.eval_multiple));
    } catch (const std::exception& e) {
      const auto* ee = dynamic_cast<const engine::Error*>(&e);
      ENGINE_THROW("Loader: sample {}{} of {} (epoch {}) failed: {}", index,
                   id.empty() ? std::string() : fmt::format(" ('{}')", id), dataset_->describe(),
                   span.epoch, ee ? ee->message() : std::string(e.what()));
    }
    batch.ids.push_back(samples.back().id);
    batch.indices.push_back(index);
  }

  int64_t n = span.count, H = 0, W = 0;
  for (const Sample& s : samples) {
    H = std::max(H, s.image.size(0));
    W = std::max(W, s.image.size(1));
  }
  const bool pin = config_.pin_memory;
  batch.images = batch_tensor({n, H, W, 3}, DType::u8, pin);
  for (int64_t i = 0; i < n; ++i) {
    uint8_t* d = batch.images.data<uint8_t>() + i * H * W * 3;
    // Padding of a smaller sample gets the mean colour, as augmentation padding does.
    paste<uint8_t>(samples[size_t(i)].image, d, H, W, 3, kPadColor.data());
  }
  batch.labels =
      stack_maps<uint8_t>(samples, &Sample::label, "label", DType::u8, H, W, kUnlabeled, pin);
  batch.full_labels = stack_maps<uint8_t>(samples, &Sample::full_label, "full_label", DType::u8, H,
                                          W, kUnlabeled, pin);
  batch.regions =
      stack_maps<int32_t>(samples, &Sample::region, "region", DType::i32, H, W, kPadRegion, pin);
  batch.valid = stack_maps<uint8_t>(samples, &Sample::valid, "valid", DType::u8, H, W, 0, pin);
  batch.tags = batch_tensor({n}, DType::i64, pin);
  for (int64_t i = 0; i < n; ++i) batch.tags.data<int64_t>()[i] = int64_t(samples[size_t(i)].tags);

  int64_t end = span.position + span.count;
  bool epoch_done = config_.drop_last ? end + config_.batch_size > size_ : end >= size_;
  batch.next_state = epoch_done ? LoaderState{span.epoch + 1, 0, config_.seed}
                                : LoaderState{span.epoch, end, config_.seed};
  return batch;
}

void Loader::worker() {
  while (true) {
    int64_t seq = 0;
    std::optional<BatchSpan> span;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock,
                    [&] { return stop_ || next_claim_ < next_deliver_ + config_.queue_capacity; });
      if (stop_) return;
      seq = next_claim_;
      span = span_of(seq);
      if (!span) return;  // one pass only, and it is fully claimed
      ++next_claim_;
      max_in_flight_ = std::max(max_in_flight_, next_claim_ - next_deliver_);
    }
    Slot slot;
    try {
      slot.batch = load_batch(*span);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.emplace(seq, std::move(slot));
    }
    ready_cv_.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  Slot slot;
  std::optional<BatchSpan> span;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    span = span_of(next_deliver_);
    if (!span) return std::nullopt;
    ready_cv_.wait(lock, [&] { return done_.count(next_deliver_) > 0; });
    auto it = done_.find(next_deliver_);
    slot = std::move(it->second);
    done_.erase(it);
    ++next_deliver_;
  }
  work_cv_.notify_all();
  if (slot.error) {
    // The failed batch is skipped: the state moves past it, as it would have on success.
    int64_t end = span->position + span->count;
    bool epoch_done = config_.drop_last ? end + config_.batch_size > size_ : end >= size_;
    state_ = epoch_done ? LoaderState{span->epoch + 1, 0, config_.seed}
                        : LoaderState{span->epoch, end, config_.seed};
    std::rethrow_exception(slot.error);
  }
  state_ = slot.batch->next_state;
  return std::move(slot.batch);
}

}  // namespace data
