// A block of memory on one device; shared by every tensor view onto it.
#pragma once

#include <cstddef>
#include <memory>

#include "engine/device.h"

namespace engine {

class Storage {
 public:
  // Allocates nbytes on `device` (64-byte aligned on CPU). Contents are uninitialized.
  // `pinned` (CPU only): page-locked host memory from the CUDA allocator's pinned cache, so that
  // host->device copies can run asynchronously; without a CUDA device it is ordinary memory
  // (there is nothing to copy to), and pinned() says which one was given.
  Storage(size_t nbytes, Device device, bool pinned = false);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool pinned() const { return pinned_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  bool pinned_ = false;
};

}  // namespace engine
