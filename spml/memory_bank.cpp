#include "spml/memory_bank.h"

#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/join.h"

namespace spml {

using engine::Tensor;

namespace {

Tensor cpu_copy(const Tensor& t) {
  return t.detach().to(engine::Device::cpu()).contiguous().clone();
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<T>(p, p + t.numel());
}

}  // namespace

MemoryBank::MemoryBank(int capacity) : capacity_(capacity) {
  ENGINE_CHECK(capacity >= 0, "MemoryBank: capacity must be >= 0 batches, got {}", capacity);
}

void MemoryBank::push(const SegmentSet& batch, int64_t num_images) {
  if (capacity_ == 0) return;
  ENGINE_CHECK(batch.prototypes.defined() && batch.prototypes.dim() == 2 &&
                   batch.prototypes.shape()[0] == batch.size(),
               "MemoryBank::push: prototypes must be [S, D] with S = {} segments, got {}",
               batch.size(), batch.prototypes.defined() ? batch.prototypes.desc() : "undefined");
  if (!entries_.empty())
    ENGINE_CHECK(entries_.front().set.prototypes.shape()[1] == batch.prototypes.shape()[1],
                 "MemoryBank::push: prototypes {} differ in D from the stored {}",
                 batch.prototypes.desc(), entries_.front().set.prototypes.desc());
  Entry e;
  {
    engine::autograd::NoGradGuard no_grad;
    e.set.prototypes = batch.prototypes.detach().clone();
    // contents() concatenates the entries' prototypes, so they must share a device: entries
    // restored onto another device (load_state) follow the newest batch, once.
    for (Entry& old : entries_)
      if (old.set.prototypes.device() != e.set.prototypes.device())
        old.set.prototypes = old.set.prototypes.to(e.set.prototypes.device());
  }
  e.set.label = cpu_copy(batch.label);
  e.set.image = cpu_copy(batch.image);
  e.set.region = cpu_copy(batch.region);
  e.set.tags = cpu_copy(batch.tags);
  e.num_images = num_images;
  entries_.push_front(std::move(e));
  while (static_cast<int>(entries_.size()) > capacity_) entries_.pop_back();
}

int64_t MemoryBank::num_segments() const {
  int64_t n = 0;
  for (const Entry& e : entries_) n += e.set.size();
  return n;
}

SegmentSet MemoryBank::contents(int64_t current_images) const {
  SegmentSet out;
  if (entries_.empty()) return out;
  std::vector<Tensor> prototypes;
  std::vector<int32_t> label, image, region;
  std::vector<int64_t> tags;
  int64_t offset = current_images;
  for (const Entry& e : entries_) {
    prototypes.push_back(e.set.prototypes);
    for (int32_t v : values<int32_t>(e.set.label)) label.push_back(v);
    for (int32_t v : values<int32_t>(e.set.image))
      image.push_back(static_cast<int32_t>(v + offset));
    for (int32_t v : values<int32_t>(e.set.region)) region.push_back(v);
    for (int64_t v : values<int64_t>(e.set.tags)) tags.push_back(v);
    offset += e.num_images;
  }
  engine::Device device = prototypes.front().device();
  const int64_t s = static_cast<int64_t>(label.size());
  out.prototypes = engine::concat(prototypes, 0);
  out.label = Tensor::from_vector(label, {s}).to(device);
  out.image = Tensor::from_vector(image, {s}).to(device);
  out.region = Tensor::from_vector(region, {s}).to(device);
  out.tags = Tensor::from_vector(tags, {s}).to(device);
  return out;
}

std::map<std::string, Tensor> MemoryBank::state() const {
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    std::string p = "memory." + std::to_string(i) + ".";
    out[p + "prototypes"] = cpu_copy(e.set.prototypes);
    out[p + "label"] = e.set.label;
    out[p + "image"] = e.set.image;
    out[p + "region"] = e.set.region;
    out[p + "tags"] = e.set.tags;
    out[p + "num_images"] = Tensor::from_vector(std::vector<int64_t>{e.num_images}, {1});
  }
  return out;
}

void MemoryBank::load_state(const std::map<std::string, Tensor>& state, engine::Device device) {
  std::deque<Entry> loaded;
  for (int i = 0;; ++i) {
    std::string p = "memory." + std::to_string(i) + ".";
    auto get = [&](const char* name) -> const Tensor* {
      auto it = state.find(p + name);
      return it == state.end() ? nullptr : &it->second;
    };
    if (!get("prototypes")) break;
    for (const char* name : {"label", "image", "region", "tags", "num_images"})
      ENGINE_CHECK(get(name), "MemoryBank::load_state: '{}{}' missing from the checkpoint", p,
                   name);
    Entry e;
    e.set.prototypes = get("prototypes")->to(engine::DType::f32).to(device).clone();
    // Keys live on the CPU (contents() reads them on the host), wherever the state's are.
    e.set.label = cpu_copy(get("label")->to(engine::DType::i32));
    e.set.image = cpu_copy(get("image")->to(engine::DType::i32));
    e.set.region = cpu_copy(get("region")->to(engine::DType::i32));
    e.set.tags = cpu_copy(get("tags")->to(engine::DType::i64));
    int64_t s = e.set.prototypes.dim() == 2 ? e.set.prototypes.shape()[0] : -1;
    for (const Tensor* t : {&e.set.label, &e.set.image, &e.set.region, &e.set.tags})
      ENGINE_CHECK(t->dim() == 1 && t->numel() == s,
                   "MemoryBank::load_state: '{}*' keys {} do not match prototypes {}", p, t->desc(),
                   e.set.prototypes.desc());
    e.num_images = get("num_images")->to_vector<int64_t>().at(0);
    loaded.push_back(std::move(e));
  }
  ENGINE_CHECK(static_cast<int>(loaded.size()) <= capacity_,
               "MemoryBank::load_state: checkpoint holds {} batches, capacity is {}", loaded.size(),
               capacity_);
  entries_ = std::move(loaded);
}

}  // namespace spml
