// A block of memory on one device; shared by every tensor view onto it.
#pragma once

#include <cstddef>
#include <memory>

#include "engine/device.h"

namespace engine {

class Storage {
 public:
  // Allocates nbytes on `device` (64-byte aligned on CPU). Contents are uninitialized.
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

}  // namespace engine
