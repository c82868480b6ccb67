// Internal to the CUDA backend: the caching device allocator behind cuda::alloc/free (Storage,
// cuDNN workspaces, scratch buffers) and the cached pinned host buffers.
//
// Device blocks: requests are rounded up to 512 B. Requests up to 1 MiB are carved from 2 MiB
// segments (the small pool); larger ones from segments rounded up to 2 MiB (the large pool).
// A free block is split when the rest is worth keeping and merged with free neighbours of its
// segment when freed. Each segment belongs to the stream it was allocated for, and a freed block
// is handed only to later requests on that stream: stream order then guarantees that work queued
// before the free has finished reading it. A block used on another stream must be synchronized
// with that stream before it is freed.
//
// When cudaMalloc fails the allocator returns every cached segment of the device to the driver
// and tries once more; then it throws engine::Error with the request and the statistics.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "engine/kernels/runtime.h"

namespace engine::cuda {

// A block of at least `nbytes` on `device` for use on `stream` (null: the device's compute
// stream).
void* allocator_alloc(size_t nbytes, int device, cudaStream_t stream = nullptr);
// Returns a block from allocator_alloc to the cache; unknown pointers are reported and ignored
// (this runs in destructors).
void allocator_free(void* p, int device);
// Bytes the allocator holds in cached (free) blocks of `device`.
size_t allocator_cached_bytes(int device);

// Device memory that lives for a scope (cuDNN workspaces, kernel scratch), from the allocator.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(size_t nbytes, int device);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }
  size_t size() const { return nbytes_; }

 private:
  void* ptr_ = nullptr;
  size_t nbytes_ = 0;
  int device_ = 0;
};

}  // namespace engine::cuda
