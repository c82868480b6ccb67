// Generator: a Philox key (seed) and a counter offset. Each draw of n values takes ceil(n / 4)
// counter blocks and advances the offset past them, so the same seed gives the same streams on
// CPU and CUDA. The state (seed, offset) is what checkpoints store. There is no global
// generator: seeds come from the run's config.
#pragma once

#include <cstdint>

namespace engine {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves the counter blocks for n values; returns the first block's counter.
  uint64_t reserve(int64_t n) {
    uint64_t base = offset_;
    offset_ += (uint64_t(n) + 3) / 4;
    return base;
  }
  // One uniform double in [0, 1) for host-side decisions (shuffles, crops).
  double next_double();
  // A uniform integer in [0, n).
  uint64_t next_below(uint64_t n);

 private:
  uint64_t seed_;
  uint64_t offset_;
};

}  // namespace engine
