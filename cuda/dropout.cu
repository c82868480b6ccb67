// CUDA dropout with the CPU's Philox stream: thread b draws counter block base + b and decides
// elements 4b..4b+3 (lane i % 4), so the mask equals the CPU's for the same (seed, base).
#include <cuda_runtime.h>

#include "cuda/launch.h"
#include "engine/kernels/dropout.h"

namespace engine::cuda {

namespace {

__global__ void dropout_philox_forward(const float* x, int64_t n, float p, float scale,
                                       uint64_t seed, uint64_t base, bool vec, float* out,
                                       uint8_t* mask) {
  int64_t blocks = (n + 3) / 4;
  for (int64_t b = global_thread(); b < blocks; b += grid_threads()) {
    Philox4 r = philox4x32_10(seed, base + uint64_t(b));
    int64_t i0 = b * 4;
    bool k0 = uint_to_unit(r.v[0]) > p, k1 = uint_to_unit(r.v[1]) > p;
    bool k2 = uint_to_unit(r.v[2]) > p, k3 = uint_to_unit(r.v[3]) > p;
    if (vec && i0 + 3 < n) {
      float4 v = __ldg(reinterpret_cast<const float4*>(x + i0));
      float4 o = make_float4(k0 ? v.x * scale : 0.0f, k1 ? v.y * scale : 0.0f,
                             k2 ? v.z * scale : 0.0f, k3 ? v.w * scale : 0.0f);
      reinterpret_cast<float4*>(out + i0)[0] = o;
      reinterpret_cast<uchar4*>(mask + i0)[0] =
          make_uchar4(k0 ? 1 : 0, k1 ? 1 : 0, k2 ? 1 : 0, k3 ? 1 : 0);
    } else {
      bool keep[4] = {k0, k1, k2, k3};
      for (int lane = 0; lane < 4 && i0 + lane < n; ++lane) {
        int64_t i = i0 + lane;
        mask[i] = keep[lane] ? 1 : 0;
        out[i] = keep[lane] ? x[i] * scale : 0.0f;
      }
    }
  }
}

}  // namespace

void dropout(const float* x, int64_t n, float p, float scale, uint64_t seed, uint64_t base,
             float* out, uint8_t* mask) {
  if (n == 0) return;
  // float4 / uchar4 accesses need 16- and 4-byte aligned bases.
  bool vec = aligned16(x) && aligned16(out) && (reinterpret_cast<uintptr_t>(mask) & 3u) == 0;
  int64_t blocks = (n + 3) / 4;
  dropout_philox_forward<<<grid_for(blocks), kBlock, 0, stream()>>>(x, n, p, scale, seed, base, vec,
                                                                    out, mask);
  ENGINE_CUDA_LAUNCH_CHECK();
}

}  // namespace engine::cuda
