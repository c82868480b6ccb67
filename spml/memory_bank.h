// The memory bank (../shared/spec/spml.md §3): the segments of the last K batches (K = 2 for VOC,
// 0 for DensePose), detached, so that pixels also contrast against prototypes of earlier batches.
// Bank prototypes are constants, computed with the weights of their own step.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "engine/tensor.h"
#include "spml/segments.h"

namespace spml {

class MemoryBank {
 public:
  explicit MemoryBank(int capacity);  // batches kept; 0 = no memory

  // Stores a detached copy of a batch's segments (call after the optimizer step); the oldest
  // batch drops out beyond capacity. `num_images` = images in that batch. prototypes_loc is not
  // kept: the image-similarity relation uses only the current image's segments. Stored
  // prototypes on another device than the batch's (a bank restored with load_state elsewhere)
  // are moved to the batch's device, so that every entry shares one device.
  void push(const SegmentSet& batch, int64_t num_images);

  // Every stored segment, newest batch first, for a current batch of `current_images` images:
  // image ids are offset so that they never equal a current image id nor each other (newest
  // batch at current_images.., the next after it). Empty set (size 0) when nothing is stored.
  // Prototypes stay on the device they were pushed from.
  SegmentSet contents(int64_t current_images) const;

  int capacity() const { return capacity_; }
  int batches() const { return static_cast<int>(entries_.size()); }
  int64_t num_segments() const;
  void clear() { entries_.clear(); }

  // For checkpoints (exact resume): named CPU tensors ("memory.<i>.prototypes", ...) and back.
  std::map<std::string, engine::Tensor> state() const;
  // Prototypes are moved to `device`.
  void load_state(const std::map<std::string, engine::Tensor>& state,
                  engine::Device device = engine::Device::cpu());

 private:
  struct Entry {
    SegmentSet set;  // label/image/region/tags on the CPU, prototypes on their device
    int64_t num_images = 0;
  };
  int capacity_;
  std::deque<Entry> entries_;  // newest first
};

}  // namespace spml
