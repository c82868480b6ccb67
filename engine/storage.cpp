#include "engine/storage.h"

#include "engine/error.h"
#include "engine/kernels/memory.h"

namespace engine {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
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
  if (device_.is_cpu()) {
    cpu::free(data_);
  } else {
#ifdef ENGINE_WITH_CUDA
    cuda::free(data_, device_.index);
#endif
  }
}

}  // namespace engine
