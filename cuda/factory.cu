// CUDA fills for the random and range factories: every element's value comes from the shared
// fill_value_at (engine/kernels/factory.h), so a device draw equals the host draw for the same
// generator state.
#include <cuda_runtime.h>

#include "cuda/launch.h"
#include "engine/kernels/factory.h"

namespace engine::cuda {

namespace {

template <typename D>
__global__ void philox_fill_values(FillKind kind, uint64_t seed, uint64_t base, double a, double b,
                                   D* out, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    out[i] = convert_element<double, D>(fill_value_at(kind, seed, base, i, a, b));
}

}  // namespace

void fill_values(FillKind kind, uint64_t seed, uint64_t base, double a, double b, void* out,
                 DType dtype, int64_t n) {
  if (n == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using D = decltype(tag);
    philox_fill_values<D>
        <<<grid_for(n), kBlock, 0, stream()>>>(kind, seed, base, a, b, static_cast<D*>(out), n);
  });
  ENGINE_CUDA_LAUNCH_CHECK();
}

}  // namespace engine::cuda
