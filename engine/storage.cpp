#include "engine/storage.h"

#include "engine/error.h"
#include "engine/kernels/memory.h"

namespace engine {

Storage::Storage(size_t nbytes, Device device, bool pinned) : nbytes_(nbytes), device_(device) {
  ENGINE_CHECK(!pinned || device.is_cpu(), "pinned memory is host memory; asked for it on {}",
               device.str());
#ifdef ENGINE_WITH_CUDA
  if (pinned && cuda::device_count() > 0) {
    data_ = cuda::alloc_pinned(nbytes);
    pinned_ = true;
    return;
  }
#endif
  if (device.is_cpu()) {
    data_ = cpu::alloc(nbytes);
  } else {
#ifdef ENGINE_WITH_CUDA
    data_ = cuda::alloc(nbytes, device.index);
#else
    ENGINE_THROW("cannot allocate {} bytes on {}: the engine was built without CUDA", nbytes,
                 device.str());
#endif
  }
}

Storage::~Storage() {
#ifdef ENGINE_WITH_CUDA
  if (pinned_) {
    cuda::free_pinned(data_);
    return;
  }
#endif
  if (device_.is_cpu()) {
    cpu::free(data_);
  } else {
#ifdef ENGINE_WITH_CUDA
    cuda::free(data_, device_.index);
#endif
  }
}

}  // namespace engine
